"""Fixtures of the UI tests: the fake encoder, a tiny dataset file, and a workspace with a finished run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOPICS = {
    "vaccine": "immune system antibodies vaccine injection protection virus",
    "solar": "solar panels sunlight electricity photovoltaic energy roof",
    "coffee": "coffee beans roasting espresso caffeine brew cup",
    "python": "python programming language code functions interpreter",
    "ocean": "ocean tides waves salt water marine currents",
    "bread": "bread flour yeast dough baking oven crust",
    "guitar": "guitar strings chords music frets playing",
    "rain": "rain clouds weather storm precipitation umbrella",
    "chess": "chess board pieces king queen checkmate strategy",
    "mars": "mars planet rover red surface space exploration",
    "bees": "bees honey hive pollen flowers colony",
    "bikes": "bicycle wheels pedals cycling gears chain",
}


def write_tiny_csv(path: Path, seed: int = 0) -> Path:
    """A table of (query, passage, label) rows: 3 queries per topic, each with two graded passages."""
    rng = random.Random(seed)
    lines = ["query,passage,label"]
    for topic, words in TOPICS.items():
        vocab = words.split()
        for i in range(3):
            query = f"what about {topic} {rng.choice(vocab)} question {i}"
            for grade in (2, 1):
                passage = " ".join(rng.choice(vocab) for _ in range(12)) + f" {topic} note {i}{grade}"
                lines.append(f'"{query}","{passage}",{grade}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def fake_env(monkeypatch):
    """Every UI test uses the fast deterministic encoder and never reaches a model hub."""
    monkeypatch.setenv("EXPLORER_ENCODER", "fake")
    monkeypatch.chdir(ROOT)


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    """A small CSV dataset file."""
    return write_tiny_csv(tmp_path / "tiny.csv")


def app(default_timeout: float = 60):
    """A fresh AppTest of the whole multipage app."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=default_timeout)


def change_dataset(at):
    """Open the Data page's "Change the dataset" picker (collapsed once a dataset is loaded), as a click does."""
    at.session_state["data_change"] = True
    return at.run()


def problems(at) -> list[str]:
    """Exceptions and error elements a run produced (empty when the page rendered cleanly)."""
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def make_finished_run(ws, dataset, seed: int = 1, stored: bool = True) -> str:
    """A succeeded adapter run written by hand (a random near-identity adapter over the fake encoder).

    Stands in for training so page tests stay fast; it has the files a real run has (config.json,
    status.json, adapter/, evaluation.json, results.npz) and loads through the encoder registry like one.
    With ``stored`` False it is a run folder from before results were stored: evaluation.json holds metric
    summaries only, and no results file.
    """
    import numpy as np

    from explorer import pipeline
    from explorer.encoders.adapter import AdapterEncoder
    from explorer.training.config import TrainConfig
    from explorer.jobs.runs import RunStore

    base = pipeline.load_encoder("minilm")
    dim = base.encode(["probe"], "query").shape[1]
    rng = np.random.default_rng(seed)
    weights = np.eye(dim, dtype=np.float32) + 0.3 * rng.standard_normal((dim, dim)).astype(np.float32)
    run = RunStore(ws.settings.runs_dir).create(TrainConfig(method="adapter", epochs=1), dataset, state="running")
    with run.artifact_writer("adapter") as folder:
        AdapterEncoder(base, weights).save(folder, base_spec="minilm")
    if stored:  # what a real run's evaluation step writes, from both models' results
        from explorer.evaluation.retrieval import evaluate_encoder
        from explorer.jobs.steps import evaluation_record

        results = [evaluate_encoder(dataset, enc) for enc in (base, pipeline.load_encoder(str(run.path)))]
        run.write_evaluation(evaluation_record(dataset, *results, 0.0, None, run.path))
    else:  # an older run folder: production's evaluation.json, without stored per-query results
        run.write_evaluation({"split": "test", "baseline": {"ndcg@10": 0.5, "n_queries": 2},
                              "tuned": {"ndcg@10": 0.6, "n_queries": 2}, "comparison": {}})
    run.set_status("succeeded")
    return run.id


@pytest.fixture
def workspace_with_run(tiny_csv):
    """The local workspace holding the tiny dataset and one finished run."""
    from explorer import pipeline
    from explorer.workspace import DatasetChoice, open_workspace

    ws = open_workspace()
    choice = DatasetChoice(spec=str(tiny_csv), name="tiny")
    ws.set_dataset_choice(choice)
    run_id = make_finished_run(ws, pipeline.load_dataset(choice))
    return ws, run_id
