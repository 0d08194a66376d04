"""Progress of long steps: the one callback shape every step reports through, and the helpers that compose it.

A step that takes a while accepts ``progress: Progress | None`` and calls ``progress(stage, done, total)`` as
it goes: ``done`` of ``total`` units of ``stage`` are finished (``done == total`` when the stage ends). The
stages reported:

- :meth:`explorer.encoders.base.Encoder.encode`: "embedding" (texts); an API encoder also reports each wait
  before a retry as a stage ``"waiting N s: <why> (attempt i of n)"`` with ``(0, N)``;
- :func:`explorer.data.negatives.mine_hard_negatives` and the adapter trainer: "embedding" (queries, then
  passages, counted together);
- :meth:`explorer.store.vectors.VectorStore.ensure_index`: "embedding", then "indexing" (one count over both);
- :func:`explorer.evaluation.retrieval.evaluate_encoder`: "queries", "passages", "search", "metrics";
- :func:`explorer.evaluation.compare.compare_encoders`: those of each model, prefixed "a:" and "b:".

A step that calls another one passes the callback it was given through :func:`named`, :func:`prefixed` or
:func:`part`; each returns None for None, so "nobody listens" needs no test at the call site, and a leaf
reports to ``progress or silent``.

The listeners: the CLI prints reports (``explorer/commands/evaluate.py::StderrProgress``); a training job
turns them into :class:`~explorer.training.events.ProgressEvent` records, once
(``explorer/training/events.py::progress_events``), and logs them (``explorer/jobs/steps.py::EventLog``).
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: ``done`` of ``total`` units of ``stage`` are finished."""


def silent(stage: str, done: int, total: int) -> None:
    """A progress callback that ignores every report."""


def named(progress: Progress | None, stage: str) -> Progress | None:
    """``progress`` with every report made under ``stage`` (the sub-step's own stage name dropped)."""
    if progress is None:
        return None
    return lambda _stage, done, total: progress(stage, done, total)


def prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    """``progress`` with ``prefix`` put before every stage name (``"a:"`` turns "queries" into "a:queries")."""
    if progress is None:
        return None
    return lambda stage, done, total: progress(prefix + stage, done, total)


def part(progress: Progress | None, start: int, total: int) -> Progress | None:
    """``progress`` for a sub-step that covers units ``start`` to ``start + its own total`` of ``total``:
    its ``(stage, done, _)`` is reported as ``(stage, start + done, total)``."""
    if progress is None:
        return None
    return lambda stage, done, _total: progress(stage, start + done, total)
