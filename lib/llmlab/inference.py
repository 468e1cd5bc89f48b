"""What running a model on your own machine costs: memory for the weights and the KV cache, and speed.

Two pieces of arithmetic (lesson 07):

1. **Memory.** The weights take ``parameters x bits / 8`` bytes: 16 bits as LLaMA 2 is released,
   8.5 bits in llama.cpp's Q8_0, 4.5 in Q4_0 (32 weights share one float16 scale, see
   ``llmlab.quantization``). Generating also keeps the KV cache:
   ``llmlab.memory.kv_cache_bytes_per_token`` per token of context. The sizes of LLaMA 2
   are ``llmlab.memory.LLAMA2`` (Touvron et al. 2023b, https://arxiv.org/abs/2307.09288, Table 1,
   and Meta's released configs); its context is 4,096 tokens (Table 1), and of its models only the
   34B and 70B use grouped-query attention (Table 1; the 34B was not released).

2. **Speed.** To write one token a decoder multiplies every weight once, so each token reads all the
   weights from memory (plus the KV cache). With a batch of one that reading, not the arithmetic,
   is the limit on a CPU or a laptop GPU: ``tokens/s <= memory bandwidth / bytes per token``
   (Pope et al. 2022, "Efficiently Scaling Transformer Inference", https://arxiv.org/abs/2211.05102,
   analyse this trade-off: at small batch sizes the time to load the weights dominates each decoding
   step). ``measure_bandwidth`` measures the machine it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from llmlab.measure import time_call
from llmlab.memory import GB, LLAMA2, LlamaShape, kv_cache_bytes_per_token

#: Bits per weight of each storage format: float16/bfloat16, llama.cpp's Q8_0 (a 34-byte block
#: per 32 weights) and Q4_0 (an 18-byte block per 32 weights), ggml/src/ggml-common.h.
BITS_PER_WEIGHT = {"16-bit (fp16)": 16.0, "8-bit (Q8_0)": 34 * 8 / 32, "4-bit (Q4_0)": 18 * 8 / 32}

#: Laptop memory sizes the lesson asks about, in GB.
LAPTOPS_GB = (8, 16, 32)

#: Memory bandwidth of two Apple laptop chips, as Apple announced them.
APPLE_BANDWIDTH = {
    # https://www.apple.com/newsroom/2022/06/apple-unveils-m2-with-breakthrough-performance-and-capabilities/
    "Apple M2": 100e9,
    # https://www.apple.com/newsroom/2021/10/introducing-m1-pro-and-m1-max-the-most-powerful-chips-apple-has-ever-built/
    "Apple M1 Max": 400e9,
}


def weight_bytes(n_params: int, bits: float) -> float:
    """Bytes of ``n_params`` weights stored at ``bits`` per weight."""
    if bits <= 0 or n_params < 0:
        raise ValueError(
            f"bits must be > 0 and n_params >= 0, got bits={bits}, n_params={n_params}."
        )
    return n_params * bits / 8


@dataclass(frozen=True)
class InferenceMemory:
    """Weights plus a full-context KV cache for one model, one weight format, one attention variant."""

    model: str
    weights_format: str
    attention: str  # "MHA" (one KV head per query head) or "GQA-8"
    published: bool  # the attention the released model uses
    weights: float  # bytes
    kv_cache: float  # bytes, at ``context`` tokens, 16-bit keys and values

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache

    def fits(self, ram_gb: float) -> bool:
        """Whether weights and cache fit in ``ram_gb`` GB (nothing left for the rest of the machine)."""
        return self.total <= ram_gb * GB


def inference_memory_table(
    models: dict[str, LlamaShape] | None = None,
    context: int = 4096,
    kv_heads: tuple[int | None, ...] = (None, 8),
) -> list[InferenceMemory]:
    """Memory to run each model (default: LLaMA 2 7B, 13B, 70B) in each weight format, at ``context`` tokens.

    ``kv_heads``: ``None`` = one key/value head per query head ("without GQA"), 8 = LLaMA 2 70B's
    grouped-query attention; the model's published variant is flagged. KV cache in 16 bits.
    """
    rows = []
    for name, cfg in (models or LLAMA2).items():
        variants = sorted(
            {cfg.n_head if k is None else k for k in kv_heads} | {cfg.n_kv_head}, reverse=True
        )
        for fmt, bits in BITS_PER_WEIGHT.items():
            for n_kv in variants:
                kv = kv_cache_bytes_per_token(cfg.n_layer, n_kv, cfg.head_dim, 2) * context
                rows.append(
                    InferenceMemory(
                        name,
                        fmt,
                        "MHA" if n_kv == cfg.n_head else f"GQA-{n_kv}",
                        n_kv == cfg.n_kv_head,
                        weight_bytes(cfg.published_params, bits),
                        kv,
                    )
                )
    return rows


def tokens_per_second_bound(bytes_per_token: float, bandwidth: float) -> float:
    """The most tokens per second memory bandwidth (bytes/s) allows when each token reads ``bytes_per_token``."""
    if bytes_per_token <= 0 or bandwidth <= 0:
        raise ValueError("bytes_per_token and bandwidth must be > 0.")
    return bandwidth / bytes_per_token


def measure_bandwidth(mbytes: int = 128, repeats: int = 5) -> float:
    """This machine's memory bandwidth in bytes/s, measured by copying a ``mbytes`` MB tensor.

    A copy reads and writes each byte once, so ``2 x size / seconds`` (the STREAM "copy" count,
    McCalpin, https://www.cs.virginia.edu/stream/ref.html); best of ``repeats``. Uses the
    torch threads the process has; the buffer is far larger than any CPU cache.
    """
    n = mbytes * 1_000_000 // 4
    src = torch.ones(n, dtype=torch.float32)
    dst = torch.empty_like(src)
    seconds = time_call(
        lambda: dst.copy_(src), repeats=repeats, warmup=1
    )  # warm-up: touch the pages
    return 2 * src.numel() * 4 / seconds
