"""Load pair datasets from the Hugging Face hub (``hf:sentence-transformers/natural-questions`` ...).

Sentence-transformers publishes its training sets as tables of (anchor, positive[, negative]) or
(query, answer) columns. They are fetched with :func:`datasets.load_dataset` and converted through the
same path as an uploaded table (:func:`explorer.data.pairs.frame_to_dataset`), so ids, de-duplication,
grades and the split follow the table rules; a ``negative`` column becomes hard-negative candidates.

The hub is often unreachable (offline machines, firewalls), so the same function also takes a local data
file of the same shape or an in-memory :class:`datasets.Dataset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from explorer.data.model import Dataset
from explorer.data.tables import ColumnMap
from explorer.errors import DataError

HUB_PREFIX = "hf:"


def _is_hf_dataset(obj: Any) -> bool:
    return hasattr(obj, "to_pandas") and hasattr(obj, "column_names")


def fetch_hub(name: str, *, split: str = "train", config: str | None = None, max_rows: int | None = None) -> Any:
    """Download (or read from the local cache) one split of a hub dataset as a :class:`datasets.Dataset`.

    Raises:
        DataError: the hub cannot be reached, the dataset does not exist, or the split is unknown.
    """
    import datasets  # heavy: imported only when the hub is actually used

    spec = split if max_rows is None else f"{split}[:{int(max_rows)}]"
    try:
        return datasets.load_dataset(name, config, split=spec)
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
) -> Dataset:
    """Load a hub pair dataset, a local file of the same shape, or an in-memory ``datasets.Dataset``.

    Args:
        source: ``"hf:owner/name"`` (or ``"owner/name"``, optionally ``":config"`` at the end), a path to a CSV/TSV/JSONL/Parquet file, or a
            :class:`datasets.Dataset` / ``DatasetDict``.
        split: the hub split to use (our own train/test split is then made by query).
        config: the hub dataset's configuration (subset), if it has several.
        name: dataset name (default: the hub name's last part or the file name).
        columns: column map; default: guessed (anchor/query/question, positive/answer/passage, negative).
        test_fraction: share of queries held out for testing.
        seed: seed of the split.
        max_rows: use only the first rows (large hub datasets).
        max_bytes: size limit for a local file.
        local_files: whether ``source`` may name a local file or folder. False (public mode): only hub ids,
            and a name that happens to exist on the server's disk is refused rather than read.

    Raises:
        DataError: the hub cannot be reached ("upload the file instead"), or the table is malformed.
    """
    from explorer.data.pairs import frame_to_dataset
    from explorer.data.tables import load_table, resolve_columns

    if isinstance(source, (str, Path)) and not _is_hf_dataset(source):
        text = str(source)
        hub_name = text[len(HUB_PREFIX):] if text.startswith(HUB_PREFIX) else text
        if local_files and Path(hub_name).expanduser().is_file():
            return load_table(Path(hub_name).expanduser(), columns, name=name, test_fraction=test_fraction,
                              seed=seed, max_bytes=max_bytes)
        if not hub_name.strip():
            raise DataError("No Hugging Face dataset named; write it as hf:owner/name.")
        if ":" in hub_name and config is None and not Path(hub_name).exists():
            hub_name, config = hub_name.split(":", 1)
        if not local_files and (Path(hub_name).is_absolute() or Path(hub_name).expanduser().exists()
                                or ".." in hub_name):
            # datasets.load_dataset reads a local folder or file of that name before asking the hub.
            raise DataError("That is not a Hugging Face dataset id; write it as owner/name.")
        table = fetch_hub(hub_name, split=split, config=config, max_rows=max_rows)
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
    if max_rows is not None and len(table) > max_rows:
        table = table.select(range(int(max_rows)))
    df = table.to_pandas()
    if df.empty:
        raise DataError(f"{label} has no rows; pick another split or dataset.")
    cmap = resolve_columns(df, columns, label)
    return frame_to_dataset(df, cmap, name=name or default_name, label=label, source=origin,
                            test_fraction=test_fraction, seed=seed)
