"""The shape rules of ``docs/architecture.md``: no drawer modules in the middle layers, no classes hidden
inside functions, nested functions only as short closures.

- no module over :data:`MAX_LINES` lines in ``explorer/jobs/``, ``explorer/training/`` or ``explorer/pipeline/``;
- no class defined inside a function anywhere in ``explorer/``;
- no function nested in another longer than :data:`MAX_NESTED` lines (a key function, a small callback).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 350
MAX_NESTED = 8
MIDDLE = ("jobs", "training", "pipeline")


def long_modules(root: Path = ROOT) -> list[str]:
    """``path: lines`` of every middle-layer module over the limit."""
    found = []
    for package in MIDDLE:
        for path in sorted((root / "explorer" / package).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                found.append(f"{path.relative_to(root).as_posix()}: {lines}")
    return found


def hidden_definitions(root: Path = ROOT) -> list[str]:
    """``path:line name`` of every class inside a function and every long nested function."""
    found = []
    for path in sorted((root / "explorer").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for outer in ast.walk(tree):
            if not isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(outer):
                if inner is outer:
                    continue
                where = f"{path.relative_to(root).as_posix()}:{inner.lineno if hasattr(inner, 'lineno') else 0}"
                if isinstance(inner, ast.ClassDef):
                    found.append(f"{where} class {inner.name}")
                elif isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    body_lines = inner.end_lineno - inner.body[0].lineno + 1
                    if isinstance(inner.body[0], ast.Expr) and isinstance(inner.body[0].value, ast.Constant):
                        body_lines -= inner.body[0].end_lineno - inner.body[0].lineno + 1  # docstring
                    if body_lines > MAX_NESTED:
                        found.append(f"{where} def {inner.name} ({body_lines} lines)")
    return sorted(set(found))


def test_no_middle_layer_module_is_a_drawer():
    assert long_modules() == []


def test_no_class_inside_a_function_and_no_long_nested_function():
    assert hidden_definitions() == []


def test_the_checks_catch_planted_offenders(tmp_path):
    (tmp_path / "explorer" / "jobs").mkdir(parents=True)
    (tmp_path / "explorer" / "jobs" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "explorer" / "jobs" / "ok.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "explorer" / "a.py").write_text(
        "def f():\n    class C:\n        pass\n"
        "    def long():\n" + "        x = 1\n" * (MAX_NESTED + 1) +
        "    def short():\n        '''doc'''\n" + "        x = 1\n" * MAX_NESTED
    )
    assert long_modules(tmp_path) == [f"explorer/jobs/big.py: {MAX_LINES + 1}"]
    assert hidden_definitions(tmp_path) == ["explorer/a.py:2 class C", f"explorer/a.py:4 def long ({MAX_NESTED + 1} lines)"]
