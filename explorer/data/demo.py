"""The bundled demo dataset: a small BEIR folder shipped in ``explorer/data/demo/``.

It has a fixed train/test split (``qrels/train.tsv`` and ``qrels/test.tsv``, grades 3/2/1), so every demo
run trains and evaluates on the same queries and results are comparable across sessions.
"""

from __future__ import annotations

from pathlib import Path

from explorer.data.model import Dataset
from explorer.core.errors import DataError

DEMO_DIR = Path(__file__).resolve().with_name("demo")
DEMO_NAME = "demo"


def demo_available() -> bool:
    """Whether the demo files are present (they ship with the package)."""
    return (DEMO_DIR / "corpus.jsonl").is_file() and (DEMO_DIR / "queries.jsonl").is_file()


def load_demo(*, name: str | None = None) -> Dataset:
    """Load the bundled demo dataset with its fixed split.

    Args:
        name: display name (default ``"demo"``).

    Raises:
        DataError: the demo files are missing (a broken installation).
    """
    from explorer.data.beir import load_beir
    from explorer.data.limits import Limits

    if not demo_available():
        raise DataError(
            f"The bundled demo data is missing from {DEMO_DIR}; reinstall the explorer, or load another dataset."
        )
    # The demo ships with the package, the same for every visitor: the library's default caps, which it fits
    # well within, rather than a workspace's.
    ds = load_beir(DEMO_DIR, name=name or DEMO_NAME, limits=Limits())
    ds.source = DEMO_NAME
    return ds
