"""One column mapping for every command: each command that loads data takes ``data stats``' mapping flags, and
``train`` with no flags on an ESCI-shaped table grades its word labels by the ESCI default and says so."""

from __future__ import annotations

import json

import pytest

from explorer.cli import build_parser, main
from tests.data.data_builders import esci_rows, write_esci_csv

MAPPING_FLAGS = {"--data", "--query-col", "--passage-col", "--label-col", "--query-id-col", "--passage-id-col",
                 "--title-col", "--negative-col", "--label-grades"}
VERDICTS = (("good", 2), ("ok", 1), ("bad", 0))


def _commands(parser, prefix=()):
    """(command words, parser) of every leaf command."""
    sub = next((a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"), None)
    if sub is None:
        yield prefix, parser
        return
    for name, child in sub.choices.items():
        yield from _commands(child, (*prefix, name))


def test_every_command_that_loads_data_takes_the_same_mapping_flags():
    loading = {words: p for words, p in _commands(build_parser())
               if any("--data" in a.option_strings for a in p._actions)}
    assert set(loading) >= {("data", "stats"), ("evaluate",), ("compare",), ("negatives",), ("train",)}
    for words, p in loading.items():
        flags = {s for a in p._actions for s in a.option_strings}
        assert MAPPING_FLAGS <= flags, (words, MAPPING_FLAGS - flags)


@pytest.fixture
def odd_table(tmp_path):
    """A table no column name gives away, with label words no default table knows."""
    lines = ["ask,reply,verdict,heading"]
    topics = ("solar panels", "coffee beans", "guitar strings", "chess openings", "bread dough", "ocean tides")
    for t, topic in enumerate(topics):
        for i in range(2):
            for word, _ in VERDICTS:
                lines.append(f"how do {topic} work {i},{word} answer about {topic} {i} number {t},{word},{topic}")
    path = tmp_path / "odd.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


MAPPING = ["--query-col", "ask", "--passage-col", "reply", "--label-col", "verdict", "--title-col", "heading",
           "--label-grades", "good=2,ok=1,bad=0"]


@pytest.mark.parametrize("command", [
    ["data", "stats", "--json"],
    ["evaluate", "--model", "fake"],
    ["compare", "--a", "fake", "--b", "fake:32"],
    ["negatives", "--model", "fake", "--out", "{tmp}/negs.jsonl"],
    ["train", "--model", "fake", "--method", "adapter", "--epochs", "1", "--no-hard-negatives", "--out", "{tmp}/run"],
], ids=lambda c: " ".join(c[:2]))
def test_each_data_loading_command_runs_with_the_mapping_flags(command, odd_table, tmp_path, capsys):
    argv = [*(c.format(tmp=tmp_path) for c in command), "--data", str(odd_table), *MAPPING]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "labels: column 'verdict': good=2, ok=1, bad=0 (chosen)" in captured.err
    if command[0] == "data":
        assert json.loads(captured.out)["grades"] == {"0": 12, "1": 12, "2": 12}


def test_an_unknown_label_word_without_the_flag_is_a_one_line_error(odd_table, capsys):
    assert main(["data", "stats", "--data", str(odd_table), "--query-col", "ask", "--passage-col", "reply",
                 "--label-col", "verdict"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: odd.csv: column 'verdict' has label words with no grade")
    assert "words found: bad, good, ok" in err and "--label-grades" in err


def test_train_with_no_flags_on_an_esci_table(tmp_path, capsys, monkeypatch):
    """``python -m explorer train`` on word labels and product columns: ESCI grades, shown on stderr, recorded in
    the run's config and its model card; the Irrelevant products are judged, never relevant."""
    from explorer import pipeline
    from explorer.jobs.modelcard import model_card

    trained = []
    real_train = pipeline.train
    monkeypatch.setattr(pipeline, "train", lambda settings, dataset, *a, **kw: trained.append(dataset) or real_train(settings, dataset, *a, **kw))
    path = write_esci_csv(tmp_path / "esci.csv")
    out = tmp_path / "run"
    code = main(["train", "--data", str(path), "--model", "fake", "--method", "adapter", "--epochs", "1",
                 "--no-hard-negatives", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    shown = "column 'esci_label': Exact=100, Substitute=10, Complement=1, Irrelevant=0 (the ESCI default"
    assert f"labels: {shown}" in captured.err
    (dataset,) = trained
    for row in esci_rows():
        grade = dataset.qrels[row["query_id"]][row["product_id"]]
        assert grade == {"Exact": 100, "Substitute": 10, "Complement": 1, "Irrelevant": 0}[row["esci_label"]]
        assert (row["product_id"] in dataset.positives(row["query_id"])) == (row["esci_label"] != "Irrelevant")
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"]["grading"]["words"] == {"Exact": 100, "Substitute": 10, "Complement": 1, "Irrelevant": 0}
    assert f"Labels were read as grades: {shown}" in model_card(config, None)
