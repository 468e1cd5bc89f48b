"""Checkers for the exercises of lesson 03 (attention).

1. :func:`check_attention_row`: one row of attention weights, computed by hand for the
   query and keys in :data:`ROW_QUERY` and :data:`ROW_KEYS`.
2. :func:`check_causal_mask`: a causal mask for :data:`MASK_SIZE` tokens (True = may attend).
3. :func:`check_block_parameters`: the number of parameters of one GPT block of width
   :data:`BLOCK_D_MODEL` with :data:`BLOCK_N_HEADS` heads.

Each prints "Correct! ..." or "Not yet: <hint>" and returns True or False.
"""

from __future__ import annotations

import math

import torch

from llmlab.exercises import run_check

# --------------------------------------------------------------------------- exercise 1

#: The query of the word "sat" and the keys of "the", "cat", "sat" (d_k = 4).
ROW_TOKENS = ["the", "cat", "sat"]
ROW_QUERY = torch.tensor([1.0, 0.0, 2.0, 1.0])  # (d_k,)
ROW_KEYS = torch.tensor(
    [
        [0.0, 1.0, 0.0, 1.0],  # the
        [1.0, 0.0, 1.0, 0.0],  # cat
        [1.0, 1.0, 1.0, 1.0],  # sat
    ]
)  # (T, d_k)


def _row_weights(scale: bool = True, softmax: bool = True) -> torch.Tensor:
    scores = ROW_KEYS @ ROW_QUERY  # (T,)
    if scale:
        scores = scores / math.sqrt(ROW_QUERY.numel())
    return torch.softmax(scores, dim=-1) if softmax else scores


def _as_tensor(answer) -> torch.Tensor:
    if isinstance(answer, torch.Tensor):
        return answer.detach().cpu()
    return torch.as_tensor(answer)


def check_attention_row(answer) -> bool:
    """Weights of the query "sat" over the keys "the", "cat", "sat": softmax(q·k / sqrt(d_k)), 3 numbers."""

    def check(answer):
        a = _as_tensor(answer).double().flatten()
        if a.numel() != len(ROW_TOKENS):
            return (
                False,
                "",
                f"give {len(ROW_TOKENS)} weights, one per key ({', '.join(ROW_TOKENS)}); got {a.numel()}.",
            )
        right = _row_weights().double()
        if torch.allclose(a, right, atol=2e-3):
            return (
                True,
                f"the weights are {[round(x, 3) for x in right.tolist()]}: 'sat' looks most at itself.",
                "",
            )
        if torch.allclose(a, _row_weights(scale=False).double(), atol=2e-3):
            return (
                False,
                "",
                "close: you applied the softmax to q·k directly; divide the scores by sqrt(d_k) = 2 first.",
            )
        if torch.allclose(a, _row_weights(softmax=False).double(), atol=2e-3):
            return (
                False,
                "",
                "these are the scaled scores; now turn them into weights with the softmax.",
            )
        if not math.isclose(float(a.sum()), 1.0, abs_tol=1e-2):
            return (
                False,
                "",
                f"attention weights sum to 1 (yours sum to {float(a.sum()):.3f}); apply the softmax.",
            )
        return (
            False,
            "",
            "score each key with q·k, divide by sqrt(d_k), then take the softmax over the 3 scores.",
        )

    return run_check(answer, check)


# --------------------------------------------------------------------------- exercise 2

#: The number of tokens of the causal-mask exercise.
MASK_SIZE = 5


def check_causal_mask(answer) -> bool:
    """A ``(5, 5)`` boolean mask where entry [i, j] is True when query i may attend to key j."""

    def check(answer):
        a = _as_tensor(answer)
        if tuple(a.shape) != (MASK_SIZE, MASK_SIZE):
            return (
                False,
                "",
                f"the mask has one row per query and one column per key: shape ({MASK_SIZE}, {MASK_SIZE}), got {tuple(a.shape)}.",
            )
        if a.dtype != torch.bool:
            if not torch.all((a == 0) | (a == 1)):
                return False, "", "use True/False (or 1/0) entries: True = may attend."
            a = a.bool()
        right = torch.ones(MASK_SIZE, MASK_SIZE, dtype=torch.bool).tril()
        if torch.equal(a, right):
            return (
                True,
                "row i is True up to column i: each token sees itself and the tokens before it.",
                "",
            )
        if torch.equal(a, ~right):
            return (
                False,
                "",
                "you marked what is hidden: in this course True means 'may attend'. Flip it.",
            )
        if torch.equal(a, right.T):
            return (
                False,
                "",
                "that lets each token see the future: rows are queries, so row i may see columns 0..i.",
            )
        if torch.equal(a, right.tril(-1)):
            return False, "", "almost: a token may also attend to itself (the diagonal is True)."
        return (
            False,
            "",
            "start from torch.ones(5, 5, dtype=torch.bool) and keep its lower triangle (torch.tril).",
        )

    return run_check(answer, check)


# --------------------------------------------------------------------------- exercise 3

#: The block of the parameter-count exercise: GPT-2 style, biases everywhere, MLP 4 x wider.
BLOCK_D_MODEL = 64
BLOCK_N_HEADS = 4


def block_parameter_count(d_model: int, mlp_ratio: int = 4, bias: bool = True) -> int:
    """Parameters of one pre-LayerNorm GPT block (``llmlab.gpt.Block``), by formula.

    attention: 4 projections (q, k, v, out) of ``d x d`` (+ ``d`` biases each);
    MLP: ``d x 4d`` (+ ``4d``) and ``4d x d`` (+ ``d``); two LayerNorms of ``d``
    weights (+ ``d`` biases).  The number of heads does not appear: the heads split
    the same ``d x d`` projections between them.
    """
    b = 1 if bias else 0
    hidden = mlp_ratio * d_model
    attention = 4 * (d_model * d_model + b * d_model)
    mlp = d_model * hidden + b * hidden + hidden * d_model + b * d_model
    layer_norms = 2 * (d_model + b * d_model)
    return attention + mlp + layer_norms


def check_block_parameters(answer) -> bool:
    """The parameter count of one block with d_model = 64 and 4 heads (biases and LayerNorms included)."""

    def check(answer):
        if not float(answer).is_integer():
            return False, "", "a parameter count is a whole number."
        n = int(answer)
        d = BLOCK_D_MODEL
        right = block_parameter_count(d)
        if n == right:
            return (
                True,
                f"{right:,} parameters: {4 * (d * d + d):,} in attention, {right - 4 * (d * d + d) - 4 * d:,} in the MLP, {4 * d} in the two LayerNorms.",
                "",
            )
        if n == block_parameter_count(d, bias=False):
            return (
                False,
                "",
                "you counted the weight matrices; every nn.Linear here also has a bias vector, and LayerNorm has one too.",
            )
        if n == right - 4 * d:
            return (
                False,
                "",
                "add the two LayerNorms: each has a weight and a bias of size d_model.",
            )
        if n == right - (d * d + d):
            return (
                False,
                "",
                "there are four projections in attention: query, key, value and the output projection.",
            )
        if n == right - 4 * (d * d + d):
            return False, "", "you left out attention (q, k, v and output projections)."
        if n == 4 * (d * d + d) + 4 * d or n < 4 * d * d:
            return False, "", "don't forget the MLP: d -> 4d -> d, two linear layers with biases."
        return (
            False,
            "",
            "add up: 4 linear layers d -> d in attention, 2 in the MLP (d -> 4d -> d), 2 LayerNorms; each with its bias. The head count does not change it.",
        )

    return run_check(answer, check)
