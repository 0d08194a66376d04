"""``python -m benchmarks [NAME ...] [--quick] [--scifact PATH] [--home PATH] [--bf16 both|auto|off]``: run
benchmarks, write ``benchmarks/results/<name>.json``.

bf16: on a CPU with native bf16 (AMX / AVX512-BF16) every benchmark runs twice by default (``--bf16 both``):
with the explorer's defaults (bf16 autocast on) into ``<name>.json``, then in a fresh process with
``EXPLORER_BF16=0`` into ``<name>.no_bf16.json``, so the no-bf16 path (what an AVX2-only CPU runs) is always
measured. Benchmarks that compare both paths themselves (``encode``) run once. On a CPU without bf16 the
defaults *are* the no-bf16 path: one run, into ``<name>.json``.
"""

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
         "app", "visitors", "demo", "recipe", "models", "tuned_hybrid", "endpoint", "recipes_api", "curve", "scale", "scale_pages", "processes", "batch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(ORDER)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (minutes, not hours)")
    parser.add_argument("--scifact", type=Path, default=None, help="BEIR SciFact folder (default ../shared/datasets/scifact)")
    parser.add_argument("--home", type=Path, default=None, help="EXPLORER_HOME for caches (default /tmp/bench_home)")
    parser.add_argument("--bf16", choices=("both", "auto", "off"), default="both",
                        help="on a bf16 CPU: run with bf16 and again without (both, the default), with the defaults "
                             "only (auto), or without bf16 only (off, EXPLORER_BF16=0)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in ORDER]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(ORDER)}")

    from benchmarks.common import DEFAULT_HOME, DEFAULT_SCIFACT, Context, Skip, write_result
    from explorer.encoders.hardware import cpu_supports_bf16

    bf16_cpu = cpu_supports_bf16()
    if args.bf16 == "off":
        os.environ["EXPLORER_BF16"] = "0"
    suffix = ".no_bf16" if args.bf16 == "off" and bf16_cpu else ""

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
        data["bf16_mode"] = {"cpu_has_bf16": bf16_cpu, "EXPLORER_BF16": os.environ.get("EXPLORER_BF16", "auto")}
        path = write_result(name + suffix, data)
        print(json.dumps(data.get("summary", data), indent=1, default=str)[:3000], flush=True)
        print(f"   -> {path}", flush=True)
        if args.bf16 == "both" and bf16_cpu and not getattr(module, "COMPARES_BF16", False):
            failed += _run_without_bf16(name, args)
    return 1 if failed else 0


def _run_without_bf16(name: str, args: argparse.Namespace) -> int:
    """The same benchmark in a fresh process with ``EXPLORER_BF16=0`` (no encoder or setting carried over);
    returns 1 if it failed."""
    import subprocess

    print(f"== {name} without bf16 (EXPLORER_BF16=0)", flush=True)
    command = [sys.executable, "-m", "benchmarks", name, "--bf16", "off"]
    command += ["--quick"] if args.quick else []
    command += ["--scifact", str(args.scifact)] if args.scifact else []
    command += ["--home", str(args.home)] if args.home else []
    return 1 if subprocess.run(command, env={**os.environ, "EXPLORER_BF16": "0"}).returncode else 0


if __name__ == "__main__":
    sys.exit(main())
