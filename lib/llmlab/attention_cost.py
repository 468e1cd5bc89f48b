"""What attention costs: time and memory of one layer against the sequence length (lesson 03).

How do the time and the memory of one attention layer grow with the sequence
length T?  Every query scores every key, so the score matrix has T x T entries
per head: the cost grows like T^2 (Vaswani et al. 2017, "Attention Is All You
Need", arXiv:1706.03762, Table 1: a self-attention layer costs O(n^2 * d) per
layer, a recurrent one O(n * d^2) but in n sequential steps).
:func:`measure_attention_cost` measures it, :func:`power_law_exponent` fits the
growth, and :func:`attention_vs_recurrent` times attention against a
step-by-step recurrent loop of the same width.

The memory a model keeps per generated token (the KV cache of LLaMA 2, with and
without grouped-query attention) is arithmetic on the model's shape, and lives
with the rest of that arithmetic in ``llmlab.memory``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from llmlab.measure import peak_memory, time_call, timing_clock

# Read from here by llmlab.inference and llmlab.exercises.local_llm (owned elsewhere) until they
# import it from llmlab.memory, its home.

# ---------------------------------------------------------------------------
# Attention against sequence length
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionCost:
    """One measured row: one attention layer on a batch of ``batch`` sequences of ``seq_len`` tokens."""

    seq_len: int
    seconds: float  #: fastest forward pass, seconds (CPU time with one thread on the CPU, wall time on a GPU)
    peak_bytes: int  #: peak memory of the tensors the forward pass creates
    weights_bytes: int  #: size of the attention weights alone, batch x heads x T x T floats


def _attention_layer(d_model: int, n_heads: int, device: torch.device) -> nn.Module:
    from llmlab.attention import MultiHeadAttention

    return MultiHeadAttention(d_model, n_heads, causal=True).to(device).eval()


def measure_attention_cost(
    seq_lens: Sequence[int],
    d_model: int = 128,
    n_heads: int = 4,
    batch: int = 1,
    repeats: int = 3,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> list[AttentionCost]:
    """Time and peak memory of one causal ``MultiHeadAttention`` layer for each sequence length.

    On the CPU the time is the CPU time of one thread (see ``llmlab.measure.timing_clock``), so
    that the curve shows the computation and not the machine's load; on a GPU it
    is wall time.

    The layer is ``llmlab.attention.MultiHeadAttention(d_model, n_heads)``; its
    ``attention_weights`` runs on ``x`` of shape ``(batch, T, d_model)``, so the
    ``(batch, n_heads, T, T)`` weight matrix is materialised as in the lesson's
    explicit math.  Returns one :class:`AttentionCost` per length, in order.
    """
    if not seq_lens or any(int(t) < 1 for t in seq_lens):
        raise ValueError(
            f"seq_lens must be a non-empty list of positive lengths, got {list(seq_lens)}"
        )
    device = torch.device(device)
    layer = _attention_layer(d_model, n_heads, device)
    rows = []
    lengths: Iterable[int] = [int(t) for t in seq_lens]
    if progress:
        from llmlab.progress import progress_bar

        lengths = progress_bar(lengths, desc="attention cost")
    for T in lengths:
        x = torch.randn(batch, T, d_model, device=device)  # (B, T, C)

        def forward(x=x):
            with torch.no_grad():
                return layer.attention_weights(x)

        with timing_clock(device) as clock:
            seconds = time_call(forward, repeats=repeats, clock=clock)
        peak = peak_memory(forward, device)
        weights_bytes = batch * n_heads * T * T * x.element_size()
        rows.append(AttentionCost(T, seconds, peak, weights_bytes))
    return rows


def power_law_exponent(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The exponent ``a`` of the least-squares fit ``y = c * x**a`` (the slope on log-log axes).

    Quadratic growth gives ``a`` close to 2, linear growth close to 1.  Fit it on
    the large sizes: at small sizes fixed overheads dominate and flatten the curve.
    """
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(
            f"need at least two (x, y) pairs of equal length, got {len(xs)} and {len(ys)}"
        )
    if min(xs) <= 0 or min(ys) <= 0:
        raise ValueError("a power law needs positive x and y values")
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        raise ValueError("the x values must not all be equal")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx


@dataclass(frozen=True)
class ParallelVsRecurrent:
    """Times of one attention layer and of a recurrent loop over the same sequence."""

    seq_len: int
    d_model: int
    attention_seconds: float  #: one forward pass of the attention layer, all positions at once
    recurrent_seconds: float  #: a GRUCell stepped over the positions one after the other
    recurrent_steps: int  #: sequential steps the loop needs (= seq_len); attention needs 1


def attention_vs_recurrent(
    seq_len: int = 256,
    d_model: int = 128,
    n_heads: int = 4,
    repeats: int = 3,
    device: torch.device | str = "cpu",
) -> ParallelVsRecurrent:
    """Time one attention layer and a step-by-step ``nn.GRUCell`` of the same width on one sequence.

    Timed like :func:`measure_attention_cost`: one thread and CPU time on the CPU,
    wall time on a GPU.

    Both read ``x`` of shape ``(1, seq_len, d_model)`` and produce ``(1, seq_len,
    d_model)``.  Attention computes all positions in one batch of matrix products;
    the GRU must wait for step t before it can start step t + 1 ("this inherently
    sequential nature precludes parallelization within training examples",
    Vaswani et al. 2017, Section 1).
    """
    if seq_len < 1 or d_model < 1:
        raise ValueError(f"seq_len and d_model must be positive, got {seq_len} and {d_model}")
    device = torch.device(device)
    attention = _attention_layer(d_model, n_heads, device)
    cell = nn.GRUCell(d_model, d_model).to(device).eval()
    x = torch.randn(1, seq_len, d_model, device=device)  # (1, T, C)

    def run_attention():
        with torch.no_grad():
            return attention(x)  # (1, T, C)

    def run_recurrent():
        with torch.no_grad():
            h = torch.zeros(1, d_model, device=device)  # (1, C)
            outputs = []
            for t in range(seq_len):  # one step per position, in order
                h = cell(x[:, t], h)
                outputs.append(h)
            return torch.stack(outputs, dim=1)  # (1, T, C)

    with timing_clock(device) as clock:
        attention_seconds = time_call(run_attention, repeats=repeats, clock=clock)
        recurrent_seconds = time_call(run_recurrent, repeats=repeats, clock=clock)
    return ParallelVsRecurrent(
        seq_len=seq_len,
        d_model=d_model,
        attention_seconds=attention_seconds,
        recurrent_seconds=recurrent_seconds,
        recurrent_steps=seq_len,
    )
