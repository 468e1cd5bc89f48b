"""Checkers for the exercises of lesson 04 (the mini GPT).

1. :func:`check_untrained_loss`: the loss of an untrained model over :data:`LOSS_VOCAB` tokens.
2. :func:`check_parameter_count`: the parameters of the GPT in :data:`COUNT_CONFIG`.
3. :func:`check_top_k`: a function ``top_k_probs(logits, k)`` written by the learner.
4. :func:`check_kv_cache_bytes`: the KV cache of GPT-2 small per token, in float32.

Each prints "Correct! ..." or "Not yet: <hint>" and returns True or False.
"""

from __future__ import annotations

import math

import torch

from llmlab.exercises import run_check
from llmlab.generation import sampling_probs
from llmlab.gpt import GPTConfig, count_parameters, gpt2_config, meta_model

# --------------------------------------------------------------------------- exercise 1

#: The vocabulary size of exercise 1 (the course's character vocabulary).
LOSS_VOCAB = 93


def check_untrained_loss(answer) -> bool:
    """The expected cross-entropy of a model that gives every one of LOSS_VOCAB tokens the same probability."""

    def check(answer):
        a = float(answer)
        right = math.log(LOSS_VOCAB)
        if abs(a - right) < 0.01:
            return (
                True,
                f"ln({LOSS_VOCAB}) = {right:.3f}: every token gets probability 1/{LOSS_VOCAB}.",
                "",
            )
        if abs(a - 1 / LOSS_VOCAB) < 1e-3:
            return (
                False,
                "",
                "that is the probability of each token; the loss is minus its logarithm.",
            )
        if abs(a - math.log2(LOSS_VOCAB)) < 0.01:
            return (
                False,
                "",
                "PyTorch's cross-entropy uses the natural logarithm (math.log), not log2.",
            )
        return (
            False,
            "",
            f"a uniform guess gives each token p = 1/{LOSS_VOCAB}; the loss is -ln(p).",
        )

    return run_check(answer, check)


# --------------------------------------------------------------------------- exercise 2

#: The model of exercise 2.
COUNT_CONFIG = GPTConfig(vocab_size=100, block_size=32, n_layer=2, n_head=2, n_embd=64)


def _parameter_count(config: GPTConfig) -> int:
    return count_parameters(meta_model(config))["total"]


def check_parameter_count(answer) -> bool:
    """Total parameters of GPT(COUNT_CONFIG), with the lm_head tied to the token embedding."""

    def check(answer):
        a = int(answer)
        right = _parameter_count(COUNT_CONFIG)
        c = COUNT_CONFIG
        if a == right:
            return True, f"{right:,} parameters; the tied lm_head adds none of its own.", ""
        if a == right + c.vocab_size * c.n_embd:
            return (
                False,
                "",
                "you counted the lm_head separately; it is tied to (shares) the token embedding.",
            )
        if a == right - c.block_size * c.n_embd:
            return False, "", "do not forget the position embedding (block_size x n_embd)."
        return (
            False,
            "",
            (
                "add up: token and position embeddings; per block two LayerNorms (weight + bias), "
                "attention (4 Linear C x C with bias) and the MLP (C -> 4C -> C with biases); a final LayerNorm."
            ),
        )

    return run_check(answer, check)


# --------------------------------------------------------------------------- exercise 3


def check_top_k(fn) -> bool:
    """``fn(logits (V,), k) -> probabilities (V,)``: keep the k largest logits, softmax, zeros elsewhere."""

    def check(fn):
        if not callable(fn):
            return False, "", "pass your function itself (top_k_probs), not its result."
        g = torch.Generator().manual_seed(0)
        for k in (1, 3, 10):
            logits = torch.randn(20, generator=g) * 2
            got = torch.as_tensor(fn(logits.clone(), k)).float().flatten()
            right = sampling_probs(logits, 1.0, top_k=k)
            if got.shape != right.shape:
                return (
                    False,
                    "",
                    f"return {right.numel()} probabilities (one per token); got shape {tuple(got.shape)}.",
                )
            if not torch.allclose(got, right, atol=1e-5):
                if abs(float(got.sum()) - 1) > 1e-3:
                    return (
                        False,
                        "",
                        f"for k={k} your probabilities sum to {float(got.sum()):.3f}; renormalise (softmax over the kept logits).",
                    )
                return (
                    False,
                    "",
                    f"for k={k} the probabilities differ: keep exactly the k largest logits, set the rest to -inf, then softmax.",
                )
        return (
            True,
            "your top-k filter matches llmlab.generation.sampling_probs(logits, top_k=k).",
            "",
        )

    return run_check(fn, check)


# --------------------------------------------------------------------------- exercise 4


def check_kv_cache_bytes(answer) -> bool:
    """Bytes of KV cache per token for GPT-2 small (12 layers, width 768) in float32 (4 bytes)."""

    def check(answer):
        a = int(answer)
        c = gpt2_config("gpt2")
        right = 2 * c.n_layer * c.n_embd * 4
        if a == right:
            return (
                True,
                f"2 (K and V) x {c.n_layer} layers x {c.n_embd} x 4 bytes = {right:,} bytes, {right / 1024:.0f} KiB per token.",
                "",
            )
        if a == right // 2:
            return False, "", "the cache keeps both keys and values."
        if a == right // 4:
            return False, "", "that is a number of floats; each float32 takes 4 bytes."
        return (
            False,
            "",
            "per token and per layer the cache keeps one key and one value vector of n_embd floats.",
        )

    return run_check(answer, check)
