"""Data-parallel training's processes: who this process is, and the few things every rank must agree on.

`torchrun --nproc_per_node=N -m lib.train ...` starts N processes with RANK, LOCAL_RANK and WORLD_SIZE set;
`World.from_env()` joins them into one process group (NCCL on GPUs, gloo on the CPU) with a timeout on every
collective, so a rank that dies or hangs ends the run with an error instead of leaving the others waiting for
ever. Without those variables it is the one-process world, and every call here is a no-op.

What the ranks agree on, always decided by rank 0 and sent to the others:
- the clock: the run's elapsed seconds (the time budget and a time-based learning-rate schedule must not
  differ between ranks, or their weights would drift apart) and whether the minutes are over;
- the end of an epoch: rank 0 validates, writes the logs and checkpoints, decides early stopping, and sends
  the resulting training state to the others.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch

TIMEOUT_ENV = "IM2LATEX_DDP_TIMEOUT"  # seconds a collective may wait for another rank (default below)
DEFAULT_TIMEOUT_S = 900.0             # long enough for rank 0's validation of a whole dev split on a CPU


class RankFailed(RuntimeError):
    """Another rank stopped answering (killed, crashed, or stuck past the collective timeout)."""


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # processes on this machine (they share its cores)

    @property
    def main(self) -> bool:
        """Rank 0: the one that validates and writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_env(cls, backend: str | None = None) -> "World":
        """Join the process group torchrun set up (NCCL when CUDA is there, else gloo); one process: no group."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        import torch.distributed as dist

        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
            if backend == "nccl":
                torch.cuda.set_device(local)
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s()))
        return cls(rank=rank, size=size, local_rank=local,
                   local_size=int(os.environ.get("LOCAL_WORLD_SIZE", str(size))))

    def device(self) -> torch.device | None:
        """This rank's GPU (cuda:LOCAL_RANK) when data-parallel on GPUs; None: the usual choice."""
        if self.distributed and torch.cuda.is_available():
            return torch.device("cuda", self.local_rank)
        return None

    def agree(self, elapsed_s: float, stop: bool) -> tuple[float, bool]:
        """Rank 0's clock and stop decision, on every rank (one small broadcast)."""
        if not self.distributed:
            return elapsed_s, stop
        import torch.distributed as dist

        t = torch.tensor([elapsed_s, float(stop)], dtype=torch.float64, device=self._comm_device())
        self._call(dist.broadcast, t, src=0)
        return float(t[0]), bool(t[1] > 0.5)

    def share(self, obj):
        """Rank 0's `obj` (any picklable value) on every rank."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj if self.main else None]
        self._call(dist.broadcast_object_list, box, src=0, device=self._comm_device())
        return box[0]

    def close(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def _comm_device(self) -> torch.device:
        import torch.distributed as dist

        return torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")

    def _call(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except RuntimeError as e:  # torch.distributed's errors (DistBackendError...) are RuntimeErrors
            raise RankFailed(f"rank {self.rank} of {self.size}: another training process stopped answering "
                             f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); the run ends here, "
                             f"its last.pt is the resume point") from e


def timeout_s() -> float:
    """The collective timeout in seconds ($IM2LATEX_DDP_TIMEOUT, else DEFAULT_TIMEOUT_S)."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"${TIMEOUT_ENV}={raw!r}: not a number of seconds") from None
    if value <= 0:
        raise ValueError(f"${TIMEOUT_ENV}={raw!r}: must be positive")
    return value
