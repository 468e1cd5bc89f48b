"""Checkers for the exercises of lesson 00 (the course map).

Each checker prints "Correct! ..." or "Not yet: <hint>" and returns True or False;
a placeholder answer (None) gives a hint, never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from llmlab.exercises import run_check
from llmlab.plots.sampling import softmax_with_temperature

_STEP_HINTS = {
    1: "the word embedding looks up each token's vector on its own, without looking at the others.",
    2: "positional encoding adds a vector that depends only on the token's own position.",
    4: "text generation turns the output at the last position into probabilities; by then the mixing is done.",
}


def check_mixing_step(answer) -> bool:
    """Exercise 1: in which of the four steps (1-4) do tokens exchange information with each other?"""

    def check(x):
        step = int(x)
        if step == 3:
            return (
                True,
                "self-attention, inside the transformer blocks, is the only place where a token reads the others.",
                "",
            )
        if step in _STEP_HINTS:
            return (
                False,
                "",
                _STEP_HINTS[step] + " Look for the part where a token 'looks at' other tokens.",
            )
        return False, "", "answer with the number of a step, 1 to 4."

    return run_check(answer, check)


def check_probability_at_temperature(
    answer, logits: Sequence[float], index: int, temperature: float
) -> bool:
    """Exercise 2: the probability of token ``index`` under ``softmax(logits / temperature)``."""

    def check(x):
        x = float(x)
        scores = torch.tensor(list(logits), dtype=torch.float64)
        expected = float(softmax_with_temperature(scores, temperature)[index])
        if math.isclose(x, expected, abs_tol=5e-3):
            return True, f"p = {expected:.3f} at T = {temperature:g}.", ""
        at_one = float(torch.softmax(scores, dim=-1)[index])
        if math.isclose(x, at_one, abs_tol=5e-3):
            return (
                False,
                "",
                f"that is the probability at T = 1; divide the logits by T = {temperature:g} first.",
            )
        times_t = float(torch.softmax(scores * temperature, dim=-1)[index])
        if math.isclose(x, times_t, abs_tol=5e-3):
            return False, "", "the logits are divided by T, not multiplied."
        if not 0 <= x <= 1:
            return False, "", "a probability lies between 0 and 1."
        return (
            False,
            "",
            "compute softmax(logits / T) over all candidates and take the entry of that token.",
        )

    return run_check(answer, check)


def check_forward_passes(answer, new_tokens: int = 5) -> bool:
    """Exercise 3: how many forward passes generate ``new_tokens`` tokens, one at a time, from a prompt?"""

    def check(x):
        n = int(x)
        if n == new_tokens:
            return (
                True,
                (
                    f"one pass per new token: {new_tokens}. Each pass reads the prompt plus the tokens generated "
                    "so far (lesson 04's KV cache avoids recomputing that prefix)."
                ),
                "",
            )
        if n == 1:
            return (
                False,
                "",
                "one pass gives the probabilities of only the next token; the next one depends on it.",
            )
        if n == new_tokens + 1:
            return (
                False,
                "",
                "the prompt is not run on its own: the first pass already predicts the first new token.",
            )
        return False, "", "count the trips around the autoregression loop in the course map."

    return run_check(answer, check)
