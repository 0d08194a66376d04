"""Content identities of models: a saved model folder, or a model's weights in memory.

An encoder's fingerprint keys its embedding cache and its vector-store collections, so two models that give
different vectors must never share one, and the same model should keep its cache when it is merely saved
again. A hash of the folder's bytes fails the second rule: re-saving a model with a newer
sentence-transformers rewrites every file (library versions, new config keys, tensor order in the
safetensors header) without changing a single weight. Hashing only the first and last megabyte of each
weights file fails the first: safetensors sorts tensors by name, so a fine-tune that froze the embeddings
and the last layers changes only bytes in the middle. So the identity of a folder is what decides its
vectors, read in a way that survives format changes:

- every weight tensor's name, dtype, shape and full bytes (safetensors: per tensor, so header order,
  sharding and ``__metadata__`` do not matter; other weight formats: the file's bytes);
- the tokenizer's vocabulary and normalization rules;
- the module pipeline: module types, pooling mode, max sequence length, non-empty prompts, and the
  architecture settings that weights' shapes do not imply (attention heads, activation, norm epsilon).

Hashing is memoized per process on each file's (path, size, mtime), so a second call costs a few ``stat``s.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import weakref
from pathlib import Path
from typing import Any

from explorer.core.storage import read_json

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx")
TOKENIZER_FILES = ("vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model")
ARCHITECTURE_KEYS = ("model_type", "hidden_act", "hidden_activation", "layer_norm_eps", "rms_norm_eps", "num_attention_heads",
                     "num_key_value_heads", "position_embedding_type", "rope_theta", "rope_scaling")
_OLD_POOLING_FLAGS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max", "pooling_mode_mean_tokens": "mean",
                      "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                      "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
_SKIP_DIR_PREFIXES = (".", "checkpoint-", "runs")
_LOCK = threading.Lock()
_FILE_MEMO: dict[tuple[str, str, int, int], Any] = {}
_WEIGHT_HASHES: "weakref.WeakKeyDictionary[Any, tuple[tuple, str]]" = weakref.WeakKeyDictionary()


def looks_like_model_folder(folder: Path) -> bool:
    """Whether a folder holds a saved sentence-transformers or transformers model."""
    return (folder / "modules.json").is_file() or (folder / "config.json").is_file()


def _memo(kind: str, path: Path, compute: Any) -> Any:
    stat = path.stat()
    key = (kind, str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        if key in _FILE_MEMO:
            return _FILE_MEMO[key]
    value = compute(path)
    with _LOCK:
        _FILE_MEMO[key] = value
    return value


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _safetensors_digests(path: Path) -> list[tuple[str, str, list[int], str]]:
    """(name, dtype, shape, sha256 of bytes) of every tensor in a safetensors file."""
    with open(path, "rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
        base = 8 + size
        out = []
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
            if name == "__metadata__" or name.endswith("position_ids"):  # position_ids: a constant arange buffer
                continue
            start, end = info["data_offsets"]
            fh.seek(base + start)
            h, left = hashlib.sha256(), end - start
            while left > 0:
                block = fh.read(min(left, 1 << 23))
                if not block:
                    raise ValueError(f"{path} is truncated")
                h.update(block)
                left -= len(block)
            out.append((name, info["dtype"], list(info["shape"]), h.hexdigest()))
    return out


def _weights(folder: Path) -> list[Any]:
    entries: list[Any] = []
    for root, dirs, names in os.walk(folder):
        # Trainer checkpoints and logs sit beside a model but do not change what it computes.
        dirs[:] = sorted(d for d in dirs if not d.startswith(_SKIP_DIR_PREFIXES))
        namespace = Path(root).relative_to(folder).as_posix()
        for name in sorted(names):
            path = Path(root) / name
            if name.endswith(".safetensors"):
                entries.extend([namespace, *t] for t in _memo("st", path, _safetensors_digests))
            elif name.endswith(WEIGHT_SUFFIXES) and name != "training_args.bin":
                entries.append([namespace, name, _memo("sha", path, _sha256_file)])
    return sorted(entries, key=json.dumps)


def _tokenizer(folder: Path) -> Any:
    if (folder / "tokenizer.json").is_file():
        def core(path: Path) -> str:
            data = read_json(path) or {}
            keep = {k: data.get(k) for k in ("model", "normalizer", "pre_tokenizer", "post_processor", "added_tokens")}
            return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()

        return _memo("tok", folder / "tokenizer.json", core)
    return [[n, _memo("sha", folder / n, _sha256_file)] for n in TOKENIZER_FILES if (folder / n).is_file()]


def _pooling(config: dict[str, Any]) -> Any:
    mode = config.get("pooling_mode")
    if mode is None:
        mode = [label for flag, label in _OLD_POOLING_FLAGS.items() if config.get(flag)]
    modes = sorted([mode] if isinstance(mode, str) else list(mode))
    return {"mode": modes, "include_prompt": config.get("include_prompt", True)}


def _pipeline(folder: Path) -> dict[str, Any]:
    modules = read_json(folder / "modules.json") or []
    described = []
    for module in modules if isinstance(modules, list) else []:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        entry: dict[str, Any] = {"type": kind}
        if kind == "Pooling":
            entry["pooling"] = _pooling(read_json(folder / module.get("path", "") / "config.json") or {})
        described.append(entry)
    sbert = read_json(folder / "sentence_bert_config.json") or {}
    tokenizer_config = read_json(folder / "tokenizer_config.json") or {}
    st_config = read_json(folder / "config_sentence_transformers.json") or {}
    prompts = {k: v for k, v in (st_config.get("prompts") or {}).items() if v}
    config = read_json(folder / "config.json") or {}
    return {
        "modules": described,
        # sentence-transformers < 5 kept it in sentence_bert_config.json, newer ones in the tokenizer config.
        "max_seq_length": sbert.get("max_seq_length") or tokenizer_config.get("model_max_length"),
        "prompts": prompts,
        "default_prompt": st_config.get("default_prompt_name") if prompts else None,
        "architecture": {k: config[k] for k in ARCHITECTURE_KEYS if k in config},
    }


def folder_fingerprint(folder: Path) -> str:
    """SHA-256 of what decides a saved model's vectors (see the module docstring), stable across re-saves."""
    folder = Path(folder)
    identity = {"weights": _weights(folder), "tokenizer": _tokenizer(folder), "pipeline": _pipeline(folder)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def model_weights_fingerprint(model: Any) -> str:
    """SHA-256 of a torch module's parameters, buffers and (if present) max_seq_length and prompts.

    Memoized on the tensors' identities and in-place version counters (every optimizer step bumps them),
    so asking again after nothing changed costs a walk over the tensors, not a hash of their bytes.
    """
    import torch

    tensors = list(model.state_dict(keep_vars=True).items())
    extras = f"{getattr(model, 'max_seq_length', None)}|{sorted(dict(getattr(model, 'prompts', None) or {}).items())}"
    stamp = (extras, tuple((name, t.data_ptr(), t._version, tuple(t.shape)) for name, t in tensors))
    with _LOCK:
        memo = _WEIGHT_HASHES.get(model)
    if memo is not None and memo[0] == stamp:
        return memo[1]
    h = hashlib.sha256(extras.encode())
    for name, tensor in tensors:
        data = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}\x1f{data.dtype}\x1f{tuple(tensor.shape)}\x1e".encode())
        h.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    digest = h.hexdigest()
    with _LOCK:
        _WEIGHT_HASHES[model] = (stamp, digest)
    return digest
