"""Hugging Face hub pair datasets, tested offline: in-memory datasets, local files, unreachable hub."""

from __future__ import annotations

import pytest

datasets = pytest.importorskip("datasets")

from explorer.data.hub import load_hub  # noqa: E402
from explorer.data.validation import stable_id  # noqa: E402
from explorer.errors import DataError  # noqa: E402

ROWS = {
    "anchor": ["how do cats purr", "why do dogs bark", "what is tea", "how do cats purr"],
    "positive": ["Cats purr with their larynx.", "Dogs bark to communicate.", "Tea is a drink.", "Purring is a vibration."],
    "negative": ["Dogs bark to communicate.", "Cats purr with their larynx.", "Coffee is a drink.", ""],
}


def test_in_memory_triplets_become_pairs_with_hard_negative_candidates():
    ds = load_hub(datasets.Dataset.from_dict(ROWS), name="triplets")
    cats = stable_id("q", "how do cats purr")
    assert len(ds.queries) == 3 and len(ds.corpus) == 5
    assert ds.qrels[cats] == {stable_id("p", "Cats purr with their larynx."): 1, stable_id("p", "Purring is a vibration."): 1}
    assert ds.hard_negative_candidates[cats] == [stable_id("p", "Dogs bark to communicate.")]
    assert ds.name == "triplets" and ds.source == "datasets.Dataset"


def test_dataset_dict_split_and_max_rows():
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(ROWS)})
    assert len(load_hub(dd, max_rows=2).queries) == 2
    with pytest.raises(DataError, match=r"no split 'dev'; it has train"):
        load_hub(dd, split="dev")


def test_local_file_of_the_same_shape(tmp_path):
    path = tmp_path / "nq-pairs.parquet"
    datasets.Dataset.from_dict({"query": ["a b", "c d"], "answer": ["x", "y"]}).to_parquet(str(path))
    ds = load_hub(f"hf:{path}")
    assert ds.name == "nq-pairs" and len(ds.query_ids()) == 2


def test_unreachable_hub_says_upload_instead(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'x/y' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"^could not reach the Hugging Face hub for x/y \(ConnectionError\); upload the file instead"):
        load_hub("hf:x/y")


def test_unknown_dataset_and_bad_split(monkeypatch):
    def missing(*args, **kwargs):
        raise datasets.exceptions.DatasetNotFoundError("nope")

    monkeypatch.setattr(datasets, "load_dataset", missing)
    with pytest.raises(DataError, match=r"'x/y' was not found \(or is private or gated\)"):
        load_hub("hf:x/y")

    def bad_split(*args, **kwargs):
        raise ValueError('Unknown split "dev". Should be one of [\'train\'].')

    monkeypatch.setattr(datasets, "load_dataset", bad_split)
    with pytest.raises(DataError, match=r"Unknown split \"dev\".*pick an existing split"):
        load_hub("hf:x/y", split="dev")


def test_real_offline_call_fails_fast_with_the_message(monkeypatch):
    # conftest sets HF_HUB_OFFLINE=1, so the real datasets.load_dataset fails at once.
    with pytest.raises(DataError, match=r"could not reach the Hugging Face hub for sentence-transformers/natural-questions"):
        load_hub("hf:sentence-transformers/natural-questions")


def test_hub_table_without_usable_columns():
    with pytest.raises(DataError, match=r"the dataset: no query column found \(columns found: foo, bar"):
        load_hub(datasets.Dataset.from_dict({"foo": ["a"], "bar": ["b"]}))
