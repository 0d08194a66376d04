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


def clock_text(seconds: float) -> str:
    """A duration for people: ``0:42``, ``12:05``, ``1:02:03``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Rate:
    """Rate and time left of each stage, from the reports a :data:`Progress` callback hears.

    A stage's clock starts at its first report, so work already done then (texts found in the embedding
    cache when an interrupted encode resumes) counts neither towards the rate nor against the time left.
    ``clock`` is injectable for tests. Hand-written: a few lines, where a progress library would bring its own
    printing.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        import time

        self._clock = clock or time.monotonic
        self._start: dict[str, tuple[float, int]] = {}

    def update(self, stage: str, done: int, total: int) -> tuple[float | None, float | None]:
        """(units per second, seconds left) of ``stage`` after this report; None while not yet known."""
        now = self._clock()
        started, first = self._start.setdefault(stage, (now, done))
        elapsed, moved = now - started, done - first
        if elapsed <= 0 or moved <= 0:
            return None, None
        rate = moved / elapsed
        return rate, max(0, total - done) / rate

    def describe(self, stage: str, done: int, total: int) -> str:
        """``"1,024/10,000 (10%) · 350/s · 0:25 left"``, the rate and time left once known."""
        rate, left = self.update(stage, done, total)
        text = f"{done:,}/{total:,}" + (f" ({100 * done // total}%)" if total else "")
        if rate is not None and done < total:
            text += f" · {rate:,.0f}/s · {clock_text(left or 0)} left"
        return text
