"""Faults the tool must survive with a clear message: a full disk, a runs folder that cannot exist, an
upload folder that cannot be written, an embedding cache that cannot be written."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from explorer.core.config import get_settings
from explorer.data.model import Dataset, Passage
from explorer.core.errors import StorageError
from explorer.training.config import TrainConfig
from explorer.jobs.runs import RunStore, write_json_atomic


def _dataset() -> Dataset:
    corpus = {f"p{i}": Passage(f"p{i}", f"passage number {i} about topic {i % 3}") for i in range(6)}
    queries = {f"q{i}": f"topic {i % 3}" for i in range(4)}
    qrels = {f"q{i}": {f"p{i}": 1} for i in range(4)}
    split = {"q0": "train", "q1": "train", "q2": "test", "q3": "test"}
    return Dataset("faults", queries, corpus, qrels, split).validate()


def test_disk_full_while_writing_a_run_file_is_a_clear_storage_error(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(StorageError, match="No space left on device") as info:
        write_json_atomic(tmp_path / "status.json", {"state": "running"})
    assert "not full" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no half-written temp file left behind


def test_runs_folder_that_cannot_be_created_is_a_storage_error(tmp_path):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs folder should be")
    with pytest.raises(StorageError, match="Cannot"):
        RunStore(blocker).create(TrainConfig(method="adapter", base_model="fake"), _dataset())


def test_upload_folder_that_cannot_be_written_is_a_storage_error(monkeypatch, tmp_path):
    from explorer.pipeline.data import save_upload

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "uploads").write_text("not a folder")
    with pytest.raises(StorageError, match=r"Cannot write \S*pairs\.csv"):
        save_upload("pairs.csv", b"query,passage\na,b\n", settings)


def test_embedding_cache_that_cannot_be_written_only_costs_a_re_embed(tmp_path):
    from explorer.encoders.fake import FakeEncoder

    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    encoder = FakeEncoder(dim=16, cache_dir=blocker)
    vectors = encoder.encode(["a red shoe", "a blue shoe"])
    assert vectors.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
