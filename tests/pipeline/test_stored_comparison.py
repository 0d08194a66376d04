"""A run's stored results rebuild the comparison the encoders compute, for any pair; older runs fall back."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from explorer import pipeline
from explorer.evaluation.compare import compare_encoders
from explorer.training.config import TrainConfig
from explorer.jobs.execute import execute_run
from explorer.jobs.runs import RunStore
from explorer.workspace import open_workspace
from tests.training.conftest import tiny_dataset


def _never() -> None:
    raise AssertionError("an encoder was loaded although the results are stored")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A workspace with two adapter runs over the fake encoder on the tiny dataset: (ws, dataset, run A, run B)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("EXPLORER_HOME", str(tmp_path_factory.mktemp("home")))
    ws = open_workspace()
    dataset = tiny_dataset()
    store = RunStore(ws.settings.runs_dir)
    runs = [execute_run(dataset, TrainConfig(method="adapter", base_model="fake", seed=seed, adapter={"epochs": 2}).resolve(dataset),
                        run_store=store) for seed in (1, 2)]
    yield ws, dataset, runs[0], runs[1]
    mp.undo()


def _plain(result):
    """A result without its wall time (the one field a recomputation never repeats)."""
    return result.metrics, result.per_query, result.run, result.n_queries


def _assert_same(got, expected) -> None:
    assert _plain(got.result_a) == _plain(expected.result_a) and _plain(got.result_b) == _plain(expected.result_b)
    assert {m: c.to_dict() for m, c in got.metrics.items()} == {m: c.to_dict() for m, c in expected.metrics.items()}
    assert got.counts == expected.counts and got.mean_rbo == expected.mean_rbo
    pd.testing.assert_frame_equal(got.per_query, expected.per_query)
    assert (got.name_a, got.name_b) == (expected.name_a, expected.name_b)


def test_run_folder_keeps_results_readable_by_old_and_new_readers(two_runs):
    ws, dataset, run_a, _ = two_runs
    evaluation = json.loads((run_a.path / "evaluation.json").read_text())
    stored = pipeline.run_results(ws, run_a.id)
    assert stored is not None and stored.dataset_fingerprint == dataset.fingerprint() and stored.split == "test"
    assert evaluation["stored"]["file"] == "results.npz" and evaluation["stored"]["k"] == stored.k
    for side in ("baseline", "tuned"):  # the flat metric summaries older code reads are unchanged
        assert evaluation[side]["ndcg@10"] == stored.results[side].metrics["ndcg@10"]
        assert evaluation[side]["n_queries"] == stored.results[side].n_queries == 4
    assert pipeline.base_model_name(ws, run_a.id, spec="fake") == "fake"
    assert pipeline.base_model_name(ws, run_a.id, spec="minilm") is None  # not the pages' baseline: never named so
    info = next(r for r in pipeline.list_runs(ws) if r.id == run_a.id)
    assert info.metrics_after["ndcg@10"] == stored.results["tuned"].metrics["ndcg@10"]


@pytest.mark.parametrize("pair", ["baseline-b", "a-b", "b-a"])
def test_stored_comparison_equals_the_computed_one(two_runs, pair):
    ws, dataset, run_a, run_b = two_runs
    a, b = {"baseline-b": (pipeline.BASELINE, run_b.id), "a-b": (run_a.id, run_b.id), "b-a": (run_b.id, run_a.id)}[pair]
    sides = pipeline.stored_pair(ws, dataset.fingerprint(), a, b, baseline_model="fake")
    assert all(sides)
    got = pipeline.pair_comparison(dataset, sides, encoder_a=_never, encoder_b=_never, names=("A", "B"))
    spec_a = "fake" if a == pipeline.BASELINE else str(pipeline.run_folder(ws, a))
    expected = compare_encoders(dataset, pipeline.load_encoder(spec_a),
                                pipeline.load_encoder(str(pipeline.run_folder(ws, b))))
    expected.name_a, expected.name_b = "A", "B"
    _assert_same(got, expected)
    top_a, top_b = got.ranked_lists(dataset.query_ids("test")[0], k=5)
    assert len(top_a) == len(top_b) == 5


def test_what_is_not_stored_for_this_data_is_computed(two_runs, tmp_path):
    ws, dataset, run_a, run_b = two_runs
    fp = dataset.fingerprint()
    assert pipeline.stored_pair(ws, "another-dataset", pipeline.BASELINE, run_b.id) == (None, None)
    assert pipeline.stored_pair(ws, fp, run_a.id, run_b.id, split="train") == (None, None)
    # The baseline stands for the pages' baseline only when the run was trained from that base model.
    base_side, b_side = pipeline.stored_pair(ws, fp, pipeline.BASELINE, run_b.id, baseline_model="minilm")
    assert base_side is None and b_side is not None
    loaded = []

    def base() -> object:
        loaded.append("A")
        return pipeline.load_encoder("fake")

    got = pipeline.pair_comparison(dataset, (base_side, b_side), encoder_a=base, encoder_b=_never)
    assert loaded == ["A"]
    expected = compare_encoders(dataset, pipeline.load_encoder("fake"),
                                pipeline.load_encoder(str(pipeline.run_folder(ws, run_b.id))))
    expected.name_a, expected.name_b = "A", "B"
    _assert_same(got, expected)


def test_older_and_damaged_run_folders_fall_back(two_runs, tmp_path):
    import shutil

    ws, dataset, _, run_b = two_runs
    # An older run folder: the same run without the results file and the evaluation.json entry naming it.
    old = RunStore(ws.settings.runs_dir).root / "old-run"
    shutil.copytree(run_b.path, old)
    (old / "results.npz").unlink()
    evaluation = json.loads((old / "evaluation.json").read_text())
    del evaluation["stored"]
    (old / "evaluation.json").write_text(json.dumps(evaluation))
    assert pipeline.stored_results(old) is None
    assert pipeline.stored_pair(ws, dataset.fingerprint(), pipeline.BASELINE, "old-run") == (None, None)
    # A damaged file counts as missing when read.
    damaged = RunStore(ws.settings.runs_dir).root / "damaged-run"
    shutil.copytree(run_b.path, damaged)
    (damaged / "results.npz").write_bytes(b"garbage")
    assert pipeline.stored_results(damaged) is None
    sides = pipeline.stored_pair(ws, dataset.fingerprint(), pipeline.BASELINE, "damaged-run")
    assert all(sides)  # found by its entry, refused on reading
    encoders = {"A": lambda: pipeline.load_encoder("fake"), "B": lambda: pipeline.load_encoder(str(damaged))}
    got = pipeline.pair_comparison(dataset, sides, encoder_a=encoders["A"], encoder_b=encoders["B"])
    assert _plain(got.result_b) == _plain(pipeline.run_results(ws, run_b.id).results["tuned"])
