"""``python -m explorer evaluate --data SPEC --model MODEL``: retrieval metrics of one encoder.

Prints one JSON object on stdout (flat metric keys ``ndcg@10``, ``mrr@10``, ``recall@10``, ``recall@100``,
``map@100``, ``precision@10``, plus ``n_queries``, ``model``, ``dataset``, ``split``, ``k``, ``seconds``) and
writes it to ``--out`` when given; progress goes to stderr. A bad dataset or model ends with a one-line
``error: ...`` and exit code 2 (raised as DataError/ModelError, printed by :mod:`explorer.cli`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from explorer.commands.data import data_options, load_data
from explorer.core.errors import StorageError

if TYPE_CHECKING:  # pragma: no cover
    from explorer.encoders.base import Encoder


class StderrProgress:
    """The commands' printer of :data:`explorer.core.progress.Progress` reports: a line
    ``[stage] done/total (pct) · rate/s · m:ss left`` on stderr when a stage starts, about every 10% of it, and
    when it ends (the rate and time left from :class:`explorer.core.progress.Rate`)."""

    def __init__(self, stream: TextIO | None = None, clock: Any = None) -> None:
        from explorer.core.progress import Rate

        self.stream = stream or sys.stderr
        self._last: dict[str, int] = {}
        self._rate = Rate(clock)

    def __call__(self, stage: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        last = self._last.get(stage)
        text = self._rate.describe(stage, done, total)
        if last is None or done >= total or done - last >= step:
            self._last[stage] = done
            print(f"[{stage}] {text}", file=self.stream, flush=True)


def print_cost(dataset: Any, encoder: "Encoder", split: str | None = "test", stream: TextIO | None = None) -> None:
    """One line on stderr before a command encodes: what the encoding will cost on this machine."""
    from explorer.pipeline.cost import encoding_cost

    print(f"[cost] {encoding_cost(dataset, encoder, split).describe()}", file=stream or sys.stderr, flush=True)


def load_model(spec: str) -> "Encoder":
    """The encoder of ``--model``, loaded as the app loads it (raises ModelError for a bad model)."""
    from explorer import pipeline

    return pipeline.load_encoder(spec)


def write_json(payload: dict[str, Any], out: str | None) -> None:
    """Print ``payload`` as JSON on stdout and, when ``out`` is given, write it there too."""
    text = json.dumps(payload, indent=2)
    if out:
        path = Path(out).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise StorageError(f"Cannot write {path}: {exc.strerror or exc}; choose another --out path.") from exc
    print(text)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``evaluate`` and ``compare`` (besides the dataset's, :func:`explorer.commands.data.data_options`)."""
    parser.add_argument("--split", default="test", choices=("train", "test"), help="queries to evaluate (default test)")
    parser.add_argument("--k", type=positive_int, default=100, help="passages retrieved per query (default 100)")
    parser.add_argument("--out", metavar="FILE.json", help="also write the JSON result to this file")


def add_api_flags(parser: argparse.ArgumentParser) -> None:
    """``--base-url`` and ``--dimensions``, the options of an ``--model openai:<name>`` (the key comes from
    OPENAI_API_KEY only: a run records the model, base URL and dimensions, never the key)."""
    parser.add_argument("--base-url", metavar="URL", help="API root of an OpenAI-compatible endpoint for "
                        "--model openai:<name>, e.g. http://127.0.0.1:7997/v1 (default: OPENAI_BASE_URL, else OpenAI's)")
    parser.add_argument("--dimensions", type=positive_int, metavar="N",
                        help="shorter vectors from a text-embedding-3 model (--model openai:<name> only)")


def add_parser(subparsers: Any) -> None:
    """Register ``evaluate``."""
    parser = subparsers.add_parser(
        "evaluate", help="retrieval metrics of one encoder", parents=[data_options()],
        description="Embed a split's queries and the corpus, retrieve the top k exactly, print ranx metrics as JSON.",
    )
    add_common(parser)
    parser.add_argument("--model", required=True, metavar="MODEL",
                        help="'minilm' (bundled), 'fake', a model id or folder, a training run folder, or "
                             "openai:<name> (an API model, key from OPENAI_API_KEY)")
    add_api_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate ``--model`` on ``--data``; returns the exit code."""
    from explorer import pipeline
    from explorer.encoders.openai import model_spec

    started = time.perf_counter()
    spec = model_spec(args.model, args.base_url, args.dimensions)
    dataset = load_data(args)
    encoder = load_model(spec)
    print_cost(dataset, encoder, args.split)
    result = pipeline.evaluate(dataset, encoder, split=args.split, k=args.k, progress=StderrProgress())
    payload = {
        **result.to_dict(),
        "model": spec,
        "dataset": dataset.name,
        "split": args.split,
        "k": args.k,
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json(payload, args.out)
    return 0
