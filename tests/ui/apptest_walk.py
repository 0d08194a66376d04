"""Reading everything an AppTest run drew: every element's protobuf, for checks over the whole page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def elements(at) -> Iterator[Any]:
    """Every element of the last run (main area, sidebar, expanders, columns, toasts ...), depth first."""
    stack = [at._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            stack.extend(children.values())
        else:
            yield node


def shown_text(at) -> str:
    """All the text of the last run's elements (their protobuf messages, labels and help included)."""
    return "\n".join(str(getattr(e, "proto", "")) for e in elements(at))
