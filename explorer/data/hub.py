"""Load pair datasets from the Hugging Face hub (``hf:sentence-transformers/natural-questions`` ...).

Sentence-transformers publishes its training sets as tables of (anchor, positive[, negative]) or
(query, answer) columns. They are fetched with :func:`datasets.load_dataset` and converted through the
same path as an uploaded table (:func:`explorer.data.pairs.frame_to_dataset`), so ids, de-duplication,
grades and the split follow the table rules; a ``negative`` column becomes hard-negative candidates.

The hub is often unreachable (offline machines, firewalls), so the same function also takes an in-memory
:class:`datasets.Dataset`; ``hf:<path>`` of a local file of the same shape is loaded as a table by
:func:`explorer.data.loaders.load_dataset`.

Bounded for a shared server (public mode): the dataset's size is read from the hub's metadata
(:meth:`huggingface_hub.HfApi.dataset_info` with file sizes) and a dataset over ``max_download_bytes`` is
refused before anything is downloaded; rows are *streamed* (``load_dataset(..., streaming=True)``) and only
the first ``max_rows`` are taken; and ``token=False`` makes the request anonymous, so a visitor never uses
the owner's ``HF_TOKEN`` (private or gated datasets of the owner stay out of reach).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from explorer.data.limits import Limits, resolve_limits
from explorer.data.model import Dataset
from explorer.data.columns import ColumnMap, resolve_columns
from explorer.data.pairs import frame_to_dataset
from explorer.data.validation import human_size
from explorer.core.errors import DataError

HUB_PREFIX = "hf:"
_DATA_SUFFIXES = (".parquet", ".csv", ".tsv", ".json", ".jsonl", ".arrow", ".gz", ".zip", ".zst", ".txt", ".tar")


def _is_hf_dataset(obj: Any) -> bool:
    return hasattr(obj, "to_pandas") and hasattr(obj, "column_names")


def hub_size(name: str, config: str | None = None, *, token: bool | str | None = None) -> int | None:
    """Bytes of a hub dataset's data files, from the hub's metadata (nothing is downloaded).

    Sums the sizes :meth:`huggingface_hub.HfApi.dataset_info` reports with ``files_metadata=True`` for the
    data files (Parquet, CSV, JSON lines, archives ...); with a ``config``, only files under a folder of that
    name when there are any (hub datasets keep one folder per config). None when the hub gives no sizes.

    Raises:
        DataError: the dataset does not exist (or is private or gated) or the hub cannot be reached.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        info = HfApi().dataset_info(name, files_metadata=True, token=token)
    except RepositoryNotFoundError:
        raise DataError(
            f"Hugging Face dataset {name!r} was not found (or is private or gated); check the name, or upload the file instead."
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise DataError(
            f"could not reach the Hugging Face hub for {name} ({type(exc).__name__}); upload the file instead."
        ) from None
    files = [s for s in (info.siblings or []) if s.rfilename.lower().endswith(_DATA_SUFFIXES)]
    if config:
        mine = [s for s in files if config in s.rfilename.split("/")[:-1]]
        files = mine or files
    sizes = [s.size for s in files if s.size is not None]
    return sum(sizes) if sizes else None


def fetch_hub(name: str, *, split: str = "train", config: str | None = None, max_rows: int | None = None,
              max_download_bytes: int | None = None, token: bool | str | None = None, streaming: bool = False) -> Any:
    """One split of a hub dataset: a :class:`datasets.Dataset`, or (``streaming``) a DataFrame of its first rows.

    Args:
        name: ``owner/name``.
        split: the hub split.
        config: the configuration (subset), if any.
        max_rows: use at most this many rows (streamed, so the rest is never downloaded).
        max_download_bytes: refuse a dataset whose data files total more (checked on the hub's metadata first).
        token: None: the machine's login; False: anonymous (public mode); a string: that token.
        streaming: stream the rows instead of downloading the split (public mode).

    Raises:
        DataError: the hub cannot be reached, the dataset does not exist, is too large, or the split is unknown.
    """
    import datasets  # heavy: imported only when the hub is actually used

    if max_download_bytes is not None:
        size = hub_size(name, config, token=token)
        if size is not None and size > max_download_bytes:
            raise DataError(
                f"Hugging Face dataset {name!r} holds {human_size(size)} of data files, over the "
                f"{human_size(max_download_bytes)} this server downloads; pick a smaller dataset, or upload a sample of it."
            )
    spec = split if (max_rows is None or streaming) else f"{split}[:{int(max_rows)}]"
    try:
        if streaming:
            import pandas as pd

            stream = datasets.load_dataset(name, config, split=spec, streaming=True, token=token)
            if max_rows is not None:
                stream = stream.take(int(max_rows))
            return pd.DataFrame.from_records(list(stream))
        return datasets.load_dataset(name, config, split=spec, token=token)
    except datasets.exceptions.DatasetNotFoundError:
        raise DataError(
            f"Hugging Face dataset {name!r} was not found (or is private or gated); check the name, or upload the file instead."
        ) from None
    except (ConnectionError, TimeoutError) as exc:
        raise DataError(
            f"could not reach the Hugging Face hub for {name} ({type(exc).__name__}); upload the file instead."
        ) from None
    except ValueError as exc:  # unknown split or config
        detail = (str(exc).strip().splitlines() or [""])[0].rstrip(".")
        raise DataError(f"Hugging Face dataset {name!r}: {detail}; pick an existing split or config.") from None
    except OSError as exc:  # network and cache errors that are not ConnectionError subclasses
        raise DataError(
            f"could not reach the Hugging Face hub for {name} ({type(exc).__name__}); upload the file instead."
        ) from None


def load_hub(
    source: Any,
    *,
    split: str = "train",
    config: str | None = None,
    name: str | None = None,
    columns: ColumnMap | Mapping[str, Any] | None = None,
    test_fraction: float = 0.3,
    seed: int = 13,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    local_files: bool = True,
    limits: Limits | None = None,
    token: bool | str | None = None,
) -> Dataset:
    """Load a hub pair dataset, a local file of the same shape, or an in-memory ``datasets.Dataset``.

    Args:
        source: ``"hf:owner/name"`` (or ``"owner/name"``, optionally ``":config"`` at the end), or a
            :class:`datasets.Dataset` / ``DatasetDict``.
        split: the hub split to use (our own train/test split is then made by query).
        config: the hub dataset's configuration (subset), if it has several.
        name: dataset name (default: the hub name's last part or the file name).
        columns: column map; default: guessed (anchor/query/question, positive/answer/passage, negative).
        test_fraction: share of queries held out for testing.
        seed: seed of the split.
        max_rows: use only the first rows (large hub datasets).
        max_bytes: size limit for a local file.
        local_files: False (public mode): a name that happens to exist on the server's disk is refused rather
            than read (``datasets.load_dataset`` would read it). Also makes the
            hub request bounded: size checked on the metadata (at most ``limits.max_unpacked_bytes``), rows
            streamed (at most as many as ``limits`` allows queries or passages), and anonymous unless ``token`` is given.
        limits: caps (default: the configured ones); ``max_rows`` is never more than the query or passage cap.
        token: the hub token: None the machine's login (locally), False none (the default when
            ``local_files`` is False, so a visitor never uses the owner's ``HF_TOKEN``).

    Raises:
        DataError: the hub cannot be reached ("upload the file instead"), or the table is malformed.
    """
    limits = resolve_limits(limits, max_bytes)
    # Hub pair sets have about one query per row: taking more rows than queries allowed would only be refused.
    cap = min(limits.max_queries, limits.max_passages)
    max_rows = cap if max_rows is None else min(int(max_rows), cap)
    if isinstance(source, (str, Path)) and not _is_hf_dataset(source):
        text = str(source)
        hub_name = text[len(HUB_PREFIX):] if text.startswith(HUB_PREFIX) else text
        if not hub_name.strip():
            raise DataError("No Hugging Face dataset named; write it as hf:owner/name.")
        if ":" in hub_name and config is None and not Path(hub_name).exists():
            hub_name, config = hub_name.split(":", 1)
        if not local_files and (Path(hub_name).is_absolute() or Path(hub_name).expanduser().exists()
                                or ".." in hub_name):
            # datasets.load_dataset reads a local folder or file of that name before asking the hub.
            raise DataError("That is not a Hugging Face dataset id; write it as owner/name.")
        public = not local_files
        # One row more than used, so a cut is known (and noted) rather than silent.
        table = fetch_hub(hub_name, split=split, config=config, max_rows=max_rows + 1, streaming=public,
                          max_download_bytes=limits.max_unpacked_bytes if public else None,
                          token=(False if public and token is None else token))
        label, origin = hub_name, HUB_PREFIX + hub_name
        default_name = hub_name.rstrip("/").split("/")[-1]
    elif isinstance(source, Mapping) and all(_is_hf_dataset(v) for v in source.values()):  # a DatasetDict
        if split not in source:
            raise DataError(f"The dataset has no split {split!r}; it has {', '.join(source)}.")
        table, label, origin, default_name = source[split], "the dataset", "datasets.Dataset", "hub"
    elif _is_hf_dataset(source):
        table, label, origin, default_name = source, "the dataset", "datasets.Dataset", "hub"
    else:
        raise ValueError(f"load_hub takes 'hf:<name>', a file path or a datasets.Dataset, not {type(source).__name__}.")
    cut = len(table) > max_rows
    if cut:
        table = table.iloc[:max_rows] if hasattr(table, "iloc") else table.select(range(max_rows))
    df = table if hasattr(table, "iloc") else table.to_pandas()
    if df.empty:
        raise DataError(f"{label} has no rows; pick another split or dataset.")
    cmap = resolve_columns(df, columns, label)
    ds = frame_to_dataset(df, cmap, name=name or default_name, label=label, source=origin,
                          test_fraction=test_fraction, seed=seed, limits=limits)
    if cut:
        ds.notes[f"rows after the first {max_rows:,} (not loaded)"] = 1
    return ds
