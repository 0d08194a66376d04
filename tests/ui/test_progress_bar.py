"""The baseline's progress bar: stage, count, rate and time left, from the reports of the evaluation."""

from __future__ import annotations

import itertools

from explorer.ui import baseline


class Slot:
    def __init__(self) -> None:
        self.drawn: list[tuple[float, str]] = []
        self.cleared = False

    def progress(self, fraction: float, text: str) -> None:
        self.drawn.append((fraction, text))

    def empty(self) -> None:
        self.cleared = True


def test_the_bar_shows_count_rate_and_time_left_then_goes(monkeypatch):
    slot = Slot()
    monkeypatch.setattr(baseline.st, "empty", lambda: slot)
    ticks = itertools.count()
    bar = baseline.ProgressBar("Evaluating the baseline", clock=lambda: float(next(ticks)))
    bar.every = 0.0
    with bar:
        for done in (400, 500, 600, 1000):  # 400 were cached: the rate counts from there
            bar("passages", done, 1000)
    assert slot.drawn[1] == (0.5, "Evaluating the baseline: embedding the passages, 500/1,000 (50%) · 100/s · 0:05 left")
    assert slot.drawn[-1][0] == 1.0 and "left" not in slot.drawn[-1][1]
    assert slot.cleared


def test_the_metrics_page_evaluates_the_baseline_through_the_bar(monkeypatch):
    seen = []
    monkeypatch.setattr(baseline.st, "empty", Slot)
    monkeypatch.setattr(baseline.state, "baseline_result",
                        lambda dataset, encoder, progress=None: seen.append(isinstance(progress, baseline.ProgressBar)))
    monkeypatch.setattr(baseline, "_sample_first", lambda m: None)  # a quick encode: no sample first
    model = type("M", (), {"dataset": None, "encoder_a": None})()
    baseline.evaluate_baseline(model)
    assert seen == [True]


def test_the_search_page_says_the_index_is_being_built_and_does_not_wait_for_it(monkeypatch):
    captions = []
    monkeypatch.setattr(baseline.st, "caption", captions.append)
    a, b = object(), object()
    monkeypatch.setattr(baseline.pipeline, "indexing", lambda dataset, encoder, store: (6_000, 10_000) if encoder is b else None)
    assert baseline.indexing_now("dataset", [a, b], "store") == [b]
    assert len(captions) == 1 and "6,000 of 10,000 passages" in captions[0] and "exact search" in captions[0]
    monkeypatch.setattr(baseline.pipeline, "indexing", lambda dataset, encoder, store: None)
    assert baseline.indexing_now("dataset", [a, b], "store") == [] and len(captions) == 1  # built: nothing said
