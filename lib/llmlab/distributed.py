"""Data parallelism: several processes train one model, each on its share of every batch (lesson 08).

Launched by ``torchrun`` (https://pytorch.org/docs/stable/elastic/run.html), which starts
the processes and gives each its place in environment variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``)::

    torchrun --standalone --nproc_per_node=2 -m llmlab train --text input.txt --batch-size 24

Every process holds the whole model.  At each step:

1. all processes draw the same global batch of ``B`` windows (same seed, same generator
   as a single process) and process ``r`` keeps rows ``r*B/N ... (r+1)*B/N`` (``B/N`` each);
2. each computes the mean loss of its rows and its gradient;
3. PyTorch's DistributedDataParallel (DDP; Li et al. 2020, https://arxiv.org/abs/2006.15704)
   all-reduces the gradients: every process ends with the mean of the ``N`` gradients, which
   is the gradient of the mean loss over all ``B`` rows (the shares have equal size);
4. every process takes the same optimizer step, so the copies of the model stay equal.

So ``N`` processes with ``B/N`` rows each train the same model as one process with ``B``
rows, up to float rounding (the sums are added in another order).  Dropout is the
exception: each process draws its own masks, so compare with ``dropout=0``.

The processes talk through a backend: gloo on CPUs, NCCL on CUDA GPUs.  Every collective
has a timeout, so a process that died or never came makes the others stop with a clear
error instead of waiting for ever.

>>> dp = init_from_env("cpu")  # None outside torchrun: train() then runs in one process
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist
from torch import nn

from llmlab.errors import UsageError

__all__ = [
    "DataParallel",
    "DistributedError",
    "ShardedBatches",
    "describe_failure",
    "init_from_env",
    "launch_local",
    "zero_memory_per_device",
]

#: Seconds a process waits for the others (to join, or in a collective) before it gives up.
#: Long enough for the main process's evaluation, during which the others wait.
DEFAULT_TIMEOUT_S = 600


class DistributedError(RuntimeError):
    """The processes of a run could not meet, or one of them stopped; one line says which."""


class ShardedBatches:
    """This process's share of every batch of ``batches`` (``Batches`` of llmlab.training).

    ``sample(split, B, g)`` draws the global batch ``(B, T)`` exactly as one process would
    (same generator, same order), then returns rows ``rank*B/N ... (rank+1)*B/N``.
    """

    def __init__(self, batches, rank: int, world_size: int):
        self.batches, self.rank, self.world_size = batches, rank, world_size
        self.block_size = batches.block_size

    def sample(self, split: str, batch_size: int, generator: torch.Generator | None = None):
        """``(x, y)``: two ``(batch_size / world_size, T)`` long tensors, this process's rows."""
        check_batch_split(batch_size, self.world_size)
        x, y = self.batches.sample(split, batch_size, generator)  # (B, T), same on every process
        share = batch_size // self.world_size
        rows = slice(self.rank * share, (self.rank + 1) * share)
        return x[rows], y[rows]  # (B/N, T), (B/N, T)


def check_batch_split(batch_size: int, world_size: int) -> None:
    """Refuse a global batch that the processes cannot share equally (one clear line)."""
    if batch_size % world_size:
        raise UsageError(
            f"--batch-size {batch_size} cannot be shared equally by {world_size} processes "
            f"(--nproc_per_node x nodes): use a multiple of {world_size}, e.g. "
            f"{max(world_size, batch_size - batch_size % world_size)}, or fewer processes."
        )


@dataclass
class DataParallel:
    """This process's place in a data-parallel run (made by :func:`init_from_env`)."""

    rank: int  # 0 ... world_size-1, across all machines
    world_size: int  # processes in the run
    local_rank: int  # index on this machine (picks its GPU)
    device: torch.device
    backend: str  # "gloo" or "nccl"

    @property
    def is_main(self) -> bool:
        """Rank 0 evaluates, logs and writes the checkpoint."""
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` in DDP: rank 0's weights are copied to all, gradients averaged in backward."""
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def shard(self, batches, batch_size: int) -> ShardedBatches:
        check_batch_split(batch_size, self.world_size)
        return ShardedBatches(batches, self.rank, self.world_size)

    def mean(self, value: torch.Tensor) -> float:
        """The mean of a scalar over all processes (the whole batch's loss from each share's)."""
        t = value.detach().clone().reshape(1)
        dist.all_reduce(t)  # sum over processes
        return t.item() / self.world_size

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def _env_int(name: str, default: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise UsageError(
                f"{name} is not set: start data-parallel runs with torchrun, which sets it."
            )
        return default
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"The environment variable {name}={value!r} is not an integer.") from None


def init_from_env(
    device: str = "cpu", timeout_s: float = DEFAULT_TIMEOUT_S, batch_size: int | None = None
) -> DataParallel | None:
    """Join the run that ``torchrun`` started; None for a single process (no ``WORLD_SIZE`` > 1).

    ``device`` "cpu" uses gloo; "cuda" uses NCCL and process ``LOCAL_RANK`` takes GPU
    ``cuda:LOCAL_RANK``.  Waits at most ``timeout_s`` seconds for the other processes (also
    later, in every collective).  ``batch_size`` (the global batch) is checked to split
    equally before joining.  Bad settings raise one-line errors.
    """
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return None
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK", 0)
    local_world = _env_int("LOCAL_WORLD_SIZE", world)
    if not 0 <= rank < world:
        raise UsageError(f"RANK={rank} is outside 0 ... WORLD_SIZE-1 = {world - 1}.")
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not os.environ.get(name):
            raise UsageError(
                f"{name} is not set: start data-parallel runs with torchrun, which sets it."
            )
    if not timeout_s > 0:
        raise UsageError(f"The timeout must be > 0 seconds, got {timeout_s}.")
    if batch_size is not None:
        check_batch_split(batch_size, world)
    dev = _device(device, local_rank, local_world)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    try:
        dist.init_process_group(
            backend, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=timeout_s)
        )
    except (dist.DistError, RuntimeError, ValueError) as e:
        raise DistributedError(
            f"process {rank} of {world}: the other processes did not all join within {timeout_s:g} s at "
            f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} ({_first_line(e)}); start all of them "
            "with the same torchrun command (same --nnodes, --rdzv-endpoint) and check that the address is reachable."
        ) from None
    dp = DataParallel(rank, world, local_rank, dev, backend)
    _check_same_device_type(dp)
    return dp


def _device(device: str, local_rank: int, local_world: int) -> torch.device:
    """This process's device: ``cuda`` becomes ``cuda:LOCAL_RANK``; one-line errors for what cannot work."""
    from llmlab.training import resolve_device

    dev = resolve_device(device)
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise UsageError(
            f"Data-parallel training runs on 'cpu' (gloo) or 'cuda' (NCCL), not {device!r}."
        )
    if dev.index is not None and local_world > 1:
        raise UsageError(
            f"--device {device} would put all {local_world} processes of this machine on one GPU: "
            "pass --device cuda, and process LOCAL_RANK takes cuda:LOCAL_RANK."
        )
    if local_world > torch.cuda.device_count():
        raise UsageError(
            f"{local_world} processes on this machine but only {torch.cuda.device_count()} CUDA GPU(s): "
            f"use --nproc_per_node={torch.cuda.device_count()} or fewer."
        )
    dev = torch.device("cuda", local_rank if dev.index is None else dev.index)
    torch.cuda.set_device(dev)
    return dev


def _check_same_device_type(dp: DataParallel) -> None:
    """All processes on the same kind of device (a CPU process cannot all-reduce with a GPU one)."""
    store = dist.distributed_c10d._get_default_store()
    store.set(f"llmlab/device/{dp.rank}", dp.device.type)
    kinds = {store.get(f"llmlab/device/{r}").decode() for r in range(dp.world_size)}
    if len(kinds) > 1:
        dp.close()
        raise UsageError(
            f"The processes of this run use different devices ({', '.join(sorted(kinds))}): "
            "give every machine the same --device."
        )


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return (lines[0] if lines else type(e).__name__)[:200]


def leave_after_failure(code: int) -> NoReturn:
    """End this process now with exit status ``code``, without tearing down its broken process group.

    After another process of the run failed, the teardown (``destroy_process_group``, or gloo's
    destructors when the interpreter exits) can abort this one with "terminate called without an
    active exception" (SIGABRT), depending on where its threads were. The caller prints its message
    first; output is flushed here, then ``os._exit`` skips the teardown.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def describe_failure(dp: DataParallel, error: BaseException) -> str | None:
    """One line for an error that means another process stopped (None for any other error)."""
    if not isinstance(error, (dist.DistError, RuntimeError)) or isinstance(error, DistributedError):
        return None
    text = str(error).lower()
    signs = (
        "gloo",
        "nccl",
        "connection",
        "timed out",
        "timeout",
        "peer",
        "socket",
        "broken pipe",
        "closed",
    )
    if not any(s in text for s in signs):
        return None
    return (
        f"process {dp.rank} of {dp.world_size} stopped: another process of this run failed or stopped "
        f"answering ({_first_line(error)}); its own message says why."
    )


# ---------------------------------------------------------------------------
# When a full copy per process no longer fits: ZeRO's memory arithmetic
# ---------------------------------------------------------------------------

#: Bytes per parameter of mixed-precision Adam (ZeRO, Rajbhandari et al. 2020, arXiv:1910.02054,
#: section 3.1): fp16 weights (2) and gradients (2), K = 12 of optimizer states (fp32 master, m, v).
ZERO_BYTES = (2, 2, 12)


def zero_memory_per_device(n_params: int, n_devices: int) -> dict[str, float]:
    """Model-state bytes on each device, by what is sharded over ``n_devices`` (ZeRO, section 5, Figure 1).

    * "DDP (every process a full copy)": (2 + 2 + K) Psi;
    * "ZeRO-1 (optimizer states sharded)": 2 Psi + 2 Psi + K Psi / N;
    * "ZeRO-2 (+ gradients)": 2 Psi + (2 + K) Psi / N;
    * "ZeRO-3 / FSDP (+ weights)": (2 + 2 + K) Psi / N (PyTorch FSDP's full sharding, Zhao et al. 2023).

    Activations and temporary buffers come on top.
    """
    w, g, k = ZERO_BYTES
    n, psi = n_devices, n_params
    return {
        "DDP (every process a full copy)": (w + g + k) * psi,
        "ZeRO-1 (optimizer states sharded)": (w + g) * psi + k * psi / n,
        "ZeRO-2 (+ gradients sharded)": w * psi + (g + k) * psi / n,
        "ZeRO-3 / FSDP (+ weights sharded)": (w + g + k) * psi / n,
    }


# ---------------------------------------------------------------------------
# Starting processes as torchrun does, on this machine
# ---------------------------------------------------------------------------


def launch_local(
    args: list[str], nproc: int = 2, timeout_s: float = 600, cwd=None, rank0=None
) -> list[tuple[int, str, str]]:
    """Run ``python <args>`` in ``nproc`` processes with torchrun's variables, on 127.0.0.1 and a free port.

    What ``torchrun --standalone --nproc_per_node=nproc <args>`` does, minus torchrun's own
    process (its restarts and health checks).  ``rank0`` (optional, a function of no arguments
    returning an exit code) is process 0, run in *this* process with the variables set, e.g.
    ``lambda: llmlab.__main__.main([...])``: a notebook then needs one Python process fewer.
    Returns ``(exit code, stdout, stderr)`` of each process, rank 0 first (its output is this
    process's own when ``rank0`` is given: "" here).
    """
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def variables(rank: int) -> dict[str, str]:
        return {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(nproc),
            "LOCAL_WORLD_SIZE": str(nproc),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }

    procs = {}
    for rank in range(0 if rank0 is None else 1, nproc):
        env = {
            **os.environ,
            **variables(rank),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        }
        procs[rank] = subprocess.Popen(
            [sys.executable, *args],
            env=env,
            cwd=cwd,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    results = []
    try:
        if rank0 is not None:
            saved = {k: os.environ.get(k) for k in variables(0)}
            os.environ.update(variables(0))
            try:
                results.append((rank0(), "", ""))
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        for p in procs.values():
            out, err = p.communicate(timeout=timeout_s)
            results.append((p.returncode, out, err))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    return results
