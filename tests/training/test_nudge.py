"""The corpus-side recipe (NUDGE-N): it moves reached passages only, within its bound, keeps the base when dev
sees no gain, and its run loads as an encoder, downloads with a table that applies, and trains from the CLI."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from test_adapter_selection import DEV, mislabelled
from test_adapter_training import TableEncoder

from explorer.cli import main
from explorer.core.errors import TrainingError
from explorer.data.model import Dataset, Passage
from explorer.encoders.cache import text_key
from explorer.encoders.nudged import NudgedEncoder
from explorer.training.config import TrainConfig
from explorer.training.nudge import NudgeConfig, nudge_n, train_nudge
from explorer.training.selection import SelectionResult

DIM, TOPICS = 16, 40


def clustered() -> tuple[Dataset, TableEncoder]:
    """Topic i: a centre c_i; its passage lies far from c_i, its 3 queries close to it; 40 unjudged distractors.

    Queries 0 and 1 of topics 0..29 train (their passage is reached), query 2 of every topic is a test query,
    and topics 30..39 have no training query at all: their passages must never move.
    """
    rng = np.random.default_rng(0)
    unit = lambda x: (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)  # noqa: E731
    centres = unit(rng.normal(size=(TOPICS, DIM)))
    passages = unit(centres + 0.9 * unit(rng.normal(size=(TOPICS, DIM))))
    vectors, queries, qrels, split = {}, {}, {}, {}
    corpus = {f"p{i}": Passage(f"p{i}", f"passage {i}") for i in range(TOPICS)}
    corpus |= {f"x{i}": Passage(f"x{i}", f"distractor {i}") for i in range(TOPICS)}
    vectors |= {f"passage {i}": passages[i] for i in range(TOPICS)}
    vectors |= {f"distractor {i}": v for i, v in enumerate(unit(centres + 0.8 * unit(rng.normal(size=(TOPICS, DIM)))))}
    for i in range(TOPICS):
        for j in range(3):
            qid = f"q{i}-{j}"
            queries[qid], qrels[qid] = f"query {i} {j}", {f"p{i}": 1}
            vectors[f"query {i} {j}"] = unit(centres[i] + 0.3 * unit(rng.normal(size=DIM)))
            split[qid] = "test" if j == 2 else "train" if i < 30 else "unused"
    qrels = {q: r for q, r in qrels.items() if split[q] != "unused"}
    queries = {q: t for q, t in queries.items() if q in qrels}
    split = {q: s for q, s in split.items() if q in qrels}
    return Dataset("clustered", queries, corpus, qrels, split).validate(), TableEncoder(vectors)


@pytest.fixture(scope="module")
def trained():
    ds, base = clustered()
    return ds, base, train_nudge(ds, base, NudgeConfig(dev_fraction=0.25))


def test_the_update_stays_on_the_sphere_within_its_bound_and_leaves_unreached_rows():
    rng = np.random.default_rng(1)
    d = rng.normal(size=(30, 8))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    g = rng.normal(size=(30, 8))
    g[:5] = 0.0  # reached by no query
    for gamma in (0.02, 0.2, 1.0):
        out = nudge_n(d, g, gamma)
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
        assert (((out - d) ** 2).sum(1) <= gamma + 1e-5).all()
        np.testing.assert_allclose(out[:5], d[:5], atol=1e-6)
        toward = ((out * g).sum(1) >= (d * g).sum(1) - 1e-6) | ((d * g).sum(1) < 0)
        assert toward.all()  # never further from its queries (rows pointing away stay, as in the reference)


def test_the_update_is_the_reference_implementations():
    nudge = pytest.importorskip("nudge")
    import contextlib
    import io

    import torch

    rng = np.random.default_rng(2)
    d = rng.normal(size=(40, 12)).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    q = rng.normal(size=(25, 12)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    answers = [[int(rng.integers(0, 15))] for _ in range(25)]
    g = np.zeros_like(d, dtype=np.float64)
    for i, (a,) in enumerate(answers):
        g[a] += q[i]
    for gamma in (0.04, 0.3):
        with contextlib.redirect_stdout(io.StringIO()):  # the reference prints its stages
            ref = nudge.NUDGEN(device=torch.device("cpu")).finetune_embeddings(
                d, {"q_embs": q, "q_ans_indx": answers}, {"q_embs": q[:4], "q_ans_indx": answers[:4]}, gamma=gamma)
        np.testing.assert_allclose(nudge_n(d, g, gamma), ref, atol=1e-5)


def test_only_reached_passages_move_within_the_chosen_bound_and_queries_never(trained):
    ds, base, nudged = trained
    meta = nudged.metadata
    selection = SelectionResult.from_dict(meta["selection"])
    assert selection.gain and selection.chosen_step > 0 and meta["gamma"] == meta["gammas"][selection.chosen_step - 1]
    train = [q for q in ds.query_ids("train") if q not in set(selection_dev(ds))]
    reached = {ds.corpus[p].full_text for q in train for p in ds.positives(q)}
    assert 0 < meta["moved_passages"] == len(nudged.keys) <= meta["reached_passages"] == len(reached)
    assert set(nudged.keys) <= {text_key(t) for t in reached}
    texts = ds.passage_texts()
    before, after = base.encode(texts, "passage"), nudged.encode(texts, "passage")
    moved = np.flatnonzero(np.abs(after - before).max(1) > 0)
    assert {texts[i] for i in moved} <= reached and len(moved) == meta["moved_passages"]
    assert (((after - before) ** 2).sum(1) <= meta["gamma"] + 1e-5).all()
    assert {f"passage {i}" for i in range(30, TOPICS)}.isdisjoint(texts[i] for i in moved)
    query_texts = list(ds.queries.values())
    np.testing.assert_array_equal(nudged.encode(query_texts, "query"), base.encode(query_texts, "query"))


def selection_dev(ds: Dataset) -> list[str]:
    from explorer.training.selection import dev_split

    return dev_split(ds.query_ids("train"), 0.25, seed=0)[1]


def test_no_gain_on_dev_keeps_the_base_vectors_and_says_so():
    ds, base = mislabelled()
    nudged = train_nudge(ds, base, NudgeConfig(), dev_ids=DEV)
    selection = SelectionResult.from_dict(nudged.metadata["selection"])
    assert selection.gain is False and selection.chosen_step == 0 and nudged.metadata["gamma"] == 0.0
    assert nudged.keys == [] and "the base model is kept" in selection.summary()
    assert nudged.kind_fingerprint("passage") == base.kind_fingerprint("passage")  # the base's index stays valid
    texts = ds.passage_texts()
    np.testing.assert_array_equal(nudged.encode(texts, "passage"), base.encode(texts, "passage"))
    last = train_nudge(ds, base, NudgeConfig(keep_best=False), dev_ids=DEV)
    assert last.metadata["gamma"] == 0.48 and last.keys  # "keep the last point anyway" ships the largest bound


def test_save_and_load_round_trip(trained, tmp_path):
    ds, base, nudged = trained
    nudged.save(tmp_path / "nudge")
    again = NudgedEncoder.load(tmp_path / "nudge", base)
    texts = ds.passage_texts()
    np.testing.assert_array_equal(again.encode(texts, "passage"), nudged.encode(texts, "passage"))
    assert again.fingerprint == nudged.fingerprint and again.metadata["gamma"] == nudged.metadata["gamma"]
    assert again.kind_fingerprint("query") == base.kind_fingerprint("query") != again.kind_fingerprint("passage")


@pytest.mark.parametrize(("options", "message"), [
    ({"gamma": 5}, "NUDGE setting out of range: gamma must be in (0, 2]"),
    ({"gamma": "big"}, "NUDGE setting out of range: gamma must be in (0, 2]"),
    ({"grid": 0}, "grid must be a whole number from 1 to 200"),
    ({"bogus": 1}, "Unknown NUDGE option(s) bogus; known:"),
])
def test_bad_options_are_one_line_messages(options, message):
    with pytest.raises(TrainingError) as info:
        TrainConfig(method="nudge", nudge=options).validate()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_run_loads_as_an_encoder_and_downloads_a_table_that_applies(tiny_data, tmp_path):
    from explorer.encoders.registry import load_encoder
    from explorer.jobs.execute import execute_run
    from explorer.jobs.packaging import package
    from explorer.jobs.runs import RunStore

    config = TrainConfig(method="nudge", base_model="fake", keep="last").validate(tiny_data).resolve(tiny_data)
    assert config.use_hard_negatives is False and config.is_resolved
    run = execute_run(tiny_data, config, run_store=RunStore(tmp_path / "runs"))
    evaluation = run.evaluation()
    assert evaluation["nudge"]["gamma"] == 0.48 and evaluation["nudge"]["moved_passages"] > 0
    assert [p["part"] for p in evaluation["novelty"]["parts"]] == ["all", "new", "seen"]
    encoder = load_encoder(str(run.path))
    assert isinstance(encoder, NudgedEncoder) and run.artifact_dir.name == "nudge"
    texts = tiny_data.passage_texts()
    base = encoder.base.encode(texts, "passage")
    nudged = encoder.encode(texts, "passage")
    assert 0 < int((np.abs(nudged - base).max(1) > 0).sum()) <= evaluation["nudge"]["moved_passages"]

    with zipfile.ZipFile(package(run)) as zf:
        names = set(zf.namelist())
        assert {"nudge/nudge.safetensors", "nudge/nudge.json", "nudge/apply_nudge.py", "nudge/README.md"} <= names
        card = zf.read("nudge/README.md").decode()
        zf.extractall(tmp_path / "download")
    assert "NUDGE-N" in card and "fake" in card and "help only passages that training queries reached" in card
    snippet = {"__file__": str(tmp_path / "download" / "nudge" / "apply_nudge.py")}
    exec(compile((tmp_path / "download" / "nudge" / "apply_nudge.py").read_text(), "apply_nudge.py", "exec"), snippet)
    np.testing.assert_array_equal(snippet["apply"](texts, base), nudged)


def test_a_nudge_run_reads_as_one():
    from explorer.pipeline.names import describe_run

    assert describe_run({"method": "nudge", "base_model": "minilm"}).startswith("MiniLM + NUDGE")


def test_the_card_of_an_api_base_names_model_and_endpoint():
    from explorer.jobs.modelcard import model_card

    config = {"method": "nudge", "base_model": "openai:my-embedder?base_url=http://127.0.0.1:7997/v1", "seed": 42}
    card = model_card(config, {"nudge": {"gamma": 0.1, "moved_passages": 7, "reached_passages": 9}}, kind="nudge",
                      folder="nudge")
    assert "my-embedder (embeddings API at http://127.0.0.1:7997/v1)" in card
    assert "7 of the 9 passages" in card and "apply_nudge.py" in card and "| loss |" not in card


def test_cli_method_nudge(tiny_beir, tmp_path, capsys):
    out = tmp_path / "nudge-run"
    assert main(["train", "--data", tiny_beir, "--model", "fake", "--method", "nudge", "--nudge-gamma", "0.2",
                 "--keep", "last", "--out", str(out), "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)  # nothing but the JSON on stdout
    assert evaluation["nudge"]["gamma"] == 0.2 and (out / "nudge" / "nudge.json").is_file()
    assert json.loads((out / "config.json").read_text())["nudge"] == {"gamma": 0.2}
    assert main(["evaluate", "--data", tiny_beir, "--model", str(out), "--out", str(tmp_path / "eval.json")]) == 0
    again = json.loads((tmp_path / "eval.json").read_text())
    assert again["ndcg@10"] == pytest.approx(evaluation["tuned"]["ndcg@10"], abs=1e-6)  # the run, as an encoder
    capsys.readouterr()
    assert main(["train", "--data", tiny_beir, "--model", "fake", "--method", "nudge", "--nudge-gamma", "5",
                 "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "error: NUDGE setting out of range: gamma must be in (0, 2]")
    assert main(["train", "--data", tiny_beir, "--model", "fake", "--method", "adapter", "--nudge-gamma", "0.1",
                 "--out", str(tmp_path / "bad2")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --nudge-gamma applies to --method nudge only; add --method nudge or drop it.")


@pytest.mark.model
def test_nudge_over_the_bundled_model_on_the_demo(tmp_path):
    """The real path: MiniLM's (shipped) demo vectors, a whole run, its tuned evaluation and its novelty split."""
    from explorer.data.demo import load_demo
    from explorer.jobs.execute import execute_run
    from explorer.jobs.runs import RunStore

    ds = load_demo()
    config = TrainConfig(method="nudge", base_model="minilm").validate(ds).resolve(ds)
    run = execute_run(ds, config, run_store=RunStore(tmp_path / "runs"))
    ev = run.evaluation()
    selection = SelectionResult.from_dict(ev["selection"])
    assert selection.dev_queries >= 30 and selection.best_value is not None
    chosen = next(p["value"] for p in selection.curve if p["step"] == selection.chosen_step)
    assert chosen >= selection.base_value  # never worse on dev: the base is a candidate
    parts = {p["part"]: p for p in ev["novelty"]["parts"]}
    if ev["nudge"]["gamma"] == 0:
        assert ev["tuned"]["ndcg@10"] == pytest.approx(ev["baseline"]["ndcg@10"])
    else:  # it helps where training reached (on new passages only the moved ones' crowding can change a rank)
        assert parts["seen"]["n_queries"] and parts["seen"]["delta"] > 0 and parts["new"]["n_queries"]
        assert 0 < ev["nudge"]["moved_passages"] <= ev["nudge"]["reached_passages"]


def test_nudge_over_an_api_model_trains_offline_after_one_pass(tiny_data, tmp_path, httpserver):
    """Over an OpenAI-compatible endpoint: one embedding pass, then the run, its encoder and its card reuse it."""
    from explorer.encoders.registry import load_encoder
    from explorer.jobs.execute import execute_run
    from explorer.jobs.packaging import package
    from explorer.jobs.runs import RunStore
    from tests.encoders.openai_server import serve

    handler = serve(httpserver, dim=8)
    url = httpserver.url_for("/v1")
    config = TrainConfig(method="nudge", base_model=f"openai:m?base_url={url}", keep="last").resolve(tiny_data)
    run = execute_run(tiny_data, config, run_store=RunStore(tmp_path / "runs"))
    assert run.evaluation()["nudge"]["moved_passages"] > 0
    sent = len(handler.requests)
    encoder = load_encoder(str(run.path))
    assert isinstance(encoder, NudgedEncoder)
    encoder.encode(tiny_data.passage_texts(), "passage")
    encoder.encode(list(tiny_data.queries.values()), "query")
    assert len(handler.requests) == sent, "every vector comes from the cache of the one embedding pass"
    with zipfile.ZipFile(package(run)) as zf:
        card = zf.read("nudge/README.md").decode()
    assert f"m (embeddings API at {url})" in card
