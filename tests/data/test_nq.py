"""Natural Questions (simplified format): long answers as positives, other candidates as near misses."""

from __future__ import annotations

import gzip

import pytest

from data_builders import GOOD_NQ as GOOD
from data_builders import LONG, example, lines
from explorer.data.nq import clean_tokens, load_nq
from explorer.data.validation import stable_id
from explorer.core.errors import DataError

def test_long_answers_are_positives_and_other_candidates_near_misses(tmp_path):
    path = tmp_path / "nq-sample.jsonl"
    path.write_bytes(GOOD)
    ds = load_nq(path, test_fraction=0.34)
    assert ds.name == "nq-sample"
    assert set(ds.queries) == {"1", "2", "4"}
    assert ds.notes == {"examples without a long answer (skipped)": 1, "candidates under 8 words (skipped)": 1}
    answer = stable_id("p", f"the answer {LONG}")
    assert ds.qrels["1"] == {answer: 1}
    assert ds.corpus[answer].text == f"the answer {LONG}"  # tags gone
    assert ds.hard_negative_candidates["1"] == [stable_id("p", f"other para {LONG}"), stable_id("p", f"third para {LONG}")]
    # The same paragraph on two pages is one passage: q4's positive is q1's positive.
    assert ds.qrels["4"] == {answer: 1} and ds.hard_negative_candidates["4"] == [stable_id("p", f"place {LONG}")]
    assert len(ds.query_ids("test")) == 1


def test_gzip_bytes_cap_and_limit():
    data = gzip.compress(GOOD)
    ds = load_nq(data, name="nq.jsonl.gz", max_candidates=1)
    assert ds.hard_negative_candidates["1"] == [stable_id("p", f"other para {LONG}")]
    assert ds.notes["candidates over 1 per page (skipped)"] == 1
    assert len(load_nq(GOOD, name="x.jsonl", max_examples=2).queries) == 2


def test_clean_tokens_drops_tags_and_collapses_space():
    assert clean_tokens(["<Table>", "<Tr>", "a", "", "b", "</Tr>", "x<y"]) == "a b x<y"


def _with(drop: str = "", **changes) -> bytes:
    record = example(5, "what is it", [f"a {LONG}", f"b {LONG}"])
    record.update(changes)
    record.pop(drop, None)
    return GOOD + lines(record)


BAD = {
    "not json": (GOOD + b"{oops\n", r"x.jsonl: line 5 is not valid JSON"),
    "missing fields": (_with(drop="annotations"),
                       r"x.jsonl: line 5 lacks 'annotations' \(found keys: .*document_text"),
    "empty question": (_with(question_text="  "), r"line 5, question_text has an empty text"),
    "candidates not a list": (_with(long_answer_candidates={"a": 1}), r"line 5: long_answer_candidates and annotations must be lists"),
    "span outside page": (_with(long_answer_candidates=[{"start_token": 3, "end_token": 9999, "top_level": True}]),
                          r"line 5, long_answer_candidates\[0\] spans tokens 3..9999, outside the page"),
    "span not integers": (_with(long_answer_candidates=[{"start_token": "3", "end_token": 5}]),
                          r"line 5, long_answer_candidates\[0\] has start_token '3' and end_token 5; expected integers"),
    "annotation without long answer": (_with(annotations=[{"short_answers": []}]), r"line 5, annotation 0 has no long_answer"),
    "repeated id": (_with(example_id=1), r"line 5 repeats example_id 1 with a different question"),
    "original format": (lines({"question_text": "q", "document_tokens": []}), r"original NQ format"),
    "no long answers at all": (lines(example(1, "q", [LONG], answer=None), example(2, "r", [LONG], answer=None)),
                               r"none of its 2 examples has an annotated long answer"),
    "one usable example": (lines(example(1, "q", [f"a {LONG}"]), example(2, "r", [LONG], answer=None)),
                           r"has only 1 query with a relevant passage"),
    "empty file": (b"\n", r"x.jsonl is empty"),
    "not utf-8": (GOOD + b'{"question_text": "\xff"}\n', r"x.jsonl: line 5 \(byte offset \d+\) is not valid UTF-8"),
}


@pytest.mark.parametrize("payload, message", BAD.values(), ids=BAD.keys())
def test_malformed_nq_files_are_rejected_with_the_line(payload, message):
    with pytest.raises(DataError, match=message):
        load_nq(payload, name="x.jsonl")


def test_size_limit_applies_to_the_file():
    with pytest.raises(DataError, match=r"x.jsonl is .* over the"):
        load_nq(GOOD, name="x.jsonl", max_bytes=100)
