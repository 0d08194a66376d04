"""Caches bounded by bytes, least recently used first out, so the server's memory stops growing with visitors.

Community Cloud gives the whole server 2.7 GB. Caches keyed by dataset, encoder or run would otherwise grow
with every visitor who trains a model (a fine-tuned MiniLM is ~90 MB; its embeddings a few MB per thousand
texts); :class:`ByteLRU` keeps each under a byte budget and drops what was used longest ago.

Hand-written (about 100 lines): ``cachetools.LRUCache(maxsize, getsizeof)`` does the same but is not a
dependency of this project, and this one adds what the callers need on top: sizes re-measured after an entry
grows (:meth:`ByteLRU.resize`), one computation per key when several threads ask at once
(:meth:`ByteLRU.get_or_create`) and an ``on_evict`` hook (closing a vector-store client).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

MB = 1024 * 1024
ENCODERS_BUDGET = 400 * MB
"""Encoders besides the bundled base model (always kept) that a local server or a command keeps in memory: the
last few used."""
PUBLIC_ENCODERS_BUDGET = 100 * MB
"""The same on the public server (2.7 GB for everything): one other model of MiniLM's size (~90 MB: a fine-tune),
or a static model and its adapter; a model no longer in use is released when the next one comes."""


def release_memory(collect: bool = True) -> None:
    """Collect garbage (unless ``collect`` is False) and hand the freed heap back to the operating system
    (glibc's ``malloc_trim``), so what a step freed lowers the process's resident memory, not only what Python
    counts: glibc keeps freed pages in its arenas otherwise (measured: a server at 3.6 GB after a training job
    whose peak was 8.4 GB; 1.5 GB where 1.0 GB is live after the steps on a 200,000-passage corpus). A no-op where
    the C library has no ``malloc_trim``. Hand-written (a few lines): no dependency offers it."""
    import ctypes
    import ctypes.util
    import gc

    if collect:
        gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def releasing_memory(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator for a step over a whole corpus: once ``fn`` returns (its locals, such as the corpus' texts,
    freed with its frame), :func:`release_memory` without a garbage collection (milliseconds), so the next
    step starts from a lower resident size instead of the top of this one's."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            release_memory(collect=False)

    return wrapper


def encoders_budget(public: bool) -> int:
    """The byte budget of a cache of encoders other than the bundled base model: :data:`PUBLIC_ENCODERS_BUDGET`
    in public mode, else :data:`ENCODERS_BUDGET`."""
    return PUBLIC_ENCODERS_BUDGET if public else ENCODERS_BUDGET


def nbytes(obj: Any) -> int:
    """An estimate of the memory ``obj`` holds: exact for numpy arrays and torch modules, close for the rest.

    Objects may say it themselves with an ``nbytes_estimate()`` method (datasets, encoders). Containers are
    summed one level down for lists, tuples and dicts (keys and values).
    """
    estimate = getattr(obj, "nbytes_estimate", None)
    if callable(estimate):
        return int(estimate())
    if hasattr(obj, "nbytes") and isinstance(getattr(obj, "nbytes"), int):  # numpy arrays
        return int(obj.nbytes)
    if hasattr(obj, "parameters") and callable(obj.parameters):  # a torch module
        try:
            tensors = [*obj.parameters(), *obj.buffers()]
            return sum(t.numel() * t.element_size() for t in tensors)
        except (AttributeError, TypeError, RuntimeError):
            pass
    if isinstance(obj, (list, tuple)):
        return sys.getsizeof(obj) + sum(nbytes(x) for x in obj)
    if isinstance(obj, dict):
        return sys.getsizeof(obj) + sum(nbytes(k) + nbytes(v) for k, v in obj.items())
    return sys.getsizeof(obj)


class ByteLRU:
    """A thread-safe mapping that evicts least-recently-used entries while their bytes exceed ``max_bytes``.

    The newest entry always stays, even alone over the budget (the caller needs it now); everything older
    goes first.

    Args:
        max_bytes: the byte budget.
        sizeof: measures an entry (default :func:`nbytes`).
        on_evict: called with (key, value) of each evicted entry, outside the lock.
    """

    def __init__(self, max_bytes: int, sizeof: Callable[[Any], int] = nbytes,
                 on_evict: Callable[[Hashable, Any], None] | None = None) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._sizeof = sizeof
        self._on_evict = on_evict
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.RLock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    @property
    def total_bytes(self) -> int:
        """Bytes of all entries, as last measured."""
        with self._lock:
            return sum(size for _, size in self._data.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def keys(self) -> list[Hashable]:
        """Keys, least recently used first."""
        with self._lock:
            return list(self._data)

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The entry (now the most recently used), or ``default``."""
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key][0]

    def put(self, key: Hashable, value: Any) -> Any:
        """Store ``value`` (measured now), evict what no longer fits, and return ``value``."""
        size = int(self._sizeof(value))
        with self._lock:
            self._data[key] = (value, size)
            self._data.move_to_end(key)
            evicted = self._trim()
        self._evicted(evicted)
        return value

    def resize(self, key: Hashable) -> None:
        """Measure an entry again (it grew in place) and evict what no longer fits."""
        with self._lock:
            if key not in self._data:
                return
            value = self._data[key][0]
            self._data[key] = (value, int(self._sizeof(value)))
            evicted = self._trim(keep=key)
        self._evicted(evicted)

    def pop(self, key: Hashable, default: Any = None) -> Any:
        """Remove an entry (``on_evict`` is called for it) and return it, or ``default``."""
        with self._lock:
            item = self._data.pop(key, None)
        if item is None:
            return default
        self._evicted([(key, item[0])])
        return item[0]

    def clear(self) -> None:
        """Remove every entry (``on_evict`` is called for each)."""
        with self._lock:
            items = [(k, v) for k, (v, _) in self._data.items()]
            self._data.clear()
        self._evicted(items)

    def get_or_create(self, key: Hashable, factory: Callable[[], Any]) -> Any:
        """The entry, made by ``factory()`` on a miss; concurrent callers of one key wait for one computation."""
        found = self.get(key, _MISSING)
        if found is not _MISSING:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found = self.get(key, _MISSING)
            if found is _MISSING:
                found = self.put(key, factory())
        with self._lock:
            self._key_locks.pop(key, None)
        return found

    def _trim(self, keep: Hashable | None = None) -> list[tuple[Hashable, Any]]:
        """Evict least-recently-used entries (never the newest, nor ``keep``) while over budget (lock held)."""
        evicted = []
        total = sum(size for _, size in self._data.values())
        for key in list(self._data):
            if total <= self.max_bytes or len(self._data) <= 1:
                break
            if key == keep or key == next(reversed(self._data)):
                continue
            value, size = self._data.pop(key)
            total -= size
            evicted.append((key, value))
        return evicted

    def _evicted(self, items: list[tuple[Hashable, Any]]) -> None:
        if self._on_evict is None:
            return
        for key, value in items:
            try:
                self._on_evict(key, value)
            except Exception:  # noqa: BLE001 - clean-up of an evicted entry must never break the caller
                pass


_MISSING = object()
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".npy", ".onnx")


def encoder_bytes(encoder: Any) -> int:
    """Memory an encoder holds or will hold once loaded: its model's tensors when loaded, else the size of its
    weight files on disk (a lazily loaded model, a static model's vectors or an int8 ONNX model cost about that:
    ``model_path``, a hub model's download, or ``folder``); an adapter adds its matrices to its base's.
    """
    from pathlib import Path

    total = 0
    model = getattr(encoder, "_model", None)
    if model is not None:
        total += nbytes(model)
    else:
        named = (getattr(encoder, name, None) for name in ("model_path", "_downloaded", "folder"))
        folder = next((Path(str(f)) for f in named if f and Path(str(f)).is_dir()), None)
        if folder is not None:
            total += sum(p.stat().st_size for p in folder.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file())
    for name in ("weights", "bias"):
        value = getattr(encoder, name, None)
        if hasattr(value, "nbytes"):
            total += int(value.nbytes)
    base = getattr(encoder, "base", None)
    if base is not None and base is not encoder:
        total += encoder_bytes(base)
    return max(total, 1)


def dataset_bytes(dataset: Any) -> int:
    """Memory of a :class:`~explorer.data.model.Dataset`: its texts plus ~150 bytes per string, id and judgement
    (Python's per-object overhead)."""
    texts = sum(len(t) for t in dataset.queries.values())
    texts += sum(len(p.full_text) + len(p.title) for p in dataset.corpus.values())
    judged = sum(len(j) for j in dataset.qrels.values())
    objects = 2 * len(dataset.queries) + 3 * len(dataset.corpus) + judged
    objects += sum(len(v) for v in dataset.hard_negative_candidates.values())
    return texts + 150 * objects
