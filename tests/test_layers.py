"""The layer rule of DESIGN.md: only explorer/ui may import streamlit; the library imports cheaply."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_library_outside_ui_never_imports_streamlit():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "explorer").rglob("*.py")
        if "ui" not in p.relative_to(ROOT / "explorer").parts[:1] and "streamlit" in _imports(p)
    ]
    assert offenders == []


def test_layer_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import streamlit as st\n")
    assert "streamlit" in _imports(bad)


def test_importing_the_library_and_cli_does_not_import_torch_or_streamlit():
    code = (
        "import sys, explorer, explorer.cli, explorer.config, explorer.data;"
        "explorer.cli.build_parser();"
        "bad=[m for m in ('torch','streamlit','sentence_transformers','chromadb','umap') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
