"""Pipeline steps 1-3: load a dataset (demo, upload, hub), pick the encoder, baseline, negatives."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.config import Settings, settings_for
from explorer.core.errors import DataError, OverCapError
from explorer.core.memory import releasing_memory
from explorer.core.progress import Progress
from explorer.core.storage import write_bytes_atomic
from explorer.workspace import DatasetChoice, Workspace

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from explorer.data.model import Dataset
    from explorer.data.negatives import NegativeSet
    from explorer.encoders.base import Encoder
    from explorer.evaluation.retrieval import RetrievalResult

UPLOAD_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".zip", ".gz")


# ------------------------------------------------------------------------------------------ data
def load_dataset(choice: DatasetChoice, settings: Settings | None = None) -> "Dataset":
    """Load (and split) the dataset a :class:`DatasetChoice` names, enforcing the corpus-size cap.

    Args:
        choice: what to load.
        settings: the workspace's settings (required in public mode, where the spec is also checked by
            :func:`check_public_spec`).

    With ``choice.sample``, data over the passage or query cap (up to :data:`explorer.data.limits.SAMPLE_FROM`
    times over) is read and a seeded sample within the caps is kept (:func:`explorer.data.sampling.within_caps`).

    Raises:
        OverCapError: the corpus or the queries exceed ``settings``' caps (and, with ``choice.sample``, exceed
            them more than a sample is drawn from).
        DataError: the file is malformed, or (public mode) the spec names something other than the demo, a hub
            id or one of the workspace's own uploads.
    """
    from explorer.data.limits import Limits
    from explorer.data.loaders import load_dataset as _load
    from explorer.data.sampling import within_caps

    settings = settings_for(settings, "load a dataset")
    if settings.public:
        check_public_spec(choice.spec, settings)
    # The workspace's caps reach every loader, which counts while it parses; a visitor's hub request is
    # anonymous (never the owner's HF_TOKEN).
    limits = Limits.from_settings(settings)
    ds = _load(choice.spec, name=choice.name or None, columns=choice.columns,
               test_fraction=choice.test_fraction, seed=choice.seed, local_files=not settings.public,
               limits=limits.to_sample_from() if choice.sample else limits,
               hub_token=False if settings.public else None)
    if choice.sample:
        return within_caps(ds, settings.max_passages, settings.max_queries, choice.seed)
    if len(ds.corpus) > settings.max_passages:
        raise OverCapError(
            f"{choice.name or ds.name} has {len(ds.corpus):,} passages; this server accepts at most "
            f"{settings.max_passages:,}. Load a sample of it, or a smaller file."
        )
    return ds


HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*(:[A-Za-z0-9][A-Za-z0-9_.-]*)?")
"""A Hugging Face dataset id, ``owner/name`` with an optional ``:config``; never a path."""


def check_public_spec(spec: str, settings: Settings) -> None:
    """Refuse, in public mode, any dataset spec that could name a server path.

    Accepted: ``"demo"``, ``"hf:owner/name"`` or ``"hf:owner/name:config"`` (no ``..``, no leading slash or
    dot), and files directly inside this workspace's own upload folder (as :func:`save_upload` wrote them).

    Raises:
        DataError: anything else, with what is accepted.
    """
    if spec == "demo":
        return
    if spec.startswith("hf:"):
        hub_id = spec[3:]
        if HUB_ID.fullmatch(hub_id) and ".." not in hub_id:
            return
        # The typed text is not echoed: it may be a server path, and messages never show those.
        raise DataError(
            "That is not a Hugging Face dataset id: write it as owner/name (optionally owner/name:config), "
            "for example sentence-transformers/natural-questions."
        )
    uploads = settings.uploads_dir.resolve()
    path = Path(spec)
    if path.parent.resolve() == uploads and not path.is_symlink() and path.is_file():
        return
    raise DataError("On this public server a dataset is the demo, a Hugging Face dataset id (owner/name) or a "
                    "file you uploaded; server paths cannot be loaded.")


def save_upload(filename: str, data: bytes, settings: Settings | None = None) -> Path:
    """Keep an uploaded file in the workspace's upload folder (so a reload can load it again).

    The file is written atomically (temporary file, then rename), so a full disk never leaves a truncated
    file behind that a later load would read as if whole.

    Args:
        filename: the name the browser gave (only its last part is kept, made safe).
        data: the file's bytes.
        settings: the workspace's settings (required in public mode, so uploads never land outside it).

    Returns:
        The stored file's path, inside ``settings.uploads_dir``.

    Raises:
        DataError: unsupported file type, empty file, or a file larger than ``settings.max_upload_mb``.
        StorageError: the folder cannot be written.
    """
    settings = settings_for(settings, "store an upload")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).name).lstrip(".") or "upload"
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise DataError(f"{filename}: unsupported file type; upload one of {', '.join(UPLOAD_SUFFIXES)}.")
    if not data:
        raise DataError(f"{filename} is empty; upload a file with a header and at least one row.")
    size_mb = len(data) / 1e6
    if size_mb > settings.max_upload_mb:
        raise DataError(f"{filename} is {size_mb:.1f} MB; the limit here is {settings.max_upload_mb:.0f} MB.")
    path = settings.uploads_dir / name
    # Pages call this on every rerun while the file sits in the uploader: rewrite only what changed, so
    # the file's modification time (part of the UI's dataset cache key) stays put.
    if not (path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data):
        write_bytes_atomic(path, data)
    return path


def table_preview(path: Path, rows: int = 20, settings: Settings | None = None) -> tuple["pd.DataFrame", dict[str, Any]]:
    """The first rows of an uploaded table and a guessed column mapping (role -> column or None).

    Only the first ``rows`` rows are read (the page calls this on every rerun); the whole table is read once,
    when it is loaded, and the caps are checked then.

    Args:
        path: the uploaded file.
        rows: rows to read and return.
        settings: the workspace's settings (required in public mode).

    Raises:
        DataError: the file cannot be read as a table (the message says where and why).
    """
    from explorer.data import columns, tables

    settings_for(settings, "preview an upload")
    head = tables.read_head(Path(path), rows)
    try:
        guess = columns.guess_columns(head).to_dict()
    except DataError:
        # No obvious query/passage column: still prefill what can be guessed; the user maps the rest.
        guess = dict(columns.guess_partial(head))
    guess["negatives"] = list(guess.get("negatives") or ())
    return head, guess


def is_table(path: Path) -> bool:
    """Whether an upload is a plain table (CSV/TSV/JSONL/Parquet) that needs a column mapping.

    BEIR zips and Natural Questions files carry their own structure, so they load without one.
    """
    from explorer.data.loaders import detect_kind

    return detect_kind(Path(path)) == "table"


# ------------------------------------------------------------------------------------------ encoders
def load_encoder(spec: str = "minilm", api_key: str | None = None) -> "Encoder":
    """An encoder by spec: "minilm" (the bundled default; ``EXPLORER_ENCODER=fake`` turns it into the fast
    fake), a run folder (its fine-tuned model or adapter), a model folder or id. ``api_key``: the key of an
    API model (``openai:`` or a run adapting one); by default the server's ``OPENAI_API_KEY``.

    Raises:
        ModelError: the spec names no usable model (the message says why and what to do).
    """
    from explorer.encoders.registry import load_encoder as _load

    return _load(spec, api_key=api_key)


@releasing_memory
def evaluate(dataset: "Dataset", encoder: "Encoder", split: str = "test", k: int = 100,
             progress: Progress | None = None) -> "RetrievalResult":
    """Retrieval metrics of ``encoder`` on ``split``, ``k`` passages per query (embeddings are cached, so a
    second call is cheap). The app's baseline and ``python -m explorer evaluate`` both call it."""
    from explorer.evaluation.retrieval import evaluate_encoder

    return evaluate_encoder(dataset, encoder, split=split, k=k, progress=progress)


# ------------------------------------------------------------------------------------------ negatives
def negatives_path(ws: Workspace) -> Path:
    """Where the workspace's audited negatives live (the next training run reads them)."""
    return ws.negatives_path


MINING_SEED = 13
"""Seed of the random (weak) negatives, the same for the Data page and ``python -m explorer negatives``."""


@releasing_memory
def negatives(dataset: "Dataset", encoder: "Encoder", *, split: str = "train", num_negatives: int = 3,
              hard: bool = True, weak: int = 0, range_min: int = 0, range_max: int = 50,
              relative_margin: float | None = 0.05, absolute_margin: float | None = None,
              max_score: float | None = None, include_candidates: bool = True, seed: int = MINING_SEED,
              progress: Progress | None = None) -> "NegativeSet":
    """Negatives of the judged queries of ``split``: hard ones mined with ``encoder`` (guarded against false
    negatives: rank window, margins, max score) and/or ``weak`` random ones per positive. The Data page and
    ``python -m explorer negatives`` both call it, with the same defaults.

    Raises:
        DataError: neither kind asked for, or options that contradict each other (e.g. more negatives than
            the rank window holds).
    """
    from explorer.data.negatives import NegativeSet, mine_hard_negatives, weak_negatives

    if not hard and weak <= 0:
        raise DataError("Choose weak negatives, hard negatives or both.")
    parts = []
    try:
        if hard:
            parts.append(mine_hard_negatives(
                dataset, encoder, split=split, num_negatives=num_negatives, range_min=range_min,
                range_max=range_max, relative_margin=relative_margin, absolute_margin=absolute_margin,
                max_score=max_score, include_candidates=include_candidates, progress=progress))
        if weak > 0:
            parts.append(weak_negatives(dataset, split, per_positive=weak, seed=seed))
    except ValueError as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"Invalid options: {exc}") from None
    return NegativeSet.concat(parts) if len(parts) > 1 else parts[0]


def mine_negatives(ws: Workspace, dataset: "Dataset", encoder: "Encoder", *, num_negatives: int = 3,
                   range_max: int = 50, relative_margin: float = 0.05, weak: bool = True,
                   hard: bool = True, seed: int = MINING_SEED) -> "NegativeSet":
    """:func:`negatives` of the train split (``weak``: as many random ones per positive as hard ones), with
    the workspace's earlier exclusions applied, saved in the workspace (the next training run reads them).

    Returns:
        The saved :class:`~explorer.data.negatives.NegativeSet`.
    """
    negs = negatives(dataset, encoder, split="train", num_negatives=num_negatives, hard=hard,
                     weak=num_negatives if weak else 0, range_max=range_max, relative_margin=relative_margin,
                     seed=seed)
    negs = apply_exclusions(ws, negs)
    negs.save(negatives_path(ws))
    return negs


def apply_exclusions(ws: Workspace, negs: "NegativeSet") -> "NegativeSet":
    """Exclude the (query, negative) pairs the workspace remembers from earlier audits."""
    pairs = [tuple(key.split("|", 1)) for key in ws.excluded_negatives() if "|" in key]
    return negs.exclude(pairs) if pairs else negs


def save_audit(ws: Workspace, negs: "NegativeSet", excluded_rows: list[int]) -> "NegativeSet":
    """Apply an audit (the row indices a person marked excluded), remember the pairs, save the set."""
    rows = set(excluded_rows)
    include = [i for i in range(len(negs)) if i not in rows]
    negs = negs.include(include).exclude(sorted(rows))
    ws.set_excluded_negatives([f"{negs[i].qid}|{negs[i].neg_id}" for i in sorted(rows)])
    negs.save(negatives_path(ws))
    return negs


def saved_negatives(ws: Workspace) -> "NegativeSet | None":
    """The workspace's saved negatives, or None."""
    from explorer.data.negatives import NegativeSet

    path = negatives_path(ws)
    return NegativeSet.load(path) if path.exists() else None
