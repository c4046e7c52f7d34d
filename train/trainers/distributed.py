"""Process-group setup for `torchrun` (DistributedDataParallel): NCCL on CUDA, gloo on CPU.
Outside torchrun everything degrades to a single process with rank 0."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(request: str, local_rank: int = 0, world_size: int = 1) -> torch.device:
    """The device for `--device` (auto, cpu, cuda or cuda:N); under torchrun, each process's own GPU."""
    want_cuda = request.startswith("cuda") or (request == "auto" and torch.cuda.is_available())
    if not want_cuda:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        from models.errors import StyleCamError

        raise StyleCamError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto")
    index = local_rank if world_size > 1 or request in ("auto", "cuda") else int(request.split(":")[1])
    device = torch.device("cuda", index)
    torch.cuda.set_device(device)
    return device


def init_distributed(device_request: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_request, local, world)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return DistInfo(rank, world, local), device


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank when `flag` is true on at least one (so all ranks stop together)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather_objects(obj: object, info: DistInfo) -> list:
    """Every rank's `obj` on every rank (in-process pickling only; never read from disk)."""
    if not info.enabled:
        return [obj]
    out: list = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def wait_for_all(info: DistInfo) -> None:
    """Block until every rank got here, so none tears its process group down while a peer is
    still talking to it (rank 0 is the last to finish: it writes the checkpoint)."""
    if info.enabled and dist.is_initialized():
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
