"""Hardware levers of a training run that switch themselves off where the machine lacks them.

* bfloat16 autocast on a CPU: the matmuls run in bfloat16 (half the bytes of float32; Intel AMX and
  AVX512-BF16 multiply bfloat16 natively), the weights and the optimizer stay float32
  (mixed precision, Micikevicius et al. 2018, https://arxiv.org/abs/1710.03740; bfloat16 needs no
  loss scaling because it keeps float32's exponent range). Without those instructions bfloat16 is
  emulated and slower, so it is switched off.
* Muon's Newton-Schulz iterations in bfloat16 (``llmlab.optim``): on small matrices bfloat16 is not
  always faster even where the processor has it (AVX512-BF16 without AMX can be slower than float32),
  so the two precisions are timed once on the model's own matrix shapes and bfloat16 is kept only
  where it is clearly faster.
* ``torch.compile`` (PyTorch 2, Ansel et al. 2024, https://pytorch.org/assets/pytorch2-2.pdf) traces
  the model and fuses its element-wise operations into generated C++ (on a CPU), cutting Python
  overhead and memory traffic; it needs a C++ compiler, and its compile time counts in a run's wall time.

Each check prints one line, once per process, when it switches a lever off.
"""

from __future__ import annotations

import contextlib
import functools
import platform
import shutil
from pathlib import Path
from typing import cast

import torch
from torch import nn

__all__ = [
    "autocast",
    "bf16_available",
    "bf16_newton_schulz_off",
    "bf16_newton_schulz_pays",
    "bf16_supported",
    "newton_schulz_seconds",
    "compiler_available",
    "maybe_compile",
    "say_once",
]

_said: set[str] = set()


def say_once(message: str) -> None:
    """Print ``message`` unless this process printed it already."""
    if message not in _said:
        _said.add(message)
        print(message, flush=True)


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.cache
def bf16_supported(device: str = "cpu") -> bool:
    """Whether ``device`` multiplies bfloat16 natively (a CPU with AVX512-BF16 or AMX; a GPU that says so)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if dev.type != "cpu":
        return False
    flags = _cpu_flags()
    if flags:
        return bool({"avx512_bf16", "amx_bf16"} & flags)
    return platform.machine() in ("arm64", "aarch64") and torch.backends.mps.is_available()


@functools.cache
def compiler_available() -> bool:
    """Whether ``torch.compile`` can generate code for a CPU here: a C++ compiler on the PATH."""
    if platform.system() == "Windows":
        return False
    return any(shutil.which(cc) for cc in ("g++", "c++", "clang++"))


def bf16_available(device: str | torch.device, what: str) -> bool:
    """:func:`bf16_supported`, saying once that ``what`` stays float32 where it is not."""
    if bf16_supported(str(torch.device(device))):
        return True
    say_once(
        f"bfloat16 off for {what}: this processor has no bfloat16 matmul (AVX512-BF16/AMX); float32 instead."
    )
    return False


#: bfloat16 must take at most this share of float32's time to be kept (a margin against timing noise,
#: so that one machine does not flip between the two from run to run).
BF16_MARGIN = 0.8


def bf16_newton_schulz_pays(model: nn.Module, device: str | torch.device) -> bool:
    """Whether Muon's Newton-Schulz should run in bfloat16 for ``model`` on ``device``; says once why not."""
    reason = bf16_newton_schulz_off(model, device)
    if reason is not None:
        say_once(f"Muon's Newton-Schulz stays float32: {reason}.")
    return reason is None


def bf16_newton_schulz_off(model: nn.Module, device: str | torch.device) -> str | None:
    """Why Muon's Newton-Schulz stays float32 for ``model`` on ``device`` (None: bfloat16 pays).

    bfloat16 pays where the device multiplies it (:func:`bf16_supported`) and one pass over the
    model's hidden matrices (:func:`newton_schulz_seconds`) takes at most ``BF16_MARGIN`` of float32's time.
    """
    if not bf16_supported(str(torch.device(device))):
        return "this processor has no bfloat16 matmul (AVX512-BF16/AMX)"
    bf16_s, fp32_s = newton_schulz_seconds(model, device)
    if bf16_s <= BF16_MARGIN * fp32_s:
        return None
    return (
        f"one pass over the model's matrices took {bf16_s * 1e3:.1f} ms in bfloat16 against "
        f"{fp32_s * 1e3:.1f} ms in float32 (bfloat16 is used only at or below {BF16_MARGIN:.0%} of that)"
    )


def newton_schulz_seconds(model: nn.Module, device: str | torch.device) -> tuple[float, float]:
    """Seconds of one Newton-Schulz pass over random matrices shaped like ``model``'s hidden ones,
    stacked by shape as Muon's step does: ``(bfloat16, float32)``, best of 3 each.

    Measured once per process for each device and set of shapes.
    """
    from llmlab.optim import is_hidden_matrix

    counts: dict[tuple[int, int], int] = {}
    for name, p in model.named_parameters():
        if p.requires_grad and is_hidden_matrix(name, p, model):
            short_long = (min(p.shape), max(p.shape))  # Muon works on the short side
            counts[short_long] = counts.get(short_long, 0) + 1
    stacks = tuple(sorted((n, *short_long) for short_long, n in counts.items()))
    return _newton_schulz_seconds(str(torch.device(device)), stacks)


@functools.cache
def _newton_schulz_seconds(
    device: str, stacks: tuple[tuple[int, int, int], ...]
) -> tuple[float, float]:
    from llmlab.measure import time_call
    from llmlab.optim import newton_schulz

    # a generator of its own, not the global one: training's randomness stays as it was
    g = torch.Generator().manual_seed(0)
    mats = [torch.randn(n, short, long, generator=g).to(device) for n, short, long in stacks]

    def one_pass(dtype: torch.dtype) -> float:
        return time_call(lambda: [newton_schulz(m, dtype=dtype) for m in mats], repeats=3, warmup=1)

    return one_pass(torch.bfloat16), one_pass(torch.float32)


def autocast(precision: str, device: str | torch.device = "cpu"):
    """A context: bfloat16 autocast when ``precision == "bfloat16"`` and the device supports it, else nothing."""
    dev = torch.device(device)
    if precision != "bfloat16" or not bf16_available(dev, "the model's matmuls"):
        return contextlib.nullcontext()
    return torch.autocast(dev.type, dtype=torch.bfloat16)


def maybe_compile(model: nn.Module, enabled: bool) -> nn.Module:
    """``torch.compile(model)`` when asked for and a compiler exists; else ``model`` (saying so once)."""
    if not enabled:
        return model
    if not compiler_available():
        say_once("torch.compile off: no C++ compiler found; training without compiling.")
        return model
    return cast(nn.Module, torch.compile(model))
