"""A killed or interrupted encode resumes from the cached shards, and its progress starts where it stopped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from explorer.core.progress import Rate
from explorer.encoders.base import CACHE_FLUSH_EVERY
from explorer.encoders.cache import forget_memory
from explorer.encoders.fake import FakeEncoder

TEXTS = [f"passage number {i} about topic {i % 37} and more words {i * 7}" for i in range(3000)]


def _first_report(cache_dir) -> tuple[list[int], np.ndarray]:
    seen: list[int] = []
    vectors = FakeEncoder(cache_dir=cache_dir).encode(TEXTS, progress=lambda _s, done, _t: seen.append(done))
    return seen, vectors


def test_an_interrupted_encode_resumes_where_it_stopped(tmp_path):
    reports: list[int] = []

    def stop_midway(stage: str, done: int, total: int) -> None:
        reports.append(done)
        if done >= 1500:
            raise KeyboardInterrupt  # the user pressed Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        FakeEncoder(cache_dir=tmp_path).encode(TEXTS, progress=stop_midway)
    forget_memory()  # as a new process would: only the shards on disk are known
    seen, vectors = _first_report(tmp_path)
    assert seen[0] == reports[-1] >= 1500  # everything embedded before the stop was kept
    assert seen[-1] == len(TEXTS)
    np.testing.assert_allclose(vectors, FakeEncoder().encode(TEXTS), atol=1e-6)
    ticks = iter([0.0, 1.0])
    rate = Rate(clock=lambda: next(ticks))
    rate.update("embedding", seen[0], len(TEXTS))
    assert rate.update("embedding", seen[0] + 100, len(TEXTS))[0] == 100.0  # the rate counts new work only


def test_a_killed_encode_resumes_from_its_flushed_shards(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).resolve().parents[2])!r})
        from tests.encoders.test_resume import TEXTS
        from explorer.encoders.fake import FakeEncoder

        def hang(stage, done, total):
            if done > 2 * {CACHE_FLUSH_EVERY} + 100:
                print("ready", flush=True)
                time.sleep(600)

        FakeEncoder(cache_dir={str(tmp_path)!r}).encode(TEXTS, progress=hang)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.kill()  # SIGKILL: no finally block of the encoder runs
        child.wait()
    seen, vectors = _first_report(tmp_path)
    assert seen[0] == 2 * CACHE_FLUSH_EVERY  # the two shards written before the kill, nothing of the third
    np.testing.assert_allclose(vectors, FakeEncoder().encode(TEXTS), atol=1e-6)
