"""Label words load as integer grades (ESCI, relevant/partially/not, yes/no); the mapping is guessed, chosen
and recorded; a label-like column left unused is named; product columns become the passage text."""

from __future__ import annotations

import pandas as pd
import pytest

from explorer.core.errors import DataError
from explorer.data.columns import guess_columns
from explorer.data.labels import ESCI, parse_grades
from explorer.data.loaders import load_table
from tests.data.data_builders import esci_rows, write_esci_csv


def _grades_by_label(ds, rows) -> dict[str, set[int]]:
    """Label word -> the grades its rows got."""
    found: dict[str, set[int]] = {}
    for row in rows:
        found.setdefault(row["esci_label"], set()).add(ds.qrels[row["query_id"]][row["product_id"]])
    return found


def test_an_esci_table_loads_with_the_paper_gains_and_product_text(tmp_path):
    path = write_esci_csv(tmp_path / "esci.csv")
    cols = guess_columns(pd.read_csv(path, dtype=str, keep_default_na=False))
    assert (cols.query, cols.passage, cols.title, cols.label, cols.query_id, cols.passage_id) == (
        "query", "product_description", "product_title", "esci_label", "query_id", "product_id")
    ds = load_table(path)
    rows = esci_rows()
    assert _grades_by_label(ds, rows) == {"Exact": {100}, "Substitute": {10}, "Complement": {1}, "Irrelevant": {0}}
    irrelevant = {r["product_id"] for r in rows if r["esci_label"] == "Irrelevant"}
    assert not any(p in irrelevant for q in ds.query_ids() for p in ds.positives(q))
    assert dict(ds.grading.words) == {"Exact": 100, "Substitute": 10, "Complement": 1, "Irrelevant": 0}
    assert ds.grading.describe().startswith("column 'esci_label': Exact=100, Substitute=10, Complement=1, Irrelevant=0 (the ESCI default")
    assert ds.record()["grading"]["words"]["Exact"] == 100
    # title + description joined; a product with no description is its title
    assert ds.corpus["B00000"].full_text == "Acme running shoes deluxe. A acme running shoes deluxe made for everyday use."
    assert ds.corpus["B00002"].full_text == "Cleaning kit for running shoes"


def test_letters_and_chosen_grades(tmp_path):
    path = write_esci_csv(tmp_path / "esci.csv", labels=("E", "S", "C", "I"))
    ds = load_table(path)
    assert _grades_by_label(ds, esci_rows(("E", "S", "C", "I"))) == {"E": {100}, "S": {10}, "C": {1}, "I": {0}}
    # a partial choice: the words named take the chosen grades, the rest keep the default table's
    chosen = load_table(path, {"grades": "e=3, s=2"})
    assert _grades_by_label(chosen, esci_rows(("E", "S", "C", "I"))) == {"E": {3}, "S": {2}, "C": {1}, "I": {0}}
    full = load_table(path, {"grades": {"E": 3, "S": 2, "C": 1, "I": 0}})
    assert full.grading.table == "chosen" and "(chosen)" in full.grading.describe()


@pytest.mark.parametrize(("words", "grades"), [
    (("relevant", "Partially relevant", "not relevant", "not_relevant"), (2, 1, 0, 0)),
    (("relevant", "partially", "not", "irrelevant"), (2, 1, 0, 0)),
    (("yes", "yes", "no", "no"), (1, 1, 0, 0)),
    (("true", "True", "false", "FALSE"), (1, 1, 0, 0)),
])
def test_other_label_words(words, grades):
    rows = [{"question": f"q{i}", "text": f"passage {i} {k}", "judgement": w}
            for i in range(4) for k, w in enumerate(words)]
    ds = load_table(pd.DataFrame(rows), name="words")
    got = sorted({(r["judgement"], ds.qrels[_qid(ds, r["question"])][_pid(ds, r["text"])]) for r in rows})
    assert got == sorted(set(zip(words, grades)))


def _qid(ds, text):
    return next(q for q, t in ds.queries.items() if t == text)


def _pid(ds, text):
    return next(p for p, x in ds.corpus.items() if x.text == text)


def test_an_unknown_word_is_a_one_line_message_naming_the_flag_and_the_control(tmp_path):
    rows = esci_rows(("Exact", "Great", "Meh", "Irrelevant"))
    with pytest.raises(DataError) as info:
        load_table(pd.DataFrame(rows), name="shop.csv")
    message = str(info.value)
    assert "\n" not in message
    assert "column 'esci_label' has label words with no grade (Great, Meh; words found: Exact, Great, Irrelevant, Meh)" in message
    assert '--label-grades "Great=1,Meh=1"' in message and "'Label grades' box of the column mapping" in message
    # the fix the message names works
    ds = load_table(pd.DataFrame(rows), {"grades": "Great=5, Meh=2"})
    assert dict(ds.grading.words) == {"Exact": 100, "Great": 5, "Meh": 2, "Irrelevant": 0}


def test_a_label_column_left_unused_is_named_not_silent():
    rows = esci_rows()
    ds = load_table(pd.DataFrame(rows), {"label": None}, name="esci")
    assert ds.grading.column is None and all(g == 1 for j in ds.qrels.values() for g in j.values())
    (note, count), = ds.notes.items()
    assert count == len(rows) and "column 'esci_label' looks like relevance labels" in note and "--label-col esci_label" in note
    # a label column with a name nobody guesses is found by its words
    renamed = [{**{k: v for k, v in r.items() if k != "esci_label"}, "verdict": r["esci_label"]} for r in rows]
    assert load_table(pd.DataFrame(renamed)).grading.column == "verdict"


def test_grades_stay_integers_and_bad_grade_text_is_refused():
    assert parse_grades("Exact=100, Substitute=10") == {"Exact": 100, "Substitute": 10}
    for bad in ("Exact", "Exact=1.5", "Exact=-1", "=3"):
        with pytest.raises(DataError, match="is not WORD=GRADE with a whole number >= 0"):
            parse_grades(bad)
    assert all(isinstance(g, int) for g in ESCI.values())


def test_a_yes_no_flag_is_not_taken_for_labels_but_is_named():
    rows = [{"query": f"q{i}", "passage": f"p{i} {k}", "in_stock": ("yes", "no")[k]} for i in range(4) for k in range(2)]
    ds = load_table(pd.DataFrame(rows), name="shop")
    assert ds.grading.column is None and any("'in_stock' looks like relevance labels" in n for n in ds.notes)
