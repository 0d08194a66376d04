"""``python -m explorer train ...``: fine-tune an encoder in the foreground and report what changed.

Resolves the flags with :func:`explorer.pipeline.training_config` and runs :func:`explorer.pipeline.train`
(baseline evaluation, hard-negative mining, training, tuned evaluation), as the app does, with a progress bar
on stderr, writes the run folder at ``--out`` (the folder itself; by
default a new folder under the workspace's runs), and prints baseline vs tuned test metrics with the paired
p-value. ``python -m explorer evaluate --data X --model RUN_DIR`` then evaluates the saved model.

Under ``torchrun --nproc_per_node=N -m explorer train ...`` every rank trains its share of each batch; only
rank 0 evaluates, mines, writes the run folder and prints (see :mod:`explorer.training.distributed`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from explorer.commands.data import data_options, load_data
from explorer.commands.evaluate import add_api_flags
from explorer.evaluation.display import p_value_text
from explorer.evaluation.novelty import split_line

TABLE_METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "map@100")


def add_parser(subparsers: Any) -> None:
    """Register the ``train`` command."""
    p = subparsers.add_parser(
        "train", help="fine-tune an encoder (full, adapter or nudge) and compare it with the base model",
        description="Fine-tune an encoder on a dataset's train split and compare it with the base model on the test split.",
        parents=[data_options()],
    )
    p.add_argument("--model", default="minilm", help="base model: 'minilm' (bundled), a model folder or id, or "
                   "openai:<name> (an API model, key from OPENAI_API_KEY) (default: minilm)")
    add_api_flags(p)
    p.add_argument("--method", choices=("full", "adapter", "nudge"), default="full",
                   help="full fine-tune, adapter on frozen embeddings (the query side), or nudge: NUDGE-N moves the "
                        "passages training queries reach, within a bound chosen on held-out queries (default: full)")
    p.add_argument("--nudge-gamma", type=float, metavar="GAMMA",
                   help="with --method nudge: a fixed bound (0 to 2) on each passage's squared move instead of the "
                        "best of 0.02..0.48 on held-out queries")
    p.add_argument("--out", metavar="RUN_DIR", help="the run folder to write (default: a new folder in the workspace's runs)")
    p.add_argument("--epochs", type=int, help="passes over the training pairs (default: by dataset size)")
    p.add_argument("--loss", choices=("mnrl", "cached_mnrl", "contrastive", "online_contrastive"), help="training loss (default: mnrl)")
    p.add_argument("--batch-size", type=int, help="pairs per batch (default: 32)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: auto, 2e-4 when only the top layers "
                   "train, 3e-5 when every layer does, 1e-3 for an adapter)")
    p.add_argument("--warmup-ratio", type=float, help="share of steps with a rising learning rate (default: 0.1)")
    p.add_argument("--seed", type=int, help="random seed (default: 42)")
    p.add_argument("--max-seq-length", type=int, help="tokens per text (default: the model's own limit)")
    p.add_argument("--train-layers", type=int,
                   help="top transformer layers to train; the rest is frozen and computed once per text "
                        "(default: 3 of MiniLM's 6; 0 trains every layer)")
    p.add_argument("--no-hard-negatives", action="store_true", help="train on in-batch negatives only (no mining)")
    p.add_argument("--num-hard-negatives", type=int, help="mined negatives per pair (default: 1)")
    p.add_argument("--matryoshka-dims", help="comma-separated dims for MatryoshkaLoss, e.g. 384,256,128,64")
    p.add_argument("--min-positive-grade", type=int, help="lowest grade used as a training positive (default: auto)")
    p.add_argument("--eval-every-steps", type=int, help="score the dev split (held-out training queries) every N steps (0: never, keeps the last checkpoint; default: auto)")
    p.add_argument("--keep", choices=("best", "last"), help="ship the best point on held-out training queries, the base "
                   "model included (best, the default), or the last checkpoint anyway (last)")
    p.add_argument("--negatives", metavar="FILE", help="train with these saved negatives instead of mining")
    p.add_argument("--test-fraction", type=float, default=0.3, help="held-out share when the data has no split (default 0.3)")
    p.add_argument("--split-seed", type=int, default=13, help="seed of that split (default 13)")
    p.add_argument("--json", action="store_true", help="print evaluation.json instead of a table")
    p.set_defaults(func=run_train)


def params_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The training parameters the flags set (unset flags stay "auto", as in the app's form)."""
    from explorer.core.errors import TrainingError

    from explorer.encoders.openai import model_spec

    values: dict[str, Any] = {"method": args.method,
                              "base_model": model_spec(args.model, args.base_url, args.dimensions)}
    for flag, key in (("epochs", "epochs"), ("loss", "loss"), ("batch_size", "batch_size"), ("lr", "learning_rate"),
                      ("warmup_ratio", "warmup_ratio"), ("seed", "seed"), ("max_seq_length", "max_seq_length"),
                      ("num_hard_negatives", "num_hard_negatives"), ("min_positive_grade", "min_positive_grade"),
                      ("eval_every_steps", "eval_every_steps"), ("train_layers", "train_layers"), ("keep", "keep")):
        if getattr(args, flag, None) is not None:
            values[key] = getattr(args, flag)
    if getattr(args, "nudge_gamma", None) is not None:
        if args.method != "nudge":
            raise TrainingError("--nudge-gamma applies to --method nudge only; add --method nudge or drop it.")
        values["nudge"] = {"gamma": args.nudge_gamma}
    if args.no_hard_negatives:
        values["use_hard_negatives"] = False
    if args.matryoshka_dims:
        try:
            values["matryoshka_dims"] = tuple(int(d) for d in args.matryoshka_dims.split(",") if d.strip())
        except ValueError:
            raise TrainingError(f"--matryoshka-dims must be comma-separated whole numbers, got {args.matryoshka_dims!r}.") from None
    return values


class ProgressBar:
    """One tqdm bar per phase on stderr, showing loss, learning rate and metrics as they arrive.

    Events that only carry a message (or metrics) are written as a line above the bar.
    """

    def __init__(self) -> None:
        self.phase: str | None = None
        self.bar: Any = None

    def __call__(self, event: Any) -> None:
        from tqdm.auto import tqdm

        if event.phase != self.phase:
            self.close()
            self.phase = event.phase
            self.bar = tqdm(total=None, desc=event.phase, file=sys.stderr, leave=False, dynamic_ncols=True)
        counting = event.total_steps > 1 or (event.total_steps == 1 and not event.message)
        if counting:
            if self.bar.total != event.total_steps:
                self.bar.reset(total=event.total_steps)
            self.bar.n = min(event.step, event.total_steps)
        post: dict[str, str] = {}
        if event.loss is not None:
            post["loss"] = f"{event.loss:.4f}"
        if event.lr is not None:
            post["lr"] = f"{event.lr:.1e}"
        if post:
            self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()
        if event.message and (event.metrics or not counting):
            name = next((m for m in ("ndcg@10", "dev_ndcg@10") if m in event.metrics), None)
            score = f" {name}={event.metrics[name]:.4f}" if name else ""
            self.bar.write(f"[{event.phase}] {event.message}{score}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_report(evaluation: dict[str, Any], run_dir: str) -> str:
    """The baseline vs tuned table with deltas and paired p-values."""
    metrics = evaluation.get("comparison", {}).get("metrics", {})
    test = evaluation.get("comparison", {}).get("test", "paired")
    lines = [f"{'metric':<12}{'baseline':>10}{'tuned':>10}{'delta':>10}{'p-value':>10}"]
    for m in TABLE_METRICS:
        base, tuned = evaluation["baseline"].get(m), evaluation["tuned"].get(m)
        if base is None or tuned is None:
            continue
        p = metrics.get(m, {}).get("p_value")
        lines.append(f"{m:<12}{base:>10.4f}{tuned:>10.4f}{tuned - base:>+10.4f}{p_value_text(p):>10}")
    n = evaluation.get("comparison", {}).get("n_queries") or evaluation["tuned"].get("n_queries")
    lines.append(f"{n} test queries; p-values: paired {test} test. Training took {evaluation.get('training_seconds', 0):.0f} s.")
    lines += [line for line in [split_line(evaluation.get("novelty"))] if line]
    if evaluation.get("nudge"):
        from explorer.training.nudge import facts_line

        lines.append(facts_line(evaluation["nudge"]))
    selection = evaluation.get("selection")
    if selection:
        lines.append(selection["summary"])
        if selection.get("next_steps"):
            lines.append(selection["next_steps"] + " To ship the last checkpoint anyway: --keep last.")
    lines.append(f"run: {run_dir}")
    return "\n".join(lines)


def run_train(args: argparse.Namespace) -> int:
    """Train, evaluate, write the run folder, print the report; returns the exit code."""
    from explorer import pipeline
    from explorer.core.config import get_settings
    from explorer.training import distributed
    from explorer.jobs.execute import execute_worker

    settings = get_settings()
    dataset = load_data(args, settings, test_fraction=args.test_fraction, seed=args.split_seed)
    config = pipeline.training_config(dataset, params_from_args(args), settings)
    negatives = None
    if args.negatives:
        from explorer.data.negatives import NegativeSet

        negatives = NegativeSet.load(args.negatives)
    distributed.init_process_group()
    try:
        if not distributed.is_main_process():
            execute_worker(dataset, config)
            print(f"[rank {distributed.rank()}/{distributed.world_size()}] trained its share of every batch", file=sys.stderr)
            return 0
        bar = ProgressBar()
        try:
            run = pipeline.train(settings, dataset, config, folder=args.out, report=bar, negatives=negatives)
        finally:
            bar.close()
    finally:
        distributed.destroy_process_group()
    evaluation = run.evaluation() or {}
    if distributed.is_distributed():
        print(f"[rank 0/{distributed.world_size()}] data-parallel training over {distributed.world_size()} processes", file=sys.stderr)
    if args.json:
        print(json.dumps(evaluation, indent=2, sort_keys=True))
    else:
        print(format_report(evaluation, str(run.path)))
    return 0
