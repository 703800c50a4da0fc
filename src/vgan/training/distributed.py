"""Data-parallel training through torchrun: one process per device, the global batch sharded.

    torchrun --nproc_per_node=N -m vgan.cli train [key=value ...]

`batch_size` is the global batch; each of the N processes takes its 1/N share. Everything that
couples the samples of a batch is computed over the *global* batch, so that results do not
depend on N: the batch entropy of Eq. 9 averages expert probabilities with an all-reduce, the
generator's batch norm uses global statistics, and every process draws the global batch's noise
and keeps its own slice. Gradients are averaged by DistributedDataParallel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.nn.functional import all_reduce as differentiable_all_reduce


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def shard(self, t: torch.Tensor) -> torch.Tensor:
        """This process's contiguous 1/world share of the first dimension."""
        n = t.shape[0] // self.world
        return t[self.rank * n : (self.rank + 1) * n]

    def batch_mean(self, t: torch.Tensor) -> torch.Tensor:
        """Mean over the global batch of a local (n, ...) tensor, differentiable."""
        if not self.enabled:
            return t.mean(0)
        return differentiable_all_reduce(t.sum(0)) / (t.shape[0] * self.world)

    def average(self, stats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Average logged scalars over processes (each is a mean over its own shard)."""
        if not self.enabled:
            return stats
        keys = sorted(stats)
        flat = torch.stack([stats[k].detach().float() for k in keys])
        dist.all_reduce(flat)
        return {k: v / self.world for k, v in zip(keys, flat)}


def setup(device_kind: str) -> Dist:
    """Join the process group that torchrun describes in the environment; a no-op without it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    if device_kind == "cuda":
        torch.cuda.set_device(local_rank)
    return Dist(rank, world, local_rank)


def teardown() -> None:
    """Leave the process group once every process has got here."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class GlobalBatchNorm(nn.Module):
    """Batch norm over the global batch of all processes, batch statistics only (as the
    generator's batch norm here). torch's SyncBatchNorm needs a GPU; this also runs on gloo."""

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, group: Dist):
        super().__init__()
        self.weight, self.bias, self.eps = bn.weight, bn.bias, bn.eps
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = [0] + list(range(2, x.dim()))
        moments = torch.stack([x.mean(dims), (x * x).mean(dims)])  # (2, C), over the local shard
        moments = differentiable_all_reduce(moments) / self.group.world
        mean, var = moments[0], moments[1] - moments[0] ** 2
        shape = [1, -1] + [1] * (x.dim() - 2)
        x_hat = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return x_hat * self.weight.view(shape) + self.bias.view(shape)


def globalise_batch_norm(module: nn.Module, group: Dist) -> nn.Module:
    """Replace every batch norm in `module` by a GlobalBatchNorm sharing its parameters."""
    if not group.enabled:
        return module
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, GlobalBatchNorm(child, group))
        else:
            globalise_batch_norm(child, group)
    return module
