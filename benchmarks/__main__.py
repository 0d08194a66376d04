"""``python -m benchmarks [NAME ...] [--quick] [--scifact PATH] [--home PATH]``: run benchmarks, write JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

ORDER = ("mining", "projection", "neighbourhood", "encode", "compression", "memory", "public_training", "train", "quality",
         "app", "visitors", "demo", "recipe")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(ORDER)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (minutes, not hours)")
    parser.add_argument("--scifact", type=Path, default=None, help="BEIR SciFact folder (default ../shared/datasets/scifact)")
    parser.add_argument("--home", type=Path, default=None, help="EXPLORER_HOME for caches (default /tmp/bench_home)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in ORDER]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(ORDER)}")

    from benchmarks.common import DEFAULT_HOME, DEFAULT_SCIFACT, Context, Skip, write_result

    home = (args.home or Path(os.environ.get("BENCH_HOME", DEFAULT_HOME))).resolve()
    os.environ["EXPLORER_HOME"] = str(home)  # the explorer encoders cache here, so repeated runs reuse it
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    hint = args.scifact or DEFAULT_SCIFACT
    scifact = hint.resolve() if (hint / "corpus.jsonl").is_file() else None
    ctx = Context(quick=args.quick, scifact=scifact, home=home, scifact_hint=hint)
    failed = 0
    for name in args.names or ORDER:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            data = module.run(ctx)
            data.setdefault("quick", ctx.quick)
        except Skip as exc:
            print(f"   skipped: {exc}", flush=True)
            continue
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed += 1
            traceback.print_exc()
            data = {"error": f"{type(exc).__name__}: {exc}", "quick": ctx.quick}
        data["wall_seconds"] = round(time.perf_counter() - started, 1)
        path = write_result(name, data)
        print(json.dumps(data.get("summary", data), indent=1, default=str)[:3000], flush=True)
        print(f"   -> {path}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
