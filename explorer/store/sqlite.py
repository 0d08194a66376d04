"""Give chromadb a new enough SQLite before it is imported.

chromadb needs SQLite >= 3.35; Debian 11 (Streamlit Community Cloud) ships 3.34. The wheel
``pysqlite3-binary`` (Linux only, in requirements.txt) bundles a recent SQLite; registering it as
``sqlite3`` in ``sys.modules`` before chromadb's first import makes chromadb use it. This is the swap
Chroma's own troubleshooting guide recommends; it changes nothing where the system SQLite is recent enough.
"""

from __future__ import annotations

import sys

from explorer.core.errors import StorageError

CHROMA_MIN_SQLITE = (3, 35, 0)


def sqlite_version() -> tuple[int, ...]:
    """Version of the SQLite library that ``import sqlite3`` gives right now."""
    import sqlite3

    return tuple(sqlite3.sqlite_version_info)


def ensure_modern_sqlite(minimum: tuple[int, ...] = CHROMA_MIN_SQLITE) -> bool:
    """Make ``import sqlite3`` give SQLite >= ``minimum``, swapping in pysqlite3 on Linux when needed.

    Returns:
        True when a swap happened, False when the system SQLite was already new enough.

    Raises:
        StorageError: the system SQLite is too old and pysqlite3 is missing or too old as well.
    """
    current = sqlite_version()
    if current >= tuple(minimum):
        return False
    have = ".".join(map(str, current))
    need = ".".join(map(str, minimum))
    if not sys.platform.startswith("linux"):
        raise StorageError(f"The vector store needs SQLite >= {need}, this Python has {have}; upgrade Python or SQLite.")
    try:
        import pysqlite3
        import pysqlite3.dbapi2
    except ImportError as exc:
        raise StorageError(
            f"The vector store needs SQLite >= {need}, the system has {have}; install the wheel that bundles a "
            "newer one: pip install pysqlite3-binary"
        ) from exc
    if tuple(pysqlite3.dbapi2.sqlite_version_info) < tuple(minimum):
        raise StorageError(f"pysqlite3 bundles SQLite {pysqlite3.dbapi2.sqlite_version}, older than the {need} the vector store needs; upgrade pysqlite3-binary.")
    sys.modules["sqlite3"] = pysqlite3
    sys.modules["sqlite3.dbapi2"] = pysqlite3.dbapi2
    return True
