"""Data-parallel training under ``torchrun`` (torch.distributed: gloo on CPU, NCCL on GPU).

``torchrun --nproc_per_node=N -m lenetlab train ...`` starts N processes; each one sees the same
seeded global batch and trains on its slice, DDP averages the gradients, and rank 0 alone writes
the run directory. Outside torchrun every function here is a no-op.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> None:
    """Join the process group torchrun set up (environment variables MASTER_ADDR, RANK, ...)."""
    if launched_by_torchrun() and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_device(device: torch.device) -> torch.device:
    """On a multi-GPU machine each process takes the GPU of its local rank."""
    if device.type == "cuda" and launched_by_torchrun():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def wrap(model: nn.Module) -> nn.Module:
    device = next(model.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
