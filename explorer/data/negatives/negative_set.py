"""A table of (query, positive, negative) rows with the scores and flags that explain each one.

A :class:`NegativeSet` is what the negative miners return and what adapter / fine-tune training reads. Each
row keeps the texts (so a saved file can be audited and trained on without the dataset), the encoder's
scores and the negative's rank, and two flags: ``suspect_false_negative`` (a candidate that a false-negative
guard rejected, kept so a person can look at it) and ``excluded`` (not used for training). A set is
immutable: :meth:`NegativeSet.exclude` and friends return a new set.

Files: ``.jsonl``, ``.csv`` or ``.parquet`` (chosen by suffix), with a JSON sidecar ``<file>.meta.json``
holding the mining parameters and the skip counts, which a flat table has no place for.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import DataError, StorageError
from explorer.core.storage import atomic_path, write_json_atomic

if TYPE_CHECKING:  # pandas is imported lazily so the CLI's --help stays instant
    import pandas as pd

FORMATS = (".jsonl", ".csv", ".parquet")
KINDS = ("weak", "hard")


@dataclass(frozen=True)
class NegativeRow:
    """One training triplet and why it is there.

    Attributes:
        qid, query: the query id and text.
        pos_id, positive: a judged relevant passage (grade > 0) and its text.
        neg_id, negative: the negative passage and its text.
        kind: "weak" (random) or "hard" (ranked high by an encoder).
        source: "random", "mined" (from the encoder's ranking) or "candidate" (listed by the dataset).
        pos_score, neg_score: cosine similarity of the query to the positive / negative (NaN for weak ones).
        rank: 0-based rank of the negative among the query's non-relevant passages (-1 when not ranked).
        suspect_false_negative: a guard rejected it as possibly relevant; kept only for auditing.
        excluded: left out of training (suspects start excluded; a person may exclude more).
    """

    qid: str
    query: str
    pos_id: str
    positive: str
    neg_id: str
    negative: str
    kind: str
    source: str = "mined"
    pos_score: float = math.nan
    neg_score: float = math.nan
    rank: int = -1
    suspect_false_negative: bool = False
    excluded: bool = False


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(NegativeRow))
_STR = ("qid", "query", "pos_id", "positive", "neg_id", "negative", "kind", "source")
_FLOAT = ("pos_score", "neg_score")
_BOOL = ("suspect_false_negative", "excluded")


class NegativeSet:
    """An immutable list of :class:`NegativeRow` plus the parameters and skip counts that produced it.

    Args:
        rows: the rows, in order (row indices are positions in this order).
        skipped: reason -> number of candidates a guard rejected.
        params: how the set was made (method, encoder, margins ...), saved alongside the rows.
    """

    def __init__(
        self,
        rows: Iterable[NegativeRow] = (),
        *,
        skipped: dict[str, int] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.rows: tuple[NegativeRow, ...] = tuple(rows)
        self.skipped: dict[str, int] = dict(skipped or {})
        self.params: dict[str, Any] = dict(params or {})

    # ----------------------------------------------------------------------------------------- views
    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[NegativeRow]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> NegativeRow:
        return self.rows[index]

    def __repr__(self) -> str:
        s = self.summary()
        return f"NegativeSet({s['rows']} rows, {s['included']} included, {s['suspects']} suspects, skipped={self.skipped})"

    def _with_rows(self, rows: Iterable[NegativeRow]) -> "NegativeSet":
        return NegativeSet(rows, skipped=self.skipped, params=self.params)

    def to_frame(self) -> "pd.DataFrame":
        """The rows as a pandas DataFrame with the columns of :data:`COLUMNS`, one row per triplet."""
        import pandas as pd

        data = {c: [getattr(r, c) for r in self.rows] for c in COLUMNS}
        frame = pd.DataFrame(data, columns=list(COLUMNS))
        return frame.astype({**{c: "float64" for c in _FLOAT}, **{c: "bool" for c in _BOOL}, "rank": "int64"})

    def included(self) -> "NegativeSet":
        """The rows used for training (not excluded)."""
        return self._with_rows(r for r in self.rows if not r.excluded)

    def suspects(self) -> "NegativeSet":
        """The rows a false-negative guard flagged, for a person to audit."""
        return self._with_rows(r for r in self.rows if r.suspect_false_negative)

    def triplets(self) -> list[tuple[str, str, str]]:
        """(query text, positive text, negative text) of the included rows, for training."""
        return [(r.query, r.positive, r.negative) for r in self.rows if not r.excluded]

    # ----------------------------------------------------------------------------------------- edits
    def exclude(self, ids: Iterable[int | tuple[str, str]]) -> "NegativeSet":
        """A new set with the given rows excluded from training.

        Args:
            ids: row indices, or (qid, neg_id) pairs (which exclude that negative for every positive).
        """
        return self._set_excluded(ids, True)

    def include(self, ids: Iterable[int | tuple[str, str]]) -> "NegativeSet":
        """A new set with the given rows used for training again (e.g. suspects a person cleared)."""
        return self._set_excluded(ids, False)

    def _set_excluded(self, ids: Iterable[int | tuple[str, str]], value: bool) -> "NegativeSet":
        indices: set[int] = set()
        pairs: set[tuple[str, str]] = set()
        for item in ids:
            if isinstance(item, tuple):
                if len(item) != 2:
                    raise ValueError(f"Expected a (qid, neg_id) pair, got {item!r}.")
                pairs.add((str(item[0]), str(item[1])))
            elif hasattr(item, "__index__") and not isinstance(item, bool):  # ints, numpy ints
                index = int(item.__index__())
                if not -len(self.rows) <= index < len(self.rows):
                    raise IndexError(f"Row {index} does not exist; the set has {len(self.rows)} rows.")
                indices.add(index % len(self.rows))
            else:
                raise ValueError(f"Expected a row index or a (qid, neg_id) pair, got {item!r}.")
        rows = [
            replace(r, excluded=value) if i in indices or (r.qid, r.neg_id) in pairs else r
            for i, r in enumerate(self.rows)
        ]
        return self._with_rows(rows)

    @classmethod
    def concat(cls, sets: Sequence["NegativeSet"]) -> "NegativeSet":
        """One set holding the rows of several (e.g. hard and weak); skip counts add up."""
        skipped: Counter[str] = Counter()
        for s in sets:
            skipped.update(s.skipped)
        return cls(
            (r for s in sets for r in s.rows),
            skipped=dict(skipped),
            params={"parts": [s.params for s in sets]},
        )

    def __add__(self, other: "NegativeSet") -> "NegativeSet":
        return NegativeSet.concat([self, other])

    # ----------------------------------------------------------------------------------------- summary
    def summary(self) -> dict[str, Any]:
        """Counts and mean scores, for the CLI and the UI."""

        def mean(values: list[float]) -> float | None:
            values = [v for v in values if not math.isnan(v)]
            return round(sum(values) / len(values), 4) if values else None

        kept = [r for r in self.rows if not r.excluded]
        return {
            "rows": len(self.rows),
            "included": len(kept),
            "excluded": len(self.rows) - len(kept),
            "suspects": sum(r.suspect_false_negative for r in self.rows),
            "queries": len({r.qid for r in kept}),
            "by_kind": dict(Counter(r.kind for r in kept)),
            "by_source": dict(Counter(r.source for r in kept)),
            "mean_pos_score": mean([r.pos_score for r in kept]),
            "mean_neg_score": mean([r.neg_score for r in kept]),
            "skipped": dict(self.skipped),
        }

    # ----------------------------------------------------------------------------------------- files
    @staticmethod
    def meta_path(path: str | Path) -> Path:
        """The JSON sidecar of a negatives file (parameters and skip counts)."""
        path = Path(path)
        return path.with_name(path.name + ".meta.json")

    def save(self, path: str | Path) -> Path:
        """Write the rows (format by suffix: .jsonl, .csv, .parquet) and the ``.meta.json`` sidecar.

        Both files are written to a temporary name and renamed, so a reader never sees half a file.

        Raises:
            StorageError: unknown suffix, or the folder cannot be written.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in FORMATS:
            raise StorageError(f"Cannot save negatives to {path}: the file name must end in {', '.join(FORMATS)}.")
        meta = {"format": "explorer-negatives", "version": 1, "columns": list(COLUMNS),
                "params": self.params, "skipped": self.skipped}
        with atomic_path(path) as tmp:  # a StorageError names the file and says what to check
            if suffix == ".jsonl":
                with open(tmp, "w", encoding="utf-8") as fh:
                    for r in self.rows:
                        fh.write(json.dumps(_jsonable(asdict(r)), ensure_ascii=False) + "\n")
            elif suffix == ".csv":
                self.to_frame().to_csv(tmp, index=False)
            else:
                self.to_frame().to_parquet(tmp, index=False)
        write_json_atomic(self.meta_path(path), meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "NegativeSet":
        """Read a file written by :meth:`save` (the sidecar is optional: a plain table loads too).

        Raises:
            DataError: missing file, unknown suffix, or a missing column (named in the message).
        """
        import pandas as pd

        path = Path(path)
        suffix = path.suffix.lower()
        if not path.is_file():
            raise DataError(f"Negatives file {path} does not exist.")
        if suffix not in FORMATS:
            raise DataError(f"Cannot read negatives from {path}: the file name must end in {', '.join(FORMATS)}.")
        try:
            if suffix == ".jsonl":
                frame = pd.read_json(path, lines=True, dtype={c: str for c in _STR})
            elif suffix == ".csv":
                # Empty cells are NaN only in the score columns: a query that reads "NA" stays a string.
                frame = pd.read_csv(path, dtype={c: str for c in _STR}, keep_default_na=False,
                                    na_values={c: [""] for c in _FLOAT})
            else:
                frame = pd.read_parquet(path)
        except (ValueError, OSError) as exc:
            raise DataError(f"Cannot read negatives file {path}: {exc}") from exc
        required = ("qid", "query", "pos_id", "positive", "neg_id", "negative")
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise DataError(f"Negatives file {path} lacks the column(s) {', '.join(missing)}; it needs {', '.join(required)}.")
        meta: dict[str, Any] = {}
        if cls.meta_path(path).is_file():
            try:
                meta = json.loads(cls.meta_path(path).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DataError(f"Cannot read {cls.meta_path(path)}: {exc}; delete it to load the rows without parameters.") from exc
        return cls(_rows_from_frame(frame, path), skipped=meta.get("skipped"), params=meta.get("params"))


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: write it as null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}


def _rows_from_frame(frame: "pd.DataFrame", path: Path) -> list[NegativeRow]:
    # A table written by hand may lack the bookkeeping columns: such rows are hard negatives from a file.
    defaults = {f.name: f.default for f in fields(NegativeRow)} | {"kind": "hard", "source": "file"}
    rows = []
    records = frame.to_dict("records")
    for line, rec in enumerate(records, start=2):
        values: dict[str, Any] = {}
        for col in COLUMNS:
            value = rec.get(col, defaults[col])
            if col in _FLOAT:
                value = math.nan if value is None or value == "" else float(value)
            elif col in _BOOL:
                value = _as_bool(value, path, line, col)
            elif col == "rank":
                value = -1 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)
            else:
                value = "" if value is None else str(value)
            values[col] = value
        if values["kind"] not in KINDS:
            raise DataError(f"{path}, row {line - 1}: kind {values['kind']!r} is not one of {', '.join(KINDS)}.")
        rows.append(NegativeRow(**values))
    return rows


def _as_bool(value: Any, path: Path, line: int, col: str) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in {"true", "1", "yes"}:
            return True
        if low in {"false", "0", "no", ""}:
            return False
        raise DataError(f"{path}, row {line - 1}, column {col}: {value!r} is not true/false.")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)
