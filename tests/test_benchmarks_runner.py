"""``python -m benchmarks``: on a bf16 CPU each benchmark also runs without bf16, into its own result file."""

from __future__ import annotations

import json
import sys
import types

import pytest

import benchmarks.__main__ as runner
import benchmarks.common as common


@pytest.fixture
def fake_benchmark(monkeypatch, tmp_path):
    """A benchmark named ``fake`` that records the EXPLORER_BF16 it saw; results go to tmp_path."""
    seen = []
    module = types.ModuleType("benchmarks.bench_fake")
    module.run = lambda ctx: seen.append(runner.os.environ.get("EXPLORER_BF16")) or {"summary": {"ok": True}}
    monkeypatch.setitem(sys.modules, "benchmarks.bench_fake", module)
    monkeypatch.setattr(runner, "ORDER", ("fake",))
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    # The runner sets EXPLORER_BF16 itself for --bf16 off: set it here first, so monkeypatch removes it again
    # afterwards (a bare delenv of an unset variable records nothing to restore, and "0" leaked into every
    # later test: on a bf16 CPU, tests of the automatic choice then saw it forced off).
    monkeypatch.setenv("EXPLORER_BF16", "auto")
    monkeypatch.delenv("EXPLORER_BF16")
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EXPLORER_HOME", str(tmp_path / "home"))  # the runner sets it; put it back afterwards
    return seen, module


@pytest.mark.parametrize(("bf16_cpu", "mode", "second_run", "file"), [
    (True, "both", True, "fake.json"), (True, "off", False, "fake.no_bf16.json"),
    (False, "both", False, "fake.json"), (True, "auto", False, "fake.json")])
def test_bf16_modes(fake_benchmark, monkeypatch, tmp_path, bf16_cpu, mode, second_run, file):
    seen, _ = fake_benchmark
    monkeypatch.setattr("explorer.encoders.hardware.cpu_supports_bf16", lambda: bf16_cpu)
    again = []
    monkeypatch.setattr(runner, "_run_without_bf16", lambda name, args: again.append(name) or 0)
    assert runner.main(["fake", "--bf16", mode]) == 0
    assert again == (["fake"] if second_run else [])
    result = json.loads((tmp_path / file).read_text())
    assert result["bf16_mode"] == {"cpu_has_bf16": bf16_cpu, "EXPLORER_BF16": "0" if mode == "off" else "auto"}
    assert seen == (["0"] if mode == "off" else [None])


def test_a_benchmark_that_compares_both_paths_runs_once(fake_benchmark, monkeypatch):
    _, module = fake_benchmark
    module.COMPARES_BF16 = True
    monkeypatch.setattr("explorer.encoders.hardware.cpu_supports_bf16", lambda: True)
    again = []
    monkeypatch.setattr(runner, "_run_without_bf16", lambda name, args: again.append(name) or 0)
    assert runner.main(["fake"]) == 0 and again == []
