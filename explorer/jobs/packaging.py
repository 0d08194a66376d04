"""A finished run packaged for download: its model (or adapter), an ONNX export, a model card, its config.

:func:`package` zips the run's ``model/`` (or ``adapter/``, or ``nudge/``: nudged passage vectors with
``apply_nudge.py``) folder, or an ONNX export of a full fine-tune made
once and kept in the run folder (see :mod:`explorer.encoders.export`), with the explorer's model card
(:mod:`explorer.jobs.modelcard`) and ``config.json``. The zip is written to a temporary file and renamed, and is
reused while it is newer than what it packs.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import zipfile
from pathlib import Path

from explorer.core.errors import StorageError
from explorer.jobs.runs import Run
from explorer.jobs.modelcard import CARD_FILE


def package(run: Run, kind: str = "model") -> Path:
    """The run's model (or adapter) folder, plus config.json, as a zip for download.

    Args:
        run: the run (from :meth:`explorer.jobs.runs.RunStore.get`).
        kind: "model" (the model or adapter as trained), or "onnx" / "onnx-int8": an ONNX export of a full
            fine-tune, made once and kept in the run folder.

    Raises:
        StorageError: the run has no finished model or adapter, or the export cannot be written.
        ModelError: an ONNX export of an adapter run (it has no transformer of its own) or a failed export.
    """
    source = run.artifact_dir
    if not source.is_dir():
        raise StorageError(f"Run {run.id} has no {source.name}/ folder (state: {run.state}); nothing to download.")
    if kind != "model":
        source = _export(run, kind)
    target = run.path / f"{run.id}-{source.name}.zip"
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    tmp = run.path / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(source.rglob("*")):
                if file.is_file() and file != source / CARD_FILE:  # the explorer's card replaces ST's own
                    zf.write(file, Path(source.name) / file.relative_to(source))
            zf.writestr(f"{source.name}/{CARD_FILE}", _card(run, source, kind))
            snippet = api_snippet(run.config) if kind == "model" and run.method == "adapter" else None
            if snippet is not None:
                zf.writestr(f"{source.name}/{API_SNIPPET_FILE}", snippet)
            if kind == "model" and run.method == "nudge":
                zf.writestr(f"{source.name}/{NUDGE_SNIPPET_FILE}", NUDGE_SNIPPET)
            if (run.path / "config.json").is_file():
                zf.write(run.path / "config.json", "config.json")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
    return target


API_SNIPPET_FILE = "apply_adapter.py"
"""Beside an adapter over an API model: the few lines that apply it to that API's vectors."""
_API_SNIPPET = '''"""Apply this adapter to {model}'s embeddings from {endpoint}.

Needs numpy, safetensors and openai (pip install numpy safetensors openai); the key is read from the
environment variable OPENAI_API_KEY (a local compatible server may need none). Queries go through the
adapter; passages keep the API's own vectors when adapter.json says query_only.
"""
import json, os
from pathlib import Path

import numpy as np
from openai import OpenAI
from safetensors.numpy import load_file

HERE = Path(__file__).parent
tensors = load_file(HERE / "adapter.safetensors")
config = json.loads((HERE / "adapter.json").read_text())
client = OpenAI(base_url={endpoint!r}, api_key=os.environ.get("OPENAI_API_KEY") or "no-key")


def embed(texts, kind="query"):
    """Unit vectors of ``texts`` from the API, adapted when ``kind`` is "query" (or always, if not query-only)."""
    extra = {dimensions}
    data = client.embeddings.create(model={model!r}, input=list(texts), **extra).data
    v = np.array([d.embedding for d in sorted(data, key=lambda d: d.index)], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    if kind == "query" or not config["query_only"]:
        v = v @ tensors["weights"] + tensors.get("bias", 0.0)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


if __name__ == "__main__":
    print(embed(["a query"]).shape)
'''


NUDGE_SNIPPET_FILE = "apply_nudge.py"
"""Beside nudged passages: the few lines that put them in place of the base model's passage vectors."""
NUDGE_SNIPPET = '''"""Put the nudged passage vectors in place of the base model's (see nudge.json for the base model).

Needs numpy and safetensors. Embed passages with the base model as usual (unit vectors), then call
``apply(texts, vectors)``: a passage whose exact text was in the training corpus gets its nudged vector, any
other passage keeps the base vector. Queries are never changed.
"""
import hashlib
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

HERE = Path(__file__).parent
table = load_file(HERE / "nudge.safetensors")
row = {bytes(d).hex(): i for i, d in enumerate(table["text_sha1"])}


def apply(texts, vectors):
    """``vectors`` (one base-model passage vector per text) with the nudged rows put in."""
    out = np.array(vectors, dtype=np.float32, copy=True)
    for i, text in enumerate(texts):
        j = row.get(hashlib.sha1(text.encode("utf-8", errors="surrogatepass")).hexdigest())
        if j is not None:
            out[i] = table["vectors"][j]
    return out


if __name__ == "__main__":
    print(f"{len(row)} nudged passages of dimension {table['vectors'].shape[1]}")
'''


def api_snippet(config: dict) -> str | None:
    """``apply_adapter.py`` for an adapter run over an API model (``openai:...`` base), else None: the model,
    endpoint and dimensions come from the run's config (which never holds a key)."""
    from explorer.encoders.openai import OPENAI_URL, ApiModel

    base = str(config.get("base_model") or "")
    if not base.lower().startswith("openai:"):
        return None
    api = ApiModel.parse(base)
    return _API_SNIPPET.format(model=api.model, endpoint=api.base_url or OPENAI_URL,
                               dimensions=f"{{'dimensions': {api.dimensions}}}" if api.dimensions else "{}")


def _card(run: Run, source: Path, kind: str) -> str:
    """The model card of a download (see :mod:`explorer.jobs.modelcard`)."""
    from explorer.jobs.modelcard import model_card

    meta = {}
    if (source / "export.json").is_file():
        meta = json.loads((source / "export.json").read_text(encoding="utf-8"))
    card_kind = run.method if kind == "model" and run.method in ("adapter", "nudge") else kind
    return model_card(run.config, run.evaluation(), kind=card_kind, folder=source.name,
                      max_seq_length=meta.get("max_seq_length"), name=run.name)


def _export(run: Run, kind: str) -> Path:
    """``export-<kind>/`` in the run folder, written once (into a temporary folder, then renamed)."""
    from explorer.core.errors import ModelError
    from explorer.encoders.export import KINDS, export_model

    if kind not in KINDS:
        raise ValueError(f"kind must be 'model' or one of {', '.join(KINDS)}, got {kind!r}")
    if run.method != "full":
        what = "nudged passage vectors" if run.method == "nudge" else "an adapter"
        raise ModelError(f"Run {run.id} trained {what}, which has no transformer to export to ONNX; "
                         f"download the {'table' if run.method == 'nudge' else 'adapter'} itself, or export a full fine-tune.")
    folder = run.path / f"export-{kind}"
    if (folder / "export.json").is_file():
        return folder
    tmp = run.path / f".export-{kind}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        export_model(run.model_dir, tmp, kind)  # type: ignore[arg-type]
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except OSError as exc:
        raise StorageError(f"Cannot write the {kind} export of run {run.id}: {exc.strerror or exc}.") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
