"""Hugging Face hub pair datasets, tested offline: in-memory datasets, local files, unreachable hub."""

from __future__ import annotations

import pytest

datasets = pytest.importorskip("datasets")

from explorer.data.hub import load_hub  # noqa: E402
from explorer.data.loaders import load_dataset  # noqa: E402
from explorer.data.validation import stable_id  # noqa: E402
from explorer.core.errors import DataError  # noqa: E402

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
    ds = load_dataset(f"hf:{path}")
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


# ------------------------------------------------------------------------------------ hub downloads
def _fake_hub(monkeypatch, size: int, n_rows: int = 1000):
    """The hub's metadata call and a streaming load_dataset, offline, with the real return shapes."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import DatasetInfo

    calls: dict = {"info": [], "load": [], "yielded": 0}

    def dataset_info(self, repo_id, *, files_metadata=False, token=None, **kwargs):
        calls["info"].append({"repo_id": repo_id, "files_metadata": files_metadata, "token": token})
        return DatasetInfo(id=repo_id, private=False, downloads=0, likes=0, tags=[], sha="0" * 40, siblings=[
            {"rfilename": "README.md", "size": 5_000},
            {"rfilename": "pair/train-00000-of-00001.parquet", "size": size},
        ])

    def rows():
        for i in range(n_rows):
            calls["yielded"] += 1
            yield {"anchor": f"question {i} about things", "positive": f"answer {i} about things"}

    def load_dataset(path, name=None, *, split=None, streaming=False, token=None, **kwargs):
        calls["load"].append({"path": path, "name": name, "split": split, "streaming": streaming, "token": token})
        return datasets.IterableDataset.from_generator(rows)

    monkeypatch.setattr(HfApi, "dataset_info", dataset_info)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_public_hub_request_checks_the_size_first_and_refuses_a_large_dataset(monkeypatch):
    from explorer.data.limits import Limits

    calls = _fake_hub(monkeypatch, size=3 * 1024**3)
    with pytest.raises(DataError, match=r"holds 3\.0 GB of data files, over the 50\.0 MB this server downloads"):
        load_hub("hf:big/triplets", local_files=False, limits=Limits(max_unpacked_bytes=50 * 1024 * 1024))
    assert calls["info"] and calls["info"][0]["files_metadata"] is True
    assert calls["load"] == [], "nothing may be downloaded once the metadata says it is too large"


def test_public_hub_request_streams_capped_rows_and_never_uses_the_owners_token(monkeypatch):
    from explorer.data.limits import Limits

    monkeypatch.setenv("HF_TOKEN", "hf_owner_secret")
    calls = _fake_hub(monkeypatch, size=10 * 1024 * 1024, n_rows=5000)
    ds = load_hub("hf:small/pairs:pair", local_files=False, limits=Limits(max_queries=60, max_passages=60))
    assert calls["info"][0]["token"] is False and calls["load"][0]["token"] is False
    assert calls["load"][0]["streaming"] is True and calls["load"][0]["name"] == "pair"
    assert len(ds.queries) == 60 and calls["yielded"] <= 62, "only the capped rows are read from the stream"
    assert ds.notes["rows after the first 60 (not loaded)"] == 1
