"""``torchrun --nproc_per_node=2 -m explorer train``: two CPU ranks (gloo) train one model; rank 0 writes the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.training import distributed


def test_rank_helpers_without_torchrun(monkeypatch):
    for var in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(var, raising=False)
    assert (distributed.world_size(), distributed.rank(), distributed.is_distributed()) == (1, 0, False)
    assert distributed.is_main_process() and distributed.broadcast({"a": 1}) == {"a": 1}
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    assert distributed.is_distributed() and not distributed.is_main_process()


def test_torchrun_two_processes(tiny_beir, tiny_model_dir, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    out = tmp_path / "runs" / "ddp-run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", "-m", "explorer", "train", "--data", tiny_beir,
         "--model", tiny_model_dir, "--epochs", "1", "--batch-size", "4", "--eval-every-steps", "0",
         "--min-positive-grade", "1", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "[rank 1/2] trained its share of every batch" in proc.stderr
    assert "[rank 0/2] data-parallel training over 2 processes" in proc.stderr
    assert proc.stdout.count("ndcg@10") == 1  # only rank 0 prints the report
    assert json.loads((out / "status.json").read_text())["state"] == "succeeded"
    assert (out / "model" / "modules.json").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["ddp-run"]  # one run folder, nothing from rank 1
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # 24 pairs (grade 1 and up), 4 per rank per step, 2 ranks: 3 steps (a single process would take 6)
    assert max(line["total_steps"] for line in lines if line["phase"] == "training") == 3
    # The same kind of run folder as a single-process run of the same command.
    single = tmp_path / "runs" / "single-run"
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "train", "--data", tiny_beir, "--model", tiny_model_dir, "--epochs", "1",
         "--batch-size", "4", "--eval-every-steps", "0", "--min-positive-grade", "1", "--out", str(single)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    def layout(folder: Path) -> set[str]:
        return {str(p.relative_to(folder)) for p in folder.rglob("*")}

    assert layout(out) == layout(single)
    for name in ("config.json", "evaluation.json"):
        assert json.loads((out / name).read_text()).keys() == json.loads((single / name).read_text()).keys()
