"""What encoding a dataset will cost on this machine, said before it runs.

:func:`encoding_cost` counts the texts a baseline evaluation will embed that the embedding cache does not hold
yet (every passage and query), and turns them into seconds, memory and disk:

- seconds: from this encoder's throughput on this CPU, in characters per second (each text counted up to
  :data:`CHARS_CAP` characters, about what a small model reads before it truncates), measured once on a small
  sample of the dataset's own passages (:func:`throughput`) and remembered in ``throughput.json`` in the
  embedding cache folder, keyed by the encoder's fingerprint, the CPU and the bfloat16 setting;
- memory: the vectors of the whole corpus and the queries as the evaluation holds them (the array plus the
  cache's in-memory copy), not the model;
- disk: the cache shards the new vectors will take.

Hand-written: a few lines of arithmetic over one measurement; no library estimates this. The encoding's
progress (:class:`explorer.core.progress.Rate`) refines the estimate while it runs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.core.memory import releasing_memory
from explorer.core.progress import clock_text
from explorer.core.storage import read_json, write_json_atomic

if TYPE_CHECKING:  # pragma: no cover
    from explorer.data.model import Dataset
    from explorer.encoders.base import Encoder

CHARS_CAP = 1500
"""Characters of one text that count towards its cost (MiniLM truncates at 256 tokens, about 1,000-1,500)."""
SAMPLE_TEXTS = 48
"""Passages timed to measure a throughput (a second or two of a small model on 2 CPU cores)."""
CACHE_BYTES_PER_VECTOR_EXTRA = 250
"""Bytes per vector beyond its floats in memory (key, dict slot, array object; as the embedding cache counts)."""
DISK_BYTES_PER_VECTOR_EXTRA = 170
"""Bytes per vector beyond its floats in a cache shard (the 40-character key stored as UTF-32, plus zip)."""
THROUGHPUT_FILE = "throughput.json"
SAMPLE_SECONDS = 20.0
"""About how long the sample shown first takes to embed here: its size follows from the measured throughput."""
SAMPLE_PASSAGES = (500, 5000)
"""The fewest and the most passages in that sample (the judged ones of every test query, then others drawn at
random, seeded): fewer than the fewest would leave too few distractors to rank against."""


@dataclass(frozen=True)
class EncodingCost:
    """The cost of embedding a dataset's texts with one encoder.

    Attributes:
        model: the encoder's display name.
        texts: distinct texts an evaluation embeds (passages and queries).
        to_encode: those not in the embedding cache yet (the work left).
        seconds: estimated time of that work on this machine; None for an API model (not measured: a
            measurement would be a paid request, and the time depends on the provider).
        chars_per_second: the measured throughput behind ``seconds`` (None with it).
        memory_bytes: the vectors held while evaluating (all texts, cached ones included).
        disk_bytes: the cache shards the new vectors add.
    """

    model: str
    texts: int
    to_encode: int
    seconds: float | None
    chars_per_second: float | None
    memory_bytes: int
    disk_bytes: int

    def describe(self) -> str:
        """One line: ``minilm: 12,345 of 20,000 texts to embed, about 2:31 on this machine; memory ~62 MB
        for the vectors, 23 MB of disk for the cache.``"""
        if self.to_encode == 0:
            return f"{self.model}: all {self.texts:,} texts are embedded already (cached); nothing to encode."
        when = ("time set by the API provider" if self.seconds is None
                else f"about {clock_text(self.seconds)} on this machine")
        return (f"{self.model}: {self.to_encode:,} of {self.texts:,} texts to embed, {when}; memory ~{_mb(self.memory_bytes)} for the vectors, "
                f"{_mb(self.disk_bytes)} of disk for the cache.")


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n / 1024:,.0f} KB"


def _cost_chars(texts: list[str]) -> int:
    return sum(min(len(t), CHARS_CAP) for t in texts)


def _machine_key(encoder: "Encoder") -> str:
    """The encoder, the CPU (model name and cores) and the bfloat16 setting: what a throughput depends on."""
    from explorer.encoders.hardware import read_cpuinfo

    cpu = next((line.split(":", 1)[1].strip() for line in (read_cpuinfo() or "").splitlines()
                if line.startswith("model name")), "unknown CPU")
    return f"{encoder.fingerprint}|{cpu}|{os.cpu_count()} cores|bf16={os.environ.get('EXPLORER_BF16', 'auto')}"


def throughput(encoder: "Encoder", sample: list[str], cache_root: Path | None) -> tuple[float, int]:
    """(characters per second, embedding size) of ``encoder`` on this machine.

    Read from ``cache_root/throughput.json`` when measured before; else ``sample`` (the first
    :data:`SAMPLE_TEXTS`) is embedded once without the cache, after a two-text warm-up, and the result kept.
    """
    key = _machine_key(encoder)
    path = Path(cache_root) / THROUGHPUT_FILE if cache_root is not None else None
    known = (read_json(path, {}) or {}) if path is not None else {}
    if key in known:
        return float(known[key]["chars_per_second"]), int(known[key]["dim"])
    texts = list(sample[:SAMPLE_TEXTS]) or ["a short probe text"]
    encoder.encode(texts[:2], use_cache=False)
    started = time.perf_counter()
    vectors = encoder.encode(texts, use_cache=False)
    rate = _cost_chars(texts) / max(time.perf_counter() - started, 1e-6)
    if path is not None:
        try:
            write_json_atomic(path, {**known, key: {"chars_per_second": rate, "dim": int(vectors.shape[1])}})
        except OSError:
            pass  # a read-only cache only costs measuring again
    return rate, int(vectors.shape[1])


@releasing_memory
def encoding_cost(dataset: "Dataset", encoder: "Encoder", split: str | None = "test") -> EncodingCost:
    """What a baseline evaluation of ``dataset`` with ``encoder`` will cost here (see the module's docstring):
    every passage and the queries of ``split`` (None: all queries, as mining and training add the train ones).

    Measures the throughput on the dataset's first passages when this machine has not measured this encoder
    yet (a second or two), else only counts what the cache lacks.
    """
    from explorer.encoders.cache import EmbeddingCache, text_key

    sides = {"passage": dataset.passage_texts(), "query": [dataset.queries[q] for q in dataset.query_ids(split)]}
    distinct: dict[str, dict[str, str]] = {kind: {text_key(t): t for t in texts} for kind, texts in sides.items()}
    left: list[str] = []
    for kind, texts in distinct.items():
        if encoder.cache_dir is None:
            left.extend(texts.values())
            continue
        missing = EmbeddingCache(encoder.cache_dir / encoder.kind_fingerprint(kind)).missing(list(texts))  # type: ignore[arg-type]
        left.extend(texts[k] for k in missing)
    total = sum(len(t) for t in distinct.values())
    if _is_api(encoder):
        rate, dim = None, int(encoder.dim or getattr(encoder, "dimensions", None) or 1536)
    else:
        rate, dim = throughput(encoder, sides["passage"][:SAMPLE_TEXTS], encoder.cache_dir)
    return EncodingCost(
        model=encoder.name, texts=total, to_encode=len(left), seconds=_cost_chars(left) / rate if rate else None,
        chars_per_second=rate, memory_bytes=total * (2 * 4 * dim + CACHE_BYTES_PER_VECTOR_EXTRA),
        disk_bytes=len(left) * (4 * dim + DISK_BYTES_PER_VECTOR_EXTRA))



def _is_api(encoder: "Encoder") -> bool:
    """Whether ``encoder`` (or the base under an adapter) calls a paid API."""
    from explorer.encoders.openai import OpenAIEncoder

    return isinstance(encoder, OpenAIEncoder) or isinstance(getattr(encoder, "base", None), OpenAIEncoder)


def first_sample(dataset: "Dataset", cost: EncodingCost, after_seconds: float = 20.0,
                 max_passages: int | None = None, seed: int = 13) -> "Dataset | None":
    """A smaller dataset whose baseline results can be shown while the whole corpus is embedded: every test
    query, every passage judged for them, and passages drawn at random (seeded) up to ``max_passages`` (by
    default as many as embed in about :data:`SAMPLE_SECONDS` at the measured throughput, within
    :data:`SAMPLE_PASSAGES`).

    None when no sample is worth it: the estimated encode (``cost``) takes at most ``after_seconds`` (the
    settings' ``sample_first_seconds``, ``EXPLORER_SAMPLE_FIRST_SECONDS``), its time is unknown (an API model),
    or the corpus is no larger than the sample. The sample's vectors go to the embedding cache, so the whole
    encode does not pay for them again.
    """
    if cost.seconds is None or cost.seconds <= after_seconds:
        return None
    if max_passages is None:
        texts = dataset.passage_texts()
        per_passage = max(1.0, _cost_chars(texts) / max(1, len(texts)))
        fewest, most = SAMPLE_PASSAGES
        max_passages = min(most, max(fewest, int(SAMPLE_SECONDS * (cost.chars_per_second or 0) / per_passage)))
    if len(dataset.corpus) <= max_passages:
        return None
    from explorer.data.sampling import eval_subset

    return eval_subset(dataset, max_queries=len(dataset.query_ids("test")), max_passages=max_passages, seed=seed)
