"""Checkers for the exercises of lesson 07 (running an LLM on your own machine).

Each prints "Correct! ..." or "Not yet: <hint>" and returns True or False; the expected answers are
computed from ``llmlab.quantization``, ``llmlab.inference`` and ``llmlab.memory.LLAMA2``.
"""

from __future__ import annotations

import torch

from llmlab import inference, quantization
from llmlab.exercises import run_check
from llmlab.memory import LLAMA2, kv_cache_bytes_per_token

#: Exercise 2: the block the learner quantizes by hand (8 weights, so the arithmetic stays short).
HAND_BLOCK = [0.10, -0.40, 0.05, 0.20, -0.15, 0.00, 0.35, -0.05]


def check_q4_0_size(answer) -> bool:
    """``answer = (bytes per block of 32, bits per weight)`` for llama.cpp's Q4_0."""
    qt = quantization.quantize(torch.zeros(1, 32), 4, 32)
    size = len(quantization.to_ggml_bytes(qt))

    def check(a):
        n_bytes, bits = (float(v) for v in a)
        if n_bytes != size:
            return (
                False,
                "",
                "32 weights of 4 bits are 16 bytes; add the one float16 scale of the block.",
            )
        if abs(bits - 8 * size / 32) > 1e-6:
            return False, "", "bits per weight = 8 x bytes per block / 32 weights."
        return (
            True,
            f"{size} bytes per 32 weights: {8 * size / 32} bits per weight, a 7.1x saving on float32.",
            "",
        )

    return run_check(answer, check)


def check_hand_quantization(answer) -> bool:
    """``answer``: the 8 signed Q4_0 codes (``-8 .. 7``) of ``HAND_BLOCK`` quantized as one block."""
    qt = quantization.quantize(torch.tensor([HAND_BLOCK]), 4, len(HAND_BLOCK))
    codes = qt.codes[0].tolist()

    def check(a):
        got = [int(v) for v in a]
        if len(got) != len(codes):
            return False, "", f"give one code per weight ({len(codes)} of them)."
        if got[1] != codes[1]:
            return (
                False,
                "",
                "the weight of largest magnitude, -0.40, is the one that maps to -8 (d = max / -8).",
            )
        if got != codes:
            return (
                False,
                "",
                (
                    "d = -0.40 / -8 = 0.05; each code is floor(w / d + 0.5), at most 7 "
                    "(so w / d rounded half up, then clipped)."
                ),
            )
        return (
            True,
            f"codes {codes} with d = {float(qt.scales[0, 0]):.3f}; 0.35 comes back as 7 x 0.05 exactly.",
            "",
        )

    return run_check(answer, check)


def check_13b_weights(answer) -> bool:
    """``answer``: GB (10^9 bytes) the weights of LLaMA 2 13B take in Q4_0."""
    n = LLAMA2["LLaMA 2 13B"].published_params
    want = inference.weight_bytes(n, inference.BITS_PER_WEIGHT["4-bit (Q4_0)"]) / 1e9

    def check(a):
        got = float(a)
        if abs(got - want) / want > 0.02:
            if abs(got - n * 0.5 / 1e9) / want < 0.02:
                return (
                    False,
                    "",
                    "that is 4 bits per weight; Q4_0 also stores a float16 scale per 32 weights.",
                )
            return False, "", f"parameters ({n:,}) x bits per weight / 8 bytes, in units of 10^9."
        return (
            True,
            f"{want:.2f} GB: it fits a 16 GB laptop, not an 8 GB one once the KV cache and the OS are added.",
            "",
        )

    return run_check(answer, check)


def check_kv_cache_70b(answer) -> bool:
    """``answer``: bytes of 16-bit KV cache one token adds in LLaMA 2 70B (grouped-query attention, 8 KV heads)."""
    cfg = LLAMA2["LLaMA 2 70B"]
    want = kv_cache_bytes_per_token(cfg.n_layer, cfg.n_kv_head, cfg.head_dim, 2)
    without = kv_cache_bytes_per_token(cfg.n_layer, cfg.n_head, cfg.head_dim, 2)

    def check(a):
        got = int(a)
        if got == without:
            return (
                False,
                "",
                "that is with 64 key/value heads; the 70B shares 8 among its 64 query heads.",
            )
        if got != want:
            return False, "", "2 (K and V) x layers x KV heads x head size (8192 / 64) x 2 bytes."
        return (
            True,
            f"{want:,} bytes per token, {want * 4096 / 2**30:.2f} GiB at 4,096 tokens (8x less than without GQA).",
            "",
        )

    return run_check(answer, check)


def check_speed_bound(answer) -> bool:
    """``answer``: the most tokens/s LLaMA 2 7B in Q4_0 can write on an Apple M2 (memory bandwidth bound)."""
    bytes_per_token = inference.weight_bytes(
        LLAMA2["LLaMA 2 7B"].published_params, inference.BITS_PER_WEIGHT["4-bit (Q4_0)"]
    )
    want = inference.tokens_per_second_bound(bytes_per_token, inference.APPLE_BANDWIDTH["Apple M2"])

    def check(a):
        got = float(a)
        if abs(got - want) / want > 0.05:
            return (
                False,
                "",
                "every token reads every weight once: bandwidth (bytes/s) / weight bytes.",
            )
        return (
            True,
            f"about {want:.0f} tokens/s at most (the KV cache and the arithmetic only lower it).",
            "",
        )

    return run_check(answer, check)
