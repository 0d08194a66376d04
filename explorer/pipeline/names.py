"""Names people can read: runs by what they are, stored models by their spec, never only by an id hash.

A run reads "MiniLM fine-tune · 3 layers · 1 epoch · 14:02" or "MiniLM + adapter · 14:05" (:func:`describe_run`,
from its config.json); two runs that would read the same get the end of their id (:func:`run_labels`). A stored
model that is not a run is a choice key ``"model:<spec>"`` (:func:`model_key`) named by its spec's display name.
"""

from __future__ import annotations

import time
from typing import Any

from explorer.workspace import Workspace

MODEL_PREFIX = "model:"
"""Keys of stored non-run models start with this, followed by the model spec."""


def model_key(spec: str) -> str:
    """The choice key of a stored model (``"model:bm25"``)."""
    return MODEL_PREFIX + spec


def model_spec(key: str | None) -> str | None:
    """The model spec a choice key names, or None for the baseline and runs."""
    return key[len(MODEL_PREFIX):] if key and key.startswith(MODEL_PREFIX) else None


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
            labels[run_id] = describe_run(run.config, run.status.get("created"))
        except Exception:  # noqa: BLE001 - an unreadable run keeps a plain name, never breaks a page
            labels[run_id] = f"run {run_id[-6:]}"
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {r: (f"{label} · {r[-6:]}" if counts[label] > 1 else label) for r, label in labels.items()}


