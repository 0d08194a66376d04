"""Cost growth with corpus size: SciFact's queries over its 5,183 abstracts plus seeded distractor passages.

``python -m benchmarks scale --bf16 auto`` builds BEIR folders of N passages (:func:`make_corpus`) and, for
each size and encoder, runs one fresh child process (``python -m benchmarks.bench_scale --child ...``) that
times, one after the other: load, baseline encode (cold cache), evaluation (vectors cached), the Search index
(the corpus' vectors written to a file, which the app does once the corpus is embedded), mining hard negatives,
one adapter epoch, a latent projection (PCA of up to 20,000 passages) and two Search queries (the first one opens
the index). Peak RSS is of the child's whole process tree (psutil, sampled every 50 ms), per step and overall.
With the fake encoder it also times ``python -m explorer evaluate`` cold, in a process of its own (load, encode,
top 100, metrics: the issue's first measurement).

Sizes: the fake encoder at 10k / 50k / 100k / 200k (everything but the model), the real MiniLM at
``BENCH_SCALE_REAL`` sizes (default 10k; ``--quick``: 10k fake and real only). Distractors are sentences of
the corpus recombined with a fixed seed, so they read like abstracts but are judged relevant to no query.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FAKE_SIZES = (10_000, 50_000, 100_000, 200_000)
REAL_SIZES = tuple(int(s) for s in os.environ.get("BENCH_SCALE_REAL", "10000").split(",") if s)
STEPS = ("load", "sample_first", "encode", "evaluate", "index", "mining", "adapter", "latent", "search_first", "search")


def make_corpus(scifact: Path, n_passages: int, out: Path, seed: int = 13) -> Path:
    """A BEIR folder at ``out``: SciFact's queries and qrels, its corpus, and distractors up to ``n_passages``.

    Each distractor is 3 to 7 sentences drawn (seeded) from the whole corpus, under a title made of another
    abstract's title words. Returns ``out``.
    """
    out.mkdir(parents=True, exist_ok=True)
    lines = (scifact / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines if line.strip()]
    sentences = [s for d in docs for s in re.split(r"(?<=[.!?])\s+", d.get("text", "")) if len(s) > 20]
    titles = [d.get("title", "") for d in docs]
    rng = random.Random(seed)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for line in lines[:n_passages]:
            fh.write(line + "\n")
        for i in range(max(0, n_passages - len(docs))):
            words = rng.choice(titles).split()
            rng.shuffle(words)
            text = " ".join(rng.choice(sentences) for _ in range(rng.randint(3, 7)))
            fh.write(json.dumps({"_id": f"distractor-{i}", "title": " ".join(words), "text": text}) + "\n")
    shutil.copy(scifact / "queries.jsonl", out / "queries.jsonl")
    shutil.copytree(scifact / "qrels", out / "qrels", dirs_exist_ok=True)
    return out


class TreePeak:
    """Peak RSS (MB) of a process (this one by default) and all its children, sampled every ``every`` seconds in a
    thread."""

    def __init__(self, every: float = 0.05, pid: int | None = None) -> None:
        import psutil

        self._proc, self.every, self.peak = psutil.Process(pid), every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def rss(self) -> float:
        total = 0
        try:
            family = [self._proc, *self._proc.children(recursive=True)]
        except Exception:  # noqa: BLE001 - the process itself just exited
            return 0.0
        for p in family:
            try:
                total += p.memory_info().rss
            except Exception:  # noqa: BLE001 - a child that just exited
                continue
        return total / 2**20

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> "TreePeak":
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def _child(folder: Path, encoder_spec: str) -> dict[str, Any]:
    """Every step once on the corpus at ``folder`` (run in a fresh process: EXPLORER_HOME is a new folder)."""
    from explorer import pipeline
    from explorer.core.memory import releasing_memory
    from explorer.data.loaders import load_dataset
    from explorer.store.vectors import VectorStore
    from explorer.training.adapter import AdapterConfig, train_adapter

    steps: dict[str, dict[str, float]] = {}
    keep: dict[str, Any] = {}

    def step(name: str, fn: Any) -> Any:
        with TreePeak() as mem:
            t = time.perf_counter()
            value = fn()
            seconds = time.perf_counter() - t
        steps[name] = {"seconds": round(seconds, 2), "peak_rss_mb": round(mem.peak)}
        print(f"   {name}: {seconds:.1f} s, peak {mem.peak:.0f} MB", file=sys.stderr, flush=True)
        return value

    with TreePeak() as whole:
        started = time.perf_counter()
        ds = step("load", lambda: load_dataset(str(folder), name=folder.name))
        enc = pipeline.load_encoder(encoder_spec)
        pids = list(ds.corpus)
        # What the Metrics page shows first when the whole encode is long: the cost estimate (a throughput probe),
        # then the baseline on a sample (every test query, its judged passages, others drawn at random).
        sampled = step("sample_first", lambda: _sample_first(ds, enc))
        keep["sample_ndcg"], keep["sample_passages"] = sampled
        step("encode", lambda: enc.encode(ds.passage_texts(pids), "passage"))
        result = step("evaluate", lambda: pipeline.evaluate(ds, enc))
        keep["ndcg"] = float(result.metrics.get("ndcg@10", float("nan"))) if hasattr(result, "metrics") else None
        store = VectorStore()
        # What the app does in the background once the corpus is embedded (pipeline.index_soon), timed alone here.
        step("index", lambda: store.ensure_index(ds, enc))
        step("mining", lambda: pipeline.negatives(ds, enc))
        # A training job hands its freed memory back when it ends (explorer/jobs/manager.py), as here.
        step("adapter", lambda: releasing_memory(train_adapter)(ds, enc, AdapterConfig(epochs=1)))
        step("latent", lambda: pipeline.projection(ds, enc, None, method="pca", max_passages=20_000))
        step("search_first", lambda: pipeline.search(ds, enc, "vitamin D and bone fractures", store=store))
        step("search", lambda: pipeline.search(ds, enc, "tumour suppressor genes in mice", store=store))
        total = time.perf_counter() - started
    return {"passages": len(pids), "queries": len(ds.queries), "steps": steps, "total_seconds": round(total, 1),
            "peak_rss_mb": round(whole.peak), "ndcg@10": keep["ndcg"], "sample_ndcg@10": keep["sample_ndcg"],
            "sample_passages": keep["sample_passages"]}


def _sample_first(ds: Any, enc: Any) -> tuple[float | None, int]:
    """(NDCG@10 on the sample, its passages): the cost estimate, then the baseline on the sample."""
    from explorer import pipeline
    from explorer.pipeline.cost import encoding_cost, first_sample

    sample = first_sample(ds, encoding_cost(ds, enc), after_seconds=0)
    if sample is None:
        return None, 0
    result = pipeline.evaluate(sample, enc)
    return float(result.metrics.get("ndcg@10", float("nan"))), len(sample.corpus)


def _measure(folder: Path, encoder: str, home: Path) -> dict[str, Any]:
    env = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_MAX_PASSAGES": "1000000",
           "EXPLORER_MAX_UPLOAD_MB": "4000", "EXPLORER_MAX_UNPACKED_MB": "8000"}
    env.pop("EXPLORER_ENCODER", None)
    cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--child", str(folder), "--encoder", encoder]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    sys.stderr.write(done.stderr[-3000:])
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli_evaluate(folder: Path, encoder: str, home: Path) -> dict[str, Any]:
    """``python -m explorer evaluate`` on the corpus at ``folder``, cold: seconds and the peak RSS of its process
    tree (the issue's first measurement, with the fake encoder: load, encode, exact top 100, ranx metrics)."""
    env = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_MAX_PASSAGES": "1000000",
           "EXPLORER_MAX_UPLOAD_MB": "4000", "EXPLORER_MAX_UNPACKED_MB": "8000"}
    cmd = [sys.executable, "-m", "explorer", "evaluate", "--data", str(folder), "--model", encoder]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    with TreePeak(pid=proc.pid) as mem:
        _, err = proc.communicate()
    seconds = time.perf_counter() - started
    shutil.rmtree(home, ignore_errors=True)
    if proc.returncode:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"}
    print(f"   cli evaluate: {seconds:.1f} s, peak {mem.peak:.0f} MB", flush=True)
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(mem.peak)}


def run(ctx: Any) -> dict[str, Any]:
    """The benchmark entry of ``python -m benchmarks scale``."""
    from benchmarks.common import machine_info, write_result

    scifact = ctx.need_scifact()
    fake_sizes = FAKE_SIZES[:1] if ctx.quick else FAKE_SIZES
    real_sizes = REAL_SIZES[:1] if ctx.quick else REAL_SIZES
    rows: list[dict[str, Any]] = []
    earlier = _earlier_rows()  # read before this run's partial results replace the file
    with tempfile.TemporaryDirectory(prefix="scale_") as tmp:
        for n in sorted(set(fake_sizes) | set(real_sizes)):
            folder = make_corpus(scifact, n, Path(tmp) / f"scifact_{n}")
            for encoder, sizes in (("fake", fake_sizes), ("minilm", real_sizes)):
                if n not in sizes:
                    continue
                print(f"   {encoder} at {n:,} passages", flush=True)
                home = Path(tmp) / f"home_{encoder}_{n}"
                rows.append({"encoder": encoder, "size": n, **_measure(folder, encoder, home)})
                shutil.rmtree(home, ignore_errors=True)
                if encoder == "fake":
                    rows[-1]["cli_evaluate"] = _cli_evaluate(folder, encoder, Path(tmp) / f"cli_{n}")
                write_result(_result_name(), {"rows": rows, "partial": True})  # kept if a later size is stopped
            shutil.rmtree(folder, ignore_errors=True)
    measured = {(r["encoder"], r["size"]) for r in rows}
    rows += [r for r in earlier if (r.get("encoder"), r.get("size")) not in measured]
    summary = {f"{r['encoder']}@{r['size']}": (r.get("error") or
                                               f"{r['total_seconds']} s, {r['peak_rss_mb']} MB peak")
               for r in rows}
    return {"machine": machine_info(), "rows": rows, "summary": summary,
            "note": "one fresh process per (encoder, size); cold embedding cache; steps in order " + ", ".join(STEPS)}


def _result_name() -> str:
    """The results file this run writes: ``scale``, or ``scale.no_bf16`` on a bf16 CPU with ``EXPLORER_BF16=0``."""
    from explorer.encoders.hardware import cpu_supports_bf16

    return "scale.no_bf16" if os.environ.get("EXPLORER_BF16") == "0" and cpu_supports_bf16() else "scale"


def _earlier_rows() -> list[dict[str, Any]]:
    """Rows of the last complete results file, each marked ``from_earlier_run`` with the date it was measured;
    :func:`run` keeps those of the (encoder, size) pairs it does not measure again (a real 100k row takes 40
    minutes)."""
    from benchmarks.common import RESULTS

    try:
        earlier = json.loads((RESULTS / f"{_result_name()}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    when = earlier.get("machine", {}).get("date") or earlier.get("machine", {}).get("time") or "an earlier run"
    return [] if "partial" in earlier else [{**r, "from_earlier_run": r.get("from_earlier_run") or when}
                                           for r in earlier.get("rows", [])]


def _main() -> int:
    parser = argparse.ArgumentParser(description="one size of the scale benchmark, in this process")
    parser.add_argument("--child", type=Path, required=True)
    parser.add_argument("--encoder", default="fake")
    args = parser.parse_args()
    print(json.dumps(_child(args.child, args.encoder)))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
