"""Data-parallel training under ``torchrun``: rank helpers.

``torchrun --nproc_per_node=N -m explorer train ...`` starts N copies of the CLI (the entry point lives in the
CLI, which uses these helpers; the library never imports the CLI). The Hugging Face ``Trainer`` inside ``SentenceTransformerTrainer`` sees
the torchrun environment and wraps the model in DistributedDataParallel (gloo on CPU, NCCL on GPU), each rank
training on its own shard of every epoch. Everything else happens on rank 0 only: the baseline evaluation,
hard-negative mining (its result is broadcast so every rank trains on the same table), the run folder, the
tuned evaluation and the printed report. The process group is created here, before the trainer, so rank 0
can broadcast the mined negatives; ``accelerate`` reuses an existing group.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

GROUP_TIMEOUT_MINUTES = 120
"""Ranks > 0 wait while rank 0 evaluates the baseline and mines negatives; on a CPU that can take a while."""


def world_size() -> int:
    """Number of processes torchrun started (1 when not under torchrun)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def rank() -> int:
    """This process's global rank (0 when not under torchrun)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def is_distributed() -> bool:
    """Whether this process is one of several torchrun ranks."""
    return world_size() > 1


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that evaluates, writes the run and prints."""
    return rank() == 0


def init_process_group() -> None:
    """Join the torchrun process group (NCCL when CUDA is available, else gloo); no-op when single-process."""
    if not is_distributed():
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=GROUP_TIMEOUT_MINUTES))


def broadcast(obj: Any = None) -> Any:
    """Send ``obj`` from rank 0 to every rank and return it (returns ``obj`` itself when single-process)."""
    if not is_distributed():
        return obj
    import torch.distributed as dist

    init_process_group()
    box = [obj if is_main_process() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def destroy_process_group() -> None:
    """Leave the process group (end of a torchrun command)."""
    if not is_distributed():
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
