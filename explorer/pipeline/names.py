"""Names people can read: runs by what they are, stored models by their spec, never only by an id hash.

A run reads "MiniLM fine-tune · 3 layers · 1 epoch · 14:02" or "MiniLM + adapter · 14:05" (:func:`describe_run`,
from its config.json); two runs that would read the same get the end of their id (:func:`run_labels`). A stored
model that is not a run is a choice key ``"model:<spec>"`` (:func:`model_key`) named by its spec's display name;
:func:`api_model` says which choices embed through an API (and so need a key for new text).

A user may rename a run (:func:`rename_run`, stored in its folder's ``name.json``): that name then replaces the
description everywhere the run is named. It is user text: the faces show it escaped, and it is never a path
(:func:`file_safe` makes it part of a download's file name).
"""

from __future__ import annotations

import re
import time
from typing import Any

from explorer.jobs.runs import MAX_NAME_CHARS
from explorer.workspace import Workspace

__all__ = ["MAX_NAME_CHARS", "MODEL_PREFIX", "api_model", "describe_run", "file_safe", "generated_name", "model_key",
           "model_spec", "rename_run", "run_labels", "run_name", "short_display"]

MODEL_PREFIX = "model:"
"""Keys of stored non-run models start with this, followed by the model spec."""


def model_key(spec: str) -> str:
    """The choice key of a stored model (``"model:bm25"``)."""
    return MODEL_PREFIX + spec


def model_spec(key: str | None) -> str | None:
    """The model spec a choice key names, or None for the baseline and runs."""
    return key[len(MODEL_PREFIX):] if key and key.startswith(MODEL_PREFIX) else None


def api_model(ws: Workspace, side: str | None) -> str | None:
    """The API model (an ``openai:`` spec) a choice embeds with: the stored model itself, or the base model of a
    run that adapts one; None for every other choice (the baseline, local models, runs over local models)."""
    spec = model_spec(side)
    if spec is None and side:
        try:
            spec = str(ws.runs.get(side).config.get("base_model") or "")
        except Exception:  # noqa: BLE001 - the baseline, or a run that cannot be read: no API behind it
            return None
    return spec if spec and spec.lower().startswith("openai:") else None


def short_display(display: str) -> str:
    """A model's display name without the words every name would repeat ("MiniLM (bundled)" -> "MiniLM")."""
    return display.replace(" (bundled)", "")


def _base_name(spec: str) -> str:
    """A short name of a run's base model ("MiniLM", "static (MiniLM, model2vec)", a folder's name)."""
    from explorer.core.errors import ModelError
    from explorer.encoders.spec import parse_spec

    try:
        display = parse_spec(spec).display
    except (ModelError, OSError, ValueError):
        display = spec.rsplit("/", 1)[-1] or spec
    return short_display(display)


def describe_run(config: dict[str, Any], created: float | None = None) -> str:
    """What a run is, from its config.json: "MiniLM fine-tune · 3 layers · 1 epoch · 14:02" or
    "MiniLM + adapter · 14:05" (the date too when it is not today)."""
    from explorer.training.config import DEFAULT_TRAIN_LAYERS

    base = _base_name(str(config.get("base_model") or "minilm"))
    created = created if created is not None else config.get("created")
    stamp = ""
    if isinstance(created, (int, float)):
        when = time.localtime(float(created))
        stamp = time.strftime("%H:%M" if when[:3] == time.localtime()[:3] else "%b %d %H:%M", when)
    if config.get("method") in ("adapter", "nudge"):
        parts = [f"{base} + {'NUDGE' if config['method'] == 'nudge' else 'adapter'}"]
    else:
        layers = config.get("train_layers")
        layers = DEFAULT_TRAIN_LAYERS if layers is None else int(layers)
        epochs = config.get("epochs") or 1
        parts = [f"{base} fine-tune", "all layers" if layers == 0 else f"{layers} layer{'s' * (layers != 1)}",
                 f"{epochs:g} epoch{'s' * (epochs != 1)}"]
    return " · ".join(parts + ([stamp] if stamp else []))


def run_labels(ws: Workspace, run_ids: list[str]) -> dict[str, str]:
    """Readable, distinct labels of runs (:func:`describe_run`); two runs that read the same get their id's tail."""
    labels = {}
    for run_id in run_ids:
        try:
            run = ws.runs.get(run_id)
            labels[run_id] = run.name or describe_run(run.config, run.status.get("created"))
        except Exception:  # noqa: BLE001 - an unreadable run keeps a plain name, never breaks a page
            labels[run_id] = f"run {run_id[-6:]}"
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {r: (f"{label} · {r[-6:]}" if counts[label] > 1 else label) for r, label in labels.items()}




def rename_run(ws: Workspace, run_id: str, name: str) -> str:
    """Give a run a name of the user's, shown wherever the run is named; an empty name brings back the
    generated one. Returns the name stored ("" when it was cleared).

    Raises:
        ExplorerError: the name is longer than :data:`MAX_NAME_CHARS` characters.
        StorageError: no such run, or its folder cannot be written.
    """
    return ws.runs.rename(run_id, name)


def run_name(ws: Workspace, run_id: str) -> str:
    """The name a user gave the run ("" when it has none, or the run cannot be read)."""
    try:
        return ws.runs.get(run_id).name
    except Exception:  # noqa: BLE001 - a run that vanished has no name to show
        return ""


def generated_name(ws: Workspace, run_id: str) -> str:
    """What the run is called when nobody named it (:func:`describe_run`); "" when it cannot be read."""
    try:
        run = ws.runs.get(run_id)
        return describe_run(run.config, run.status.get("created"))
    except Exception:  # noqa: BLE001 - a run that vanished has no name to show
        return ""


def file_safe(name: str, limit: int = 60) -> str:
    """``name`` reduced to letters, digits, dots and dashes, for a download's file name ("" when nothing is left)."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-.")[:limit].strip("-.")
