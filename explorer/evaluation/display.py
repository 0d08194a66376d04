"""How numbers read on screen, in the CLI and in the model card: one rule for p-values and missing values.

A p-value below 0.001 reads "< 0.001" (three decimals would round it to a false "0.000"); a missing value
(None, NaN) is blank, never "None" or "nan".
"""

from __future__ import annotations

import math
from typing import Any

P_FLOOR = 0.001
"""The smallest p-value written as a number; smaller ones read ``< 0.001``."""


def is_missing(value: Any) -> bool:
    """None, or a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def p_value_text(p: Any) -> str:
    """``"< 0.001"`` below :data:`P_FLOOR`, three decimals otherwise, blank when missing."""
    if is_missing(p):
        return ""
    return f"< {P_FLOOR:g}" if float(p) < P_FLOOR else f"{float(p):.3f}"


def value_text(value: Any, digits: int = 3, signed: bool = False) -> str:
    """A number with ``digits`` decimals (with its sign when ``signed``), blank when missing; other values
    as ``str``."""
    if is_missing(value):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{float(value):{'+' if signed else ''}.{digits}f}"
    return str(value)
