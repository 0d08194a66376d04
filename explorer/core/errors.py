"""User-facing errors.

Anything raised as an :class:`ExplorerError` carries a message written for the person using the tool: what is
wrong and what to do about it. The CLI prints it on one line and exits non-zero; the UI shows it in the page.
Any other exception is a bug.
"""

from __future__ import annotations


class ExplorerError(Exception):
    """Base class of errors whose message is meant for the user."""


class DataError(ExplorerError, ValueError):
    """A dataset file or table is malformed (which file, which line or column, and what to do)."""


class OverCapError(DataError):
    """A dataset holds more passages or queries than the server accepts; it can be loaded as a sample instead
    (``DatasetChoice.sample``), which the Data page and the CLI's ``--sample`` offer."""


class ModelError(ExplorerError):
    """A model name, path or API key does not work."""


class TrainingError(ExplorerError):
    """A training run cannot start or failed in a way the user can fix (parameters, data)."""


class StorageError(ExplorerError):
    """A folder the tool writes to is missing, read-only or full."""
