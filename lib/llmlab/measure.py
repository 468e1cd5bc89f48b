"""Measuring and printing: time and peak memory of a call, bytes and tables as text (lessons 00, 03, 05).

The lessons measure what they claim (attention's quadratic cost in lesson 03, the
memory of fine-tuning in lesson 05) and print the results as plain-text tables
that read the same live, on Colab and on GitHub.  This module holds those tools
once, for every lesson:

===================  ==============================================================
``time_call``        seconds of one call: the fastest of a few runs, wall or CPU clock
``timing_clock``     one torch thread and the CPU clock on the CPU, the wall clock on a GPU
``peak_memory``      peak bytes of the tensors a call creates (inputs and weights excluded)
``format_bytes``     ``1536`` -> ``'1.50 KiB'``
``format_table``     rows as a plain-text table with aligned columns
===================  ==============================================================
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import cast

import torch
from torch.overrides import TorchFunctionMode

# ---------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------


def time_call(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 1, clock: str = "wall"
) -> float:
    """Seconds one call of ``fn()`` takes: the fastest of ``repeats`` timed calls.

    The minimum, not the mean: other work on the machine only ever adds time, so
    the fastest run is the best estimate of what the call itself costs.
    ``clock="wall"`` measures elapsed time (waiting for a GPU included);
    ``clock="cpu"`` measures the CPU time of the calling thread (``time.thread_time``),
    which does not count the time it spends waiting for a busy CPU, nor the CPU time
    of the process's other threads (a Jupyter kernel runs several; with one torch
    thread, torch computes in the calling thread).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    timer = time.perf_counter if clock == "wall" else time.thread_time
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(repeats):
        start = timer()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, timer() - start)
    return best


@contextmanager
def timing_clock(device: torch.device | str) -> Iterator[str]:
    """On the CPU: one torch thread, and the clock to use ("cpu"); on a GPU: the wall clock.

    With one thread the CPU time of the calling thread is the work of the computation
    itself, the same on a busy machine as on a free one; with several threads,
    threads that wait for each other on a busy machine add spinning to the count.
    The thread count is restored on leaving.
    """
    if torch.device(device).type != "cpu":
        yield "wall"
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield "cpu"
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------


def _tensors(out: object) -> Iterator[torch.Tensor]:
    """Every tensor in an operation's output (a tensor, or tuples, lists and dicts of them)."""
    if isinstance(out, torch.Tensor):
        yield out
    elif isinstance(out, (tuple, list)):
        for item in out:
            yield from _tensors(item)
    elif isinstance(out, dict):
        for item in out.values():
            yield from _tensors(item)


class _PeakMemory(TorchFunctionMode):
    """Track the bytes of tensors created inside the ``with`` block; ``.peak`` is the maximum alive at once.

    Every tensor a torch function returns is counted once per storage (views share
    their base's storage) until the last tensor using that storage is freed.
    Tensors that existed before the block (inputs, weights) are not counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage address -> [bytes, tensors alive]
        self.current = 0
        self.peak = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in _tensors(out):
            self._track(t)
        return out

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key == 0:  # an empty tensor
            return
        entry = self.live.get(key)
        if entry is None:
            entry = self.live[key] = [storage.nbytes(), 0]
            self.current += entry[0]
            self.peak = max(self.peak, self.current)
        entry[1] += 1
        weakref.finalize(t, self._release, key)

    def _release(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del self.live[key]
            self.current -= entry[0]


def peak_memory(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Peak bytes of the tensors ``fn()`` creates while it runs (inputs and weights excluded).

    On a CUDA device this is ``torch.cuda.max_memory_allocated`` above what was
    allocated before the call; elsewhere the tensors are tracked one by one as the
    torch functions create and free them (``torch.overrides.TorchFunctionMode``).
    The output of ``fn`` is freed before returning.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        del out
        return int(peak)
    with _PeakMemory() as tracker:
        out = fn()
        del out
    return int(tracker.peak)


# ---------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.50 KiB'``: bytes in binary units (KiB = 1024 bytes)."""
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"


def format_table(
    rows: Sequence[Sequence[object]] | Sequence[Mapping[str, object]],
    header: Sequence[str] | None = None,
    align: str = "right",
) -> str:
    """A plain-text table (no pandas needed): a header row, a rule, then one line per row.

    ``rows`` are sequences of cells with ``header`` naming the columns, or dicts with
    equal keys, whose keys are the header when ``header`` is None.  ``align`` is
    "right" (numbers line up) or "left" (text reads better); trailing spaces are cut.
    An empty list of dicts gives an empty string.
    """
    if align not in ("left", "right"):
        raise ValueError(f"align must be 'left' or 'right', got {align!r}")
    if rows and isinstance(rows[0], Mapping):
        header = list(rows[0]) if header is None else list(header)
        rows = [[row[k] for k in header] for row in cast("Sequence[Mapping[str, object]]", rows)]
    if header is None:
        if rows:
            raise ValueError("format_table needs a header for rows that are not dicts")
        return ""
    cells = [[str(h) for h in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    pad = str.rjust if align == "right" else str.ljust
    lines = ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
