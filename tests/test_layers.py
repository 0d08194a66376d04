"""The layers of ``docs/architecture.md``, checked by parsing every import (including ones inside functions).

From the top: pages → the two faces (``explorer/ui/``, and the CLI: ``explorer/cli.py``, ``explorer/commands/``)
→ ``explorer/pipeline/`` → ``explorer/workspace/`` → ``explorer/jobs/`` → ``explorer/training/`` →
``explorer/evaluation/``, ``explorer/retrievers/``, ``explorer/store/``, ``explorer/latent/`` → ``explorer/data/`` → ``explorer/encoders/``
→ ``explorer/core/`` (the leaves). A module may import its own layer and the layers below it, never one above;
the two faces never import each other; only the faces' UI side and pages import streamlit. Imports under
``if TYPE_CHECKING:`` are left out (they never run). A second check finds no cycle among the modules.

:func:`violations` and :func:`cycles` are tested on planted offenders, so a broken checker cannot pass silently.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (layer, rank, the paths that belong to it: a folder ends with "/"); a rank may import an equal or lower one.
LAYERS: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("pages", 10, ("pages/", "app.py")),
    ("ui", 9, ("explorer/ui/",)),
    ("cli", 9, ("explorer/cli.py", "explorer/__main__.py", "explorer/commands/")),
    ("pipeline", 8, ("explorer/pipeline/",)),
    ("workspace", 7, ("explorer/workspace/",)),
    ("jobs", 6, ("explorer/jobs/",)),
    ("training", 5, ("explorer/training/",)),
    ("evaluation", 4, ("explorer/evaluation/",)),
    ("retrievers", 4, ("explorer/retrievers/",)),
    ("store", 4, ("explorer/store/",)),
    ("latent", 4, ("explorer/latent/",)),
    ("data", 3, ("explorer/data/",)),
    ("encoders", 2, ("explorer/encoders/",)),
    ("core", 1, ("explorer/core/", "explorer/__init__.py")),
)
#: Layers of one rank that must not import each other (the two faces).
APART = (frozenset({"ui", "cli"}),)
STREAMLIT_LAYERS = {"pages", "ui"}


def layer_of(relpath: str) -> tuple[str, int] | None:
    """The layer (name, rank) of a file, by its path relative to the project root; None: outside the table."""
    for name, rank, paths in LAYERS:
        if any(relpath == p or (p.endswith("/") and relpath.startswith(p)) for p in paths):
            return name, rank
    return None


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name → file, for ``explorer``, ``pages`` and ``app``."""
    paths = [*(root / "explorer").rglob("*.py"), *(root / "pages").glob("*.py"), *root.glob("app.py")]
    found = {}
    for path in sorted(paths):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node of a tree except those under ``if TYPE_CHECKING:``."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return (node for node in ast.walk(tree) if id(node) not in skip)


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The project module a dotted name lives in (the longest module prefix), or None."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The dotted names a module imports: project modules (``from a import b`` gives ``a.b`` when b is a
    module, else ``a``) and other top-level packages by name (``streamlit``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {_owner(name, modules) or name for name in found}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module → the project modules it imports (a package's own ``__init__`` reached from inside it aside)."""
    modules = module_files(root)
    return {
        module: {t for t in imports(module, path, modules)
                 if t in modules and t != module and not module.startswith(t + ".")}
        for module, path in modules.items()
    }


def violations(root: Path = ROOT) -> list[str]:
    """``file (layer): imports X (layer)`` for every import the layer order forbids."""
    modules = module_files(root)
    found = []
    for module, path in modules.items():
        relpath = path.relative_to(root).as_posix()
        here = layer_of(relpath)
        if here is None:
            continue
        for target in sorted(imports(module, path, modules)):
            if target.split(".")[0] == "streamlit" and here[0] not in STREAMLIT_LAYERS:
                found.append(f"{relpath} ({here[0]}): imports streamlit")
                continue
            if target not in modules:
                continue
            there = layer_of(modules[target].relative_to(root).as_posix())
            if there is None or there[0] == here[0]:
                continue
            if there[1] > here[1] or frozenset({here[0], there[0]}) in APART:
                found.append(f"{relpath} ({here[0]}): imports {target} ({there[0]})")
    return found


def cycles(root: Path = ROOT) -> list[list[str]]:
    """The import cycles among the project's modules: each strongly connected component of more than one
    module (Tarjan's algorithm), sorted."""
    graph = import_graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_every_layer_rule_holds():
    assert violations() == []


def test_no_import_cycle():
    assert cycles() == []


def test_every_module_has_a_layer():
    outside = [m for m, p in module_files().items() if layer_of(p.relative_to(ROOT).as_posix()) is None]
    assert outside == []


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for where, code in files.items():
        target = tmp_path / where
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    return tmp_path


@pytest.mark.parametrize(("where", "code", "expected"), [
    ("explorer/training/bad.py", "def f():\n    import streamlit as st\n", "imports streamlit"),
    ("explorer/training/bad.py", "from explorer.cli import main\n", "imports explorer.cli (cli)"),
    ("explorer/data/bad.py", "from explorer import ui\n", "imports explorer.ui (ui)"),
    ("explorer/commands/bad.py", "from explorer.ui.state import workspace\n", "imports explorer.ui.state (ui)"),
    ("explorer/ui/bad.py", "import pages.data\n", "imports pages.data (pages)"),
    ("explorer/data/bad.py", "def f():\n    from explorer.evaluation.topk import top_k\n",
     "imports explorer.evaluation.topk (evaluation)"),
    ("explorer/core/bad.py", "from ..encoders import base\n", "imports explorer.encoders.base (encoders)"),
    ("explorer/jobs/bad.py", "from explorer.workspace import Workspace\n", "imports explorer.workspace (workspace)"),
])
def test_the_checker_catches_a_planted_offender(tmp_path, where, code, expected):
    files = {"explorer/ui/state.py": "", "explorer/cli.py": "", "pages/data.py": "", "explorer/encoders/base.py": "",
             "explorer/evaluation/topk.py": "", "explorer/workspace/__init__.py": "", "explorer/ui/__init__.py": "",
             where: code}
    found = violations(_plant(tmp_path, files))
    assert len(found) == 1 and expected in found[0], found


def test_allowed_imports_are_not_flagged(tmp_path):
    root = _plant(tmp_path, {
        "explorer/ui/ok.py": "import streamlit\nfrom explorer import pipeline\n",
        "explorer/pipeline/__init__.py": "",
        "explorer/cli.py": "from explorer.commands import train\n",
        "explorer/commands/train.py": "from explorer.pipeline import x\n",
        "pages/ok.py": "from explorer.ui import ok\n",
        "explorer/data/ok.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from explorer.jobs import runs\n",
        "explorer/jobs/runs.py": "from explorer.core.errors import E\n",
        "explorer/core/errors.py": "",
    })
    assert violations(root) == []


def test_the_cycle_finder_finds_a_cycle_hidden_inside_functions(tmp_path):
    root = _plant(tmp_path, {
        "explorer/data/a.py": "def f():\n    from explorer.data import b\n",
        "explorer/data/b.py": "from explorer.data.c import x\n",
        "explorer/data/c.py": "def g():\n    import explorer.data.a\n",
        "explorer/data/d.py": "from explorer.data import a\n",
    })
    assert cycles(root) == [["explorer.data.a", "explorer.data.b", "explorer.data.c"]]


def test_importing_the_library_and_cli_does_not_import_torch_or_streamlit():
    code = (
        "import sys, explorer, explorer.cli, explorer.core.config, explorer.data;"
        "explorer.cli.build_parser();"
        "bad=[m for m in ('torch','streamlit','sentence_transformers','chromadb','umap') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
