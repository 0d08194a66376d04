"""Whether the process that owns a run is still alive: pid, process start time, boot, a per-process token.

A pid alone is reused (a restarted server in a container often gets the very pid its killed predecessor had),
so the owner of a run is recorded as the pair (pid, start time), plus the machine's boot time (a pid from before
a reboot is never alive) and a token naming the Python process itself. psutil answers each question.
"""

from __future__ import annotations

import os
import uuid

import psutil

PROCESS_TOKEN = uuid.uuid4().hex
"""Identifies this Python process: a status naming it belongs to a run this process owns."""

START_TOLERANCE_SECONDS = 1.0
"""Two start times of one process (as psutil reports them) differ by rounding only; more means two processes."""


def boot_id() -> str:
    """This boot of the machine, as the boot time in whole seconds (a pid from before a reboot is never alive),
    or "" where unknown."""
    try:
        return f"boot-{psutil.boot_time():.0f}"
    except (psutil.Error, OSError):
        return ""


def process_started(pid: int | None) -> float | None:
    """When the process ``pid`` started (seconds since the epoch, from psutil), or None if there is none.

    Recorded with the pid in status.json: a pid alone is reused (a restarted server in a container often gets
    the very pid its killed predecessor had), but the pair (pid, start time) names one process only.
    """
    if not pid or pid <= 0:
        return None
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


OWN_START = process_started(os.getpid())
"""This process's start time, written next to its pid in the status of every run it owns."""


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists (of any user)."""
    return bool(pid) and pid > 0 and psutil.pid_exists(pid)
