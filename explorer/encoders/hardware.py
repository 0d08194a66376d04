"""Which device to run a model on, and whether bfloat16 autocast pays off there.

bfloat16 halves memory traffic, but only hardware with native bf16 arithmetic gains from it: CUDA GPUs from
Ampere on, and x86 CPUs with AMX (Sapphire Rapids and later) or AVX512-BF16. On a CPU without them (plain
AVX2, such as most cloud VMs and Streamlit Community Cloud) PyTorch emulates bf16 and autocast makes
MiniLM about six times *slower*, so it must stay off there. The decision reads ``/proc/cpuinfo`` flags
(Linux); when they cannot be read the answer is the safe one, fp32.

``EXPLORER_DEVICE`` and ``EXPLORER_BF16`` (see :mod:`explorer.core.config`) override both decisions. They are
server-wide settings (the machine's hardware, the same for every visitor), read in :func:`_machine_settings`.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from explorer.core.config import Settings, get_settings
from explorer.core.errors import ModelError

CPUINFO = Path("/proc/cpuinfo")
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
DEVICES = ("cpu", "cuda", "mps")


def _machine_settings() -> Settings:
    """The server's settings, for ``device`` and ``bf16`` only: they describe this machine, not a visitor's
    data, so no workspace is involved."""
    return get_settings()


def read_cpuinfo() -> str | None:
    """The text of ``/proc/cpuinfo``, or None where it does not exist or cannot be read (macOS, Windows)."""
    try:
        return CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def cpu_flags() -> frozenset[str]:
    """The feature flags of the first CPU listed in ``/proc/cpuinfo`` (empty when unreadable)."""
    text = read_cpuinfo()
    if not text:
        return frozenset()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        # x86 calls them "flags", ARM "Features".
        if sep and key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_supports_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AMX-BF16 or AVX512-BF16); False when unknown."""
    return bool(cpu_flags() & BF16_CPU_FLAGS)


# Device nodes of NVIDIA (native and containers), WSL2's GPU bridge, and ROCm (which torch also calls "cuda").
GPU_DEVICE_NODES = ("/dev/nvidia0", "/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg", "/dev/kfd")


@functools.lru_cache(maxsize=1)
def _cuda_available() -> bool:
    # Without any GPU device node CUDA cannot be available: answer without importing torch (seconds), so a
    # fully cached encode, which needs only the fingerprint (and so this answer), stays fast.
    if sys.platform.startswith("linux") and not any(Path(p).exists() for p in GPU_DEVICE_NODES):
        return False
    import torch

    return bool(torch.cuda.is_available())


@functools.lru_cache(maxsize=1)
def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(preferred: str | None = None) -> str:
    """The device to run models on.

    Args:
        preferred: "cpu", "cuda" (or "cuda:N"), "mps", or None / "auto" for the settings' choice
            (``EXPLORER_DEVICE``), else CUDA when available, else CPU.

    Returns:
        "cuda" (or the "cuda:N" asked for), "mps" when asked for, or "cpu".

    Raises:
        ModelError: a device was asked for that this machine does not have, or is unknown.
    """
    choice = (preferred or _machine_settings().device or "auto").strip().lower()
    if choice == "auto":
        return "cuda" if _cuda_available() else "cpu"
    base = choice.split(":", 1)[0]
    if base not in DEVICES:
        raise ModelError(f"Unknown device {choice!r}; use one of cpu, cuda, mps or auto (EXPLORER_DEVICE).")
    if base == "cuda" and not _cuda_available():
        raise ModelError(f"Device {choice!r} was asked for, but no CUDA GPU is available; use 'cpu' or unset EXPLORER_DEVICE.")
    if base == "mps" and not _mps_available():
        raise ModelError("Device 'mps' was asked for, but Apple's Metal backend is not available; use 'cpu' or unset EXPLORER_DEVICE.")
    return choice


def cuda_supports_bf16() -> bool:
    """Whether the current CUDA GPU computes bfloat16 natively (Ampere or newer)."""
    if not _cuda_available():
        return False
    import torch

    return bool(torch.cuda.is_bf16_supported())


def use_bf16(device: str) -> bool:
    """Whether to run inference under bfloat16 autocast on ``device``.

    ``EXPLORER_BF16=1``/``0`` forces the answer; otherwise it is True on a CUDA GPU with bf16 support and
    on a CPU with native bf16 (AMX / AVX512-BF16), and False everywhere else (AVX2-only CPUs, MPS).
    """
    forced = _machine_settings().bf16
    if forced is not None:
        return forced
    base = device.split(":", 1)[0].lower()
    if base == "cuda":
        return cuda_supports_bf16()
    if base == "cpu":
        return cpu_supports_bf16()
    return False
