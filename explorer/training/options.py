"""A frozen-model recipe's settings (the adapter's, NUDGE's): built from a run's options over the shared
fields, unknown keys named, each value checked with a one-line message."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from explorer.core.errors import TrainingError


def settings_from(cls: Any, options: dict[str, Any], what: str, **shared: Any) -> Any:
    """``cls`` (a settings dataclass with ``validate``) from a run's ``options`` over ``shared`` fields, validated.

    Raises:
        TrainingError: an unknown option (the known ones listed) or a value out of range, in one line.
    """
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise TrainingError(f"Unknown {what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    return cls(**{**shared, **options}).validate()


def check(checks: Iterable[tuple[bool, str]], what: str, settings: Any) -> None:
    """Raise :class:`TrainingError` for the first failed ``(ok, message)``, after the checks every recipe
    shares (the positive grade, the dev fraction)."""
    shared = [(settings.min_positive_grade is None or settings.min_positive_grade >= 1,
               f"min_positive_grade must be >= 1 (grade 0 means irrelevant), got {settings.min_positive_grade}"),
              (0.0 <= settings.dev_fraction < 1.0, f"dev_fraction must be in [0, 1), got {settings.dev_fraction}")]
    for ok, message in [*checks, *shared]:
        if not ok:
            raise TrainingError(f"{what} setting out of range: {message}.")
