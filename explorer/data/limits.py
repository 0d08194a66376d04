"""The caps every loader applies *while* it parses, so an oversized dataset is refused early, not after.

A public server has 2.7 GB for everyone, so a cap checked only once a file is fully parsed comes too late:
the memory was spent. :class:`Limits` carries every cap (file size, unpacked size of ``.gz`` / ``.zip``,
queries, passages, rows, negatives per query, characters per text) from the workspace's settings down to
the loaders, which count as they read and stop at the first item over a cap with a message naming the file,
the line, the cap and what to do. What to do depends on who reads it: a public visitor is offered what they can
do (a sample, a smaller file, a shorter text), never a server setting they cannot change; the owner of a
local server is also told which setting raises the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from explorer.core.errors import DataError, OverCapError

if TYPE_CHECKING:  # pragma: no cover
    from explorer.core.config import Settings

MB = 1024 * 1024
SAMPLE_FROM = 10
"""A dataset over the passage or query cap can be loaded as a sample when it is at most this many times over."""


@dataclass(frozen=True)
class Limits:
    """Caps on one dataset; build one with :meth:`from_settings`.

    Attributes:
        max_bytes: size of one file as uploaded (``EXPLORER_MAX_UPLOAD_MB``).
        max_unpacked_bytes: what a ``.gz`` or ``.zip`` may unpack to, all files together
            (``EXPLORER_MAX_UNPACKED_MB``).
        max_passages: passages in the corpus (``EXPLORER_MAX_PASSAGES``).
        max_queries: queries (``EXPLORER_MAX_QUERIES``).
        max_negatives_per_query: hard-negative candidates kept per query; more are skipped and counted in
            the dataset's notes (``EXPLORER_MAX_NEGATIVES_PER_QUERY``).
        max_text_chars: characters of one query or passage (``EXPLORER_MAX_TEXT_CHARS``).
        public: the caps are a public server's: messages never name a setting (:meth:`raise_hint`).
    """

    max_bytes: int = 200 * MB
    max_unpacked_bytes: int = 800 * MB
    max_passages: int = 200_000
    max_queries: int = 100_000
    max_negatives_per_query: int = 200
    max_text_chars: int = 100_000
    public: bool = False

    @classmethod
    def from_settings(cls, settings: "Settings", max_bytes: int | None = None) -> "Limits":
        """The caps of ``settings`` (a workspace's, in public mode); ``max_bytes`` overrides the file size."""
        return cls(
            max_bytes=int(max_bytes) if max_bytes is not None else int(settings.max_upload_mb * MB),
            max_unpacked_bytes=int(settings.max_unpacked_mb * MB),
            max_passages=int(settings.max_passages),
            max_queries=int(settings.max_queries),
            max_negatives_per_query=int(settings.max_negatives_per_query),
            max_text_chars=int(settings.max_text_chars),
            public=bool(settings.public),
        )

    def raise_hint(self, variable: str) -> str:
        """``", or raise the limit with VARIABLE"`` for a local server's owner; nothing for a public visitor."""
        return "" if self.public else f", or raise the limit with {variable}"

    @property
    def max_rows(self) -> int:
        """Rows of a pairs table: each row judges one (query, passage) pair, so a table within the query and
        passage caps has at most about this many (a row beyond it is refused before it is parsed)."""
        return self.max_passages + self.max_queries

    def check_queries(self, count: int, label: str, where: str = "") -> None:
        """Raise when ``count`` queries exceed :attr:`max_queries` (``where``: the line reached)."""
        _check_count(count, self.max_queries, "queries", label, where, "a smaller file (a sample of the queries)",
                     self.raise_hint("EXPLORER_MAX_QUERIES"))

    def check_passages(self, count: int, label: str, where: str = "") -> None:
        """Raise when ``count`` passages exceed :attr:`max_passages`."""
        _check_count(count, self.max_passages, "passages", label, where, "a smaller file (a sample of the corpus)",
                     self.raise_hint("EXPLORER_MAX_PASSAGES"))

    def check_rows(self, count: int, label: str) -> None:
        """Raise when a table has more than :attr:`max_rows` rows."""
        if count > self.max_rows:
            raise OverCapError(
                f"{label} has more than {self.max_rows:,} rows, more than this server's limits of "
                f"{self.max_queries:,} queries and {self.max_passages:,} passages allow; use a sample of it."
            )

    def to_sample_from(self) -> "Limits":
        """The caps while a sample is drawn: :data:`SAMPLE_FROM` times the passages and queries (and so rows);
        the file and unpacked sizes stay, and they bound the memory a parse can take."""
        from dataclasses import replace

        return replace(self, max_passages=self.max_passages * SAMPLE_FROM, max_queries=self.max_queries * SAMPLE_FROM)

    def check_text(self, text: str, label: str, where: str) -> str:
        """``text`` itself, or raise when it is longer than :attr:`max_text_chars`."""
        if len(text) > self.max_text_chars:
            raise DataError(
                f"{label}: {where} has a text of {len(text):,} characters; this server accepts at most "
                f"{self.max_text_chars:,} per query or passage (the model reads only the first few hundred words "
                f"anyway); shorten it{self.raise_hint('EXPLORER_MAX_TEXT_CHARS')}."
            )
        return text


def resolve_limits(limits: Limits | None, max_bytes: int | None = None) -> Limits:
    """``limits`` as given (with ``max_bytes`` overriding the file size), else the local settings' caps.

    Loaders take ``limits`` as an argument; the pipeline passes the workspace's. The fallback serves the CLI
    and notebooks only: it goes through :func:`explorer.core.config.settings_for`, so in public mode a loader
    called without limits raises instead of applying caps that are not the visitor's.

    Raises:
        WorkspaceRequiredError: public mode and no ``limits`` given.
    """
    if limits is not None:
        if max_bytes is not None and max_bytes != limits.max_bytes:
            from dataclasses import replace

            return replace(limits, max_bytes=int(max_bytes))
        return limits
    from explorer.core.config import settings_for

    return Limits.from_settings(settings_for(None, "apply a dataset's size limits"), max_bytes)


def _check_count(count: int, limit: int, noun: str, label: str, where: str, sample: str, hint: str) -> None:
    """The query and passage caps' shared refusal: what overflowed, where, and how to get under the limit
    (``hint``: :meth:`Limits.raise_hint`)."""
    if count > limit:
        at = f" (reached at {where})" if where else ""
        raise OverCapError(f"{label} has more than {limit:,} {noun}{at}, the most this server accepts; "
                        f"use {sample}{hint}.")
