"""The home page paints without importing torch (or the other heavy libraries)."""

from __future__ import annotations

import subprocess
import sys

from tests.ui.conftest import ROOT

CODE = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=60)
at.run()
assert not at.exception, at.exception
assert at.title and at.button(key="run_demo")
heavy = [m for m in ("torch", "sentence_transformers", "transformers", "chromadb", "umap", "sklearn") if m in sys.modules]
print("HEAVY", heavy)
sys.exit(1 if heavy else 0)
"""


def test_home_page_does_not_import_torch(explorer_home):
    result = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "EXPLORER_HOME": str(explorer_home),
                                                       "EXPLORER_WARMUP": "off"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


WARM = """
import sys, time
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=60)
at.run()
assert not at.exception, at.exception
for _ in range(600):
    if "sentence_transformers" in sys.modules and "plotly.express" in sys.modules:
        break
    time.sleep(0.1)
print("WARM", "sentence_transformers" in sys.modules, "plotly.express" in sys.modules)
sys.exit(0 if "sentence_transformers" in sys.modules else 1)
"""


def test_server_warms_up_the_heavy_imports_in_the_background(explorer_home):
    """After the home page painted, a background thread imports what the other pages need (so their first
    visit is fast); EXPLORER_WARMUP=0 starts it at once."""
    result = subprocess.run([sys.executable, "-c", WARM], cwd=ROOT, capture_output=True, text=True, timeout=180,
                            env={**__import__("os").environ, "EXPLORER_HOME": str(explorer_home), "EXPLORER_WARMUP": "0"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
