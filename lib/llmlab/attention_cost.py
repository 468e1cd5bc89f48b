"""What attention costs: time and memory against sequence length, and the KV cache.

Two questions from lesson 03, answered with numbers:

1. How do the time and the memory of one attention layer grow with the sequence
   length T?  Every query scores every key, so the score matrix has T x T entries
   per head: the cost grows like T^2 (Vaswani et al. 2017, Table 1: a self-attention
   layer costs O(n^2 * d) per layer, a recurrent one O(n * d^2) but in n sequential
   steps).  :func:`measure_attention_cost` measures it; :func:`attention_vs_recurrent`
   times attention against a step-by-step recurrent loop of the same width.

2. How much memory does a model keep per generated token?  While generating, a
   decoder caches the keys and values of every earlier token in every layer:
   ``2 (K and V) x n_layers x n_kv_heads x head_dim x bytes per value`` per token.
   Grouped-query attention (GQA, Ainslie et al. 2023) shrinks it by sharing each
   key/value head among several query heads.  :func:`kv_cache_table` computes it for
   LLaMA 2 7B and 70B.

Sources
-------
- Vaswani et al. 2017, "Attention Is All You Need", arXiv:1706.03762, Table 1.
- Ainslie et al. 2023, "GQA: Training Generalized Multi-Query Transformer Models from
  Multi-Head Checkpoints", arXiv:2305.13245.
- Touvron et al. 2023b, "Llama 2: Open Foundation and Fine-Tuned Chat Models",
  arXiv:2307.09288: Table 1 (GQA used by the 34B and 70B models, context 4k) and
  Appendix A.2.1 "Grouped-Query Attention" ("a grouped-query attention variant with
  8 KV projections").  The layer counts, widths and head counts are those of the
  LLaMA architecture, Touvron et al. 2023a, arXiv:2302.13971, Table 2 (6.7B: width
  4096, 32 heads, 32 layers; 65.2B: width 8192, 64 heads, 80 layers), which Llama 2
  keeps (2023b, Section 2.2), as in the configurations Meta released with the weights
  (Llama-2-7b-hf: 32 layers, 32 heads, 32 KV heads, hidden size 4096;
  Llama-2-70b-hf: 80 layers, 64 heads, 8 KV heads, hidden size 8192).  They are read
  from ``llmlab.memory.LLAMA2``, the course's one table of LLaMA 2 sizes.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from llmlab.memory import LLAMA2, LlamaConfig

# ---------------------------------------------------------------------------
# Measuring: time and peak memory of a call
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
        _synchronize()
        best = min(best, timer() - start)
    return best


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


@contextmanager
def _timing_setup(device: torch.device):
    """On the CPU: one torch thread, and the clock to use ("cpu"); on a GPU: the wall clock.

    With one thread the CPU time of the calling thread is the work of the computation
    itself, the same on a busy machine as on a free one; with several threads,
    threads that wait for each other on a busy machine add spinning to the count.
    """
    if device.type != "cpu":
        yield "wall"
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield "cpu"
    finally:
        torch.set_num_threads(threads)


class _PeakMemory(TorchDispatchMode):
    """Track the bytes of tensors created inside the ``with`` block; ``.peak`` is the maximum alive at once.

    Every tensor an operation returns is counted once per storage (views share
    their base's storage) until the last tensor using that storage is freed.
    Tensors that existed before the block (inputs, weights) are not counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage address -> [bytes, tensors alive]
        self.current = 0
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
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
    operations create and free them.  The output of ``fn`` is freed before returning.
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

    On the CPU the time is the CPU time of one thread (see ``_timing_setup``), so
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
    lengths = [int(t) for t in seq_lens]
    if progress:
        from llmlab.progress import progress_bar

        lengths = progress_bar(lengths, desc="attention cost")
    for T in lengths:
        x = torch.randn(batch, T, d_model, device=device)  # (B, T, C)

        def forward(x=x):
            with torch.no_grad():
                return layer.attention_weights(x)

        with _timing_setup(device) as clock:
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

    with _timing_setup(device) as clock:
        attention_seconds = time_call(run_attention, repeats=repeats, clock=clock)
        recurrent_seconds = time_call(run_recurrent, repeats=repeats, clock=clock)
    return ParallelVsRecurrent(
        seq_len=seq_len,
        d_model=d_model,
        attention_seconds=attention_seconds,
        recurrent_seconds=recurrent_seconds,
        recurrent_steps=seq_len,
    )


# ---------------------------------------------------------------------------
# The KV cache
# ---------------------------------------------------------------------------


# The architectures are llmlab.memory's LLaMA 2 table (one table for the whole course).
#: LLaMA 2 7B: standard multi-head attention, 32 KV heads (no GQA, Touvron et al. 2023b, Table 1);
#: 32 layers, 32 heads, width 4096 (Touvron et al. 2023a, Table 2; Meta's Llama-2-7b-hf config).
LLAMA2_7B: LlamaConfig = LLAMA2["LLaMA 2 7B"]
#: LLaMA 2 70B: grouped-query attention with 8 KV heads (Touvron et al. 2023b, Table 1 and
#: Appendix A.2.1); 80 layers, 64 heads, width 8192 (Meta's Llama-2-70b-hf config).
LLAMA2_70B: LlamaConfig = LLAMA2["LLaMA 2 70B"]


def kv_cache_bytes_per_token(
    n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int = 2
) -> int:
    """Bytes of KV cache one token adds: ``2 (K and V) x n_layers x n_kv_heads x head_dim x bytes_per_value``.

    ``bytes_per_value`` is 2 for 16-bit floats (fp16/bf16, how LLaMA 2 is served),
    4 for float32.
    """
    for name, value in [
        ("n_layers", n_layers),
        ("n_kv_heads", n_kv_heads),
        ("head_dim", head_dim),
        ("bytes_per_value", bytes_per_value),
    ]:
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return 2 * n_layers * n_kv_heads * head_dim * bytes_per_value


@dataclass(frozen=True)
class KVCacheRow:
    """The KV cache of one model with one choice of key/value heads."""

    model: str
    attention: str  #: "MHA", "GQA-8", "MQA"
    n_kv_heads: int
    published: bool  #: True for the variant the model actually uses
    bytes_per_token: int
    context_len: int
    bytes_per_sequence: int  #: bytes_per_token x context_len


def _attention_name(n_kv_heads: int, n_heads: int) -> str:
    if n_kv_heads == n_heads:
        return "MHA"
    if n_kv_heads == 1:
        return "MQA"
    return f"GQA-{n_kv_heads}"


def kv_cache_table(
    models: Sequence[LlamaConfig] = (LLAMA2_7B, LLAMA2_70B),
    kv_heads: Sequence[int | None] = (None, 8, 1),
    context_len: int = 4096,
    bytes_per_value: int = 2,
) -> list[KVCacheRow]:
    """KV cache per token and per full context for each model, with each number of KV heads.

    ``kv_heads`` lists the variants to compute: ``None`` means one KV head per
    query head (MHA, "without GQA"), 8 is LLaMA 2 70B's GQA, 1 is multi-query
    attention.  The published variant of each model is always included and flagged.
    ``context_len`` defaults to LLaMA 2's 4096 tokens (Touvron et al. 2023b, Table 1).
    """
    rows = []
    for m in models:
        variants = [m.n_head if k is None else int(k) for k in kv_heads]
        if m.n_kv_head not in variants:
            variants.append(m.n_kv_head)
        for n_kv in sorted(set(variants), reverse=True):
            if n_kv < 1 or m.n_head % n_kv:
                raise ValueError(
                    f"{m.name}: {m.n_head} query heads cannot be split into {n_kv} KV groups"
                )
            per_token = kv_cache_bytes_per_token(m.n_layer, n_kv, m.head_dim, bytes_per_value)
            rows.append(
                KVCacheRow(
                    model=m.name,
                    attention=_attention_name(n_kv, m.n_head),
                    n_kv_heads=n_kv,
                    published=n_kv == m.n_kv_head,
                    bytes_per_token=per_token,
                    context_len=context_len,
                    bytes_per_sequence=per_token * context_len,
                )
            )
    return rows


# ---------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.50 KiB'``: bytes in binary units (KiB = 1024 bytes)."""
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"]:
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def format_table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain-text table with right-aligned columns (no pandas needed)."""
    cells = [[str(h) for h in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
