"""Multi-process training under ``torchrun``: gloo on CPU, NCCL on GPU; one process writes files."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessGroup:
    rank: int
    world_size: int
    device: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def start(device: str = "cpu") -> ProcessGroup:
    """Join the process group that ``torchrun`` describes in the environment, or run alone."""
    import torch
    import torch.distributed as dist

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
        if device.startswith("cuda"):
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local_rank)
            device = f"cuda:{local_rank}"
    return ProcessGroup(rank, world_size, device)


def stop(group: ProcessGroup) -> None:
    import torch.distributed as dist

    if group.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(group: ProcessGroup) -> None:
    import torch.distributed as dist

    if group.distributed:
        dist.barrier()


def broadcast_flag(group: ProcessGroup, value: bool) -> bool:
    """The main process's ``value`` on every process (for decisions such as stopping early)."""
    if not group.distributed:
        return value
    import torch
    import torch.distributed as dist

    flag = torch.tensor([1 if value else 0])
    dist.broadcast(flag, src=0)
    return bool(flag.item())
