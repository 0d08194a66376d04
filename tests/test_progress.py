"""The one progress protocol (:mod:`explorer.core.progress`): its helpers, its printer, and that nothing else
defines a progress callable."""

from __future__ import annotations

import ast
import io
import itertools
from pathlib import Path

from explorer.commands.evaluate import StderrProgress
from explorer.core.progress import Progress, Rate, clock_text, named, part, prefixed, silent

ROOT = Path(__file__).resolve().parents[1]


def recorder() -> tuple[list[tuple[str, int, int]], Progress]:
    calls: list[tuple[str, int, int]] = []
    return calls, lambda stage, done, total: calls.append((stage, done, total))


def test_silent_ignores_every_report():
    assert silent("embedding", 1, 2) is None


def test_every_helper_passes_none_through():
    assert named(None, "queries") is None
    assert prefixed(None, "a:") is None
    assert part(None, 3, 10) is None


def test_named_reports_under_its_stage():
    calls, progress = recorder()
    named(progress, "queries")("embedding", 2, 5)
    assert calls == [("queries", 2, 5)]


def test_prefixed_puts_the_prefix_before_the_stage():
    calls, progress = recorder()
    prefixed(progress, "a:")("search", 0, 4)
    assert calls == [("a:search", 0, 4)]


def test_part_offsets_a_sub_step_into_the_whole_count():
    calls, progress = recorder()
    first, second = part(progress, 0, 10), part(progress, 4, 10)
    first("embedding", 4, 4)
    second("embedding", 0, 6)
    second("embedding", 6, 6)
    assert calls == [("embedding", 4, 10), ("embedding", 4, 10), ("embedding", 10, 10)]


def test_helpers_compose():
    calls, progress = recorder()
    prefixed(named(progress, "passages"), "b:")("embedding", 1, 3)  # named wins: it drops the inner stage
    named(prefixed(progress, "b:"), "passages")("embedding", 1, 3)
    part(prefixed(progress, "a:"), 5, 8)("embedding", 3, 3)
    assert calls == [("passages", 1, 3), ("b:passages", 1, 3), ("a:embedding", 8, 8)]


def test_the_cli_printer_writes_each_stage_start_every_tenth_and_end():
    out = io.StringIO()
    ticks = itertools.count()  # one second per report
    progress = StderrProgress(out, clock=lambda: float(next(ticks)))
    for done in range(0, 101, 5):
        progress("passages", done, 100)
    progress("search", 0, 3)
    progress("search", 3, 3)
    lines = out.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"[passages] {d}/100" for d in range(0, 101, 10)] + [
        "[search] 0/3", "[search] 3/3"]
    assert lines[0] == "[passages] 0/100 (0%)"  # no rate before any work is done
    assert lines[1] == "[passages] 10/100 (10%) · 5/s · 0:18 left"
    assert lines[10] == "[passages] 100/100 (100%)"


def test_rate_starts_at_the_first_report_so_resumed_work_is_not_counted():
    ticks = iter([0.0, 10.0])
    rate = Rate(clock=lambda: next(ticks))
    assert rate.update("embedding", 600, 1000) == (None, None)  # 600 found in the cache: no time spent on them
    assert rate.update("embedding", 700, 1000) == (10.0, 30.0)  # 100 in 10 s, 300 left


def test_clock_text():
    assert [clock_text(s) for s in (0, 42, 725, 3723)] == ["0:00", "0:42", "12:05", "1:02:03"]


# ------------------------------------------------------------------------------------ one alias only
def _is_progress_callable(node: ast.AST) -> bool:
    """``Callable[[int, int], None]`` or ``Callable[[str, int, int], None]`` (any spelling of Callable)."""
    if not isinstance(node, ast.Subscript):
        return False
    name = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
    if name != "Callable" or not isinstance(node.slice, ast.Tuple) or len(node.slice.elts) != 2:
        return False
    params, returns = node.slice.elts
    if not isinstance(params, ast.List) or not (isinstance(returns, ast.Constant) and returns.value is None):
        return False
    names = [getattr(p, "id", None) for p in params.elts]
    return names in (["int", "int"], ["str", "int", "int"])


def progress_callables(root: Path = ROOT) -> list[str]:
    """``file:line`` of every progress callable type written outside explorer/core/progress.py (in code or in a
    string annotation)."""
    found = []
    for path in sorted([*(root / "explorer").rglob("*.py"), *(root / "pages").glob("*.py")]):
        if path == root / "explorer" / "core" / "progress.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            inner = [node]
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "Callable[[" in node.value:
                try:
                    inner = list(ast.walk(ast.parse(node.value, mode="eval")))
                except SyntaxError:
                    continue
            if any(_is_progress_callable(n) for n in inner):
                found.append(f"{path.relative_to(root).as_posix()}:{node.lineno}")
    return found


def test_no_module_but_explorer_progress_defines_a_progress_callable():
    assert progress_callables() == []


def test_the_check_finds_a_planted_alias(tmp_path):
    (tmp_path / "explorer" / "sub").mkdir(parents=True)
    (tmp_path / "pages").mkdir()
    (tmp_path / "explorer" / "core").mkdir()
    (tmp_path / "explorer" / "core" / "progress.py").write_text("Progress = Callable[[str, int, int], None]\n")
    (tmp_path / "explorer" / "sub" / "a.py").write_text("from typing import Callable\nP = Callable[[int, int], None]\n")
    (tmp_path / "explorer" / "sub" / "b.py").write_text("def f(p: 'typing.Callable[[str, int, int], None]'): ...\n")
    (tmp_path / "explorer" / "sub" / "c.py").write_text("R = Callable[[int], None]\n")
    assert progress_callables(tmp_path) == ["explorer/sub/a.py:2", "explorer/sub/b.py:1"]
