"""Device and bfloat16 decisions: bf16 only where the hardware computes it natively."""

from __future__ import annotations

import sys

import pytest

from explorer.encoders import hardware
from explorer.core.errors import ModelError

AVX2_ONLY = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\n"
AMX = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
AVX512_BF16 = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16\n"


@pytest.fixture
def cpuinfo(monkeypatch):
    def set_text(text):
        monkeypatch.setattr(hardware, "read_cpuinfo", lambda: text)

    return set_text


@pytest.mark.parametrize("text, native", [(AVX2_ONLY, False), (AMX, True), (AVX512_BF16, True), (None, False), ("", False)])
def test_cpu_bf16_support_comes_from_the_flags(cpuinfo, text, native):
    cpuinfo(text)
    assert hardware.cpu_supports_bf16() is native
    assert hardware.use_bf16("cpu") is native


def test_unreadable_cpuinfo_means_no_bf16(monkeypatch, tmp_path):
    monkeypatch.setattr(hardware, "CPUINFO", tmp_path / "missing")
    assert hardware.read_cpuinfo() is None
    assert hardware.cpu_flags() == frozenset()
    assert hardware.cpu_supports_bf16() is False


def test_flags_are_parsed_from_the_first_flags_line(cpuinfo):
    cpuinfo(AVX2_ONLY)
    assert hardware.cpu_flags() == {"fpu", "sse2", "avx", "avx2", "fma"}


def test_settings_force_bf16_on_and_off(cpuinfo, monkeypatch):
    cpuinfo(AVX2_ONLY)
    monkeypatch.setenv("EXPLORER_BF16", "1")
    assert hardware.use_bf16("cpu") is True
    cpuinfo(AMX)
    monkeypatch.setenv("EXPLORER_BF16", "0")
    assert hardware.use_bf16("cpu") is False


def test_cuda_uses_bf16_when_the_gpu_supports_it(monkeypatch, cpuinfo):
    cpuinfo(AVX2_ONLY)
    monkeypatch.setattr(hardware, "cuda_supports_bf16", lambda: True)
    assert hardware.use_bf16("cuda") is True
    assert hardware.use_bf16("cuda:1") is True
    monkeypatch.setattr(hardware, "cuda_supports_bf16", lambda: False)
    assert hardware.use_bf16("cuda") is False
    assert hardware.use_bf16("mps") is False


def test_pick_device_prefers_cuda_when_present(monkeypatch):
    monkeypatch.setattr(hardware, "_cuda_available", lambda: True)
    assert hardware.pick_device() == "cuda"
    assert hardware.pick_device("cpu") == "cpu"
    monkeypatch.setattr(hardware, "_cuda_available", lambda: False)
    assert hardware.pick_device() == "cpu"
    assert hardware.pick_device("auto") == "cpu"


def test_pick_device_honours_the_settings_and_refuses_missing_hardware(monkeypatch):
    monkeypatch.setattr(hardware, "_cuda_available", lambda: True)
    monkeypatch.setenv("EXPLORER_DEVICE", "cpu")
    assert hardware.pick_device() == "cpu"
    monkeypatch.setattr(hardware, "_cuda_available", lambda: False)
    monkeypatch.setenv("EXPLORER_DEVICE", "cuda")
    with pytest.raises(ModelError, match="no CUDA GPU"):
        hardware.pick_device()
    with pytest.raises(ModelError, match="Unknown device 'tpu'"):
        hardware.pick_device("tpu")


def test_without_gpu_device_nodes_there_is_no_cuda_and_torch_is_not_imported(monkeypatch, tmp_path):
    monkeypatch.setattr(hardware, "GPU_DEVICE_NODES", (str(tmp_path / "nvidia0"),))
    monkeypatch.setattr(hardware.sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "torch", None)  # any "import torch" now fails
    hardware._cuda_available.cache_clear()
    try:
        assert hardware._cuda_available() is False
        assert hardware.pick_device() == "cpu"
    finally:
        hardware._cuda_available.cache_clear()
