"""A real OpenAI-compatible embeddings server written by someone else: infinity-emb, serving the bundled
all-MiniLM-L6-v2 folder on 127.0.0.1.

infinity-emb 0.0.78 needs numpy < 2 and sentence-transformers < 4, so it lives in a virtual environment of its
own, ``.venv-infinity`` at the repository root, which ``.ci/run`` prepares (``EXPLORER_INFINITY_VENV`` names
another one). Without it the tests that need the server are skipped locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVED_NAME = "all-MiniLM-L6-v2"
START_TIMEOUT = 240.0
SETUP_HINT = "prepare it with `bash .ci/infinity-venv` (.ci/run does)"


def venv() -> Path:
    return Path(os.environ.get("EXPLORER_INFINITY_VENV") or ROOT / ".venv-infinity")


def executable() -> Path | None:
    """The ``infinity_emb`` command of the venv, or None when the venv is not prepared."""
    command = venv() / "bin" / "infinity_emb"
    return command if command.is_file() else None


def require() -> Path:
    """The command, or skip (locally) / fail (CI) with the reason."""
    command = executable()
    if command is not None:
        return command
    reason = f"no infinity-emb venv at {venv()} (the real OpenAI-compatible server); {SETUP_HINT}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must test against the real server: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(process: subprocess.Popen, base_url: str, log: Path) -> float:
    """Seconds until ``GET /v1/models`` answers; fails with the server's log tail if it exits or times out."""
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        if process.poll() is not None:
            pytest.fail(f"infinity_emb exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx2.get(f"{base_url}/models", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx2.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"infinity_emb did not answer in {START_TIMEOUT:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def start(command: Path, model_dir: str, log: Path) -> tuple[subprocess.Popen, str]:
    """Start the server on a free port; returns the process and its base URL (ending in /v1)."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    args = [str(command), "v2", "--model-id", model_dir, "--served-model-name", SERVED_NAME, "--host", "127.0.0.1",
            "--port", str(port), "--url-prefix", "/v1", "--engine", "torch", "--device", "cpu", "--dtype", "float32",
            "--no-model-warmup", "--no-bettertransformer"]
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    return process, f"http://127.0.0.1:{port}/v1"


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
