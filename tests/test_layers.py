"""The layer table of DESIGN.md, checked by parsing every import (including ones inside functions).

| layer | may not import |
|---|---|
| library: ``explorer/`` except ``ui/``, ``cli.py``, ``commands/`` | streamlit, ``explorer.ui``, ``explorer.cli``, ``explorer.commands``, pages, app |
| CLI: ``explorer/cli.py``, ``explorer/commands/`` | streamlit, ``explorer.ui``, pages, app |
| UI helpers: ``explorer/ui/`` | pages, app |
| pages: ``pages/*.py`` | app |

Each rule is one entry of :data:`RULES`; :func:`violations` is tested on a planted offender so a broken
checker cannot pass silently.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RULES: dict[str, tuple[str, ...]] = {
    "library": ("streamlit", "explorer.ui", "explorer.cli", "explorer.commands", "pages", "app"),
    "cli": ("streamlit", "explorer.ui", "pages", "app"),
    "ui": ("pages", "app"),
    "pages": ("app",),
}


def layer_of(path: Path, root: Path = ROOT) -> str | None:
    """Which layer a file belongs to (None: tests, benchmarks and other files outside the table)."""
    parts = path.relative_to(root).parts
    if parts[0] == "pages":
        return "pages"
    if parts[0] != "explorer":
        return None
    if parts[1:2] == ("ui",):
        return "ui"
    if parts[1:2] == ("commands",) or parts[1:] == ("cli.py",) or parts[1:] == ("__main__.py",):
        return "cli"
    return "library"


def imports(path: Path) -> list[tuple[str, ...]]:
    """Every import statement of a file, anywhere in it, as the dotted names it may bring in.

    ``import a.b`` gives ``("a.b",)``; ``from a import b`` gives ``("a", "a.b")`` (b may be a module).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name,) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, *(f"{node.module}.{alias.name}" for alias in node.names)))
    return found


def _matches(name: str, banned: str) -> bool:
    return name == banned or name.startswith(banned + ".")


def violations(root: Path = ROOT) -> list[str]:
    """``file (layer): imports X`` for every import statement the layer table forbids."""
    found = []
    for path in sorted([*(root / "explorer").rglob("*.py"), *(root / "pages").glob("*.py")]):
        layer = layer_of(path, root)
        if layer is None:
            continue
        for names in imports(path):
            bad = [b for b in RULES[layer] if any(_matches(n, b) for n in names)]
            if bad:
                found.append(f"{path.relative_to(root)} ({layer}): imports {bad[0]} ({names[0]})")
    return found


def test_every_layer_rule_holds():
    assert violations() == []


@pytest.mark.parametrize(("where", "code", "expected"), [
    ("explorer/training/bad.py", "def f():\n    import streamlit as st\n", "imports streamlit"),
    ("explorer/training/bad.py", "from explorer.cli import main\n", "imports explorer.cli"),
    ("explorer/data/bad.py", "from explorer import ui\n", "imports explorer.ui"),
    ("explorer/commands/bad.py", "from explorer.ui.state import workspace\n", "imports explorer.ui"),
    ("explorer/ui/bad.py", "import pages.data\n", "imports pages"),
    ("pages/bad.py", "import app\n", "imports app"),
])
def test_the_checker_catches_a_planted_offender(tmp_path, where, code, expected):
    target = tmp_path / where
    target.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "explorer").mkdir(exist_ok=True)
    (tmp_path / "pages").mkdir(exist_ok=True)
    target.write_text(code)
    found = violations(tmp_path)
    assert len(found) == 1 and expected in found[0]


def test_allowed_imports_are_not_flagged(tmp_path):
    (tmp_path / "explorer" / "ui").mkdir(parents=True)
    (tmp_path / "pages").mkdir()
    (tmp_path / "explorer" / "ui" / "ok.py").write_text("import streamlit\nfrom explorer import pipeline\n")
    (tmp_path / "explorer" / "cli.py").write_text("from explorer.commands import train\n")
    (tmp_path / "pages" / "ok.py").write_text("from explorer.ui import guard\n")
    assert violations(tmp_path) == []


def test_importing_the_library_and_cli_does_not_import_torch_or_streamlit():
    code = (
        "import sys, explorer, explorer.cli, explorer.config, explorer.data;"
        "explorer.cli.build_parser();"
        "bad=[m for m in ('torch','streamlit','sentence_transformers','chromadb','umap') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
