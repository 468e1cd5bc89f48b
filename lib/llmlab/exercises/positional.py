"""Checkers for the exercises of lesson 02 (positional encoding).

Each checker prints "Correct! ..." or "Not yet: <hint>" and returns True or False;
a placeholder answer (None) or a crashing function gives a hint, never a traceback.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from llmlab import positional
from llmlab.exercises import run_check


def check_pe_value(answer) -> bool:
    """Exercise 1: the value PE(pos=3, dimension 5) of a sinusoidal table with d_model = 8."""

    def check(x):
        x = float(x)
        expected = float(positional.sinusoidal(4, 8)[3, 5])  # cos(3 / 10000^(4/8)) = cos(0.03)
        if math.isclose(x, expected, abs_tol=1e-4):
            return (
                True,
                f"dimension 5 is the cosine of pair i = 2: cos(3 / 10000^(4/8)) = cos(0.03) = {expected:.5f}.",
                "",
            )
        # the common mistake: i taken as the dimension index (exponent 5/8 or 10/8)
        wrong_angles = (3 / 10000 ** (5 / 8), 3 / 10000 ** (10 / 8))
        if any(
            math.isclose(x, f(a), abs_tol=1e-4) for f in (math.sin, math.cos) for a in wrong_angles
        ):
            return (
                False,
                "",
                "i counts pairs of dimensions, not dimensions: dimension 5 = 2i + 1 with i = 2.",
            )
        if math.isclose(x, math.sin(0.03), abs_tol=1e-4):
            return False, "", "the right angle (0.03), but odd dimensions (2i + 1) hold the cosine."
        return False, "", "dimension 5 = 2i + 1, so i = 2 and PE = cos(pos / 10000^(2i / d_model))."

    return run_check(answer, check)


def check_sinusoidal(fn) -> bool:
    """Exercise 2: ``fn(n_positions, d_model)`` returns the (n_positions, d_model) sinusoidal table."""

    def check(f):
        if not callable(f):
            return False, "", "pass your function itself (my_sinusoidal), not its result."
        for n, d in [(10, 8), (50, 32), (7, 2)]:
            got = np.asarray(f(n, d), dtype=float)
            want = positional.sinusoidal(n, d).double().numpy()
            if got.shape != want.shape:
                return (
                    False,
                    "",
                    f"for n_positions={n}, d_model={d} the table must have shape {want.shape}, got {got.shape}.",
                )
            if not np.allclose(got, want, atol=1e-4):
                r, c = np.argwhere(~np.isclose(got, want, atol=1e-4))[0]
                return (
                    False,
                    "",
                    (
                        f"for d_model={d}, PE[{r}, {c}] should be {want[r, c]:.4f}, yours is {got[r, c]:.4f}. "
                        "Even columns hold sin, odd columns cos, and columns 2i and 2i+1 share one frequency."
                    ),
                )
        return True, "your table equals llmlab.positional.sinusoidal on three shapes.", ""

    return run_check(fn, check)


def check_rope_pair(fn) -> bool:
    """Exercise 3: ``fn(a, b, m, theta) -> (a', b')`` rotates one pair as RoPE does at position m."""

    def check(f):
        if not callable(f):
            return False, "", "pass your function itself (rope_pair), not its result."
        for a, b, m, theta in [(1.0, 0.0, 1, 0.5), (0.3, -2.0, 7, 0.1), (1.5, 0.5, 3, 1.0)]:
            got = np.asarray(f(a, b, m, theta), dtype=float).reshape(-1)
            x = torch.tensor([[a, b]], dtype=torch.float64)  # one token, one pair (theta_0 = 1 rad)
            want = positional.apply_rope(x, torch.tensor([m * theta], dtype=torch.float64))[
                0
            ].numpy()
            if got.shape != (2,):
                return False, "", "return the two rotated numbers (a', b')."
            if not np.allclose(got, want, atol=1e-6):
                return (
                    False,
                    "",
                    (
                        f"rope_pair({a}, {b}, {m}, {theta}) should be ({want[0]:.4f}, {want[1]:.4f}), yours is "
                        f"({got[0]:.4f}, {got[1]:.4f}). Rotate by the angle m·theta: a' = a cos - b sin, b' = a sin + b cos."
                    ),
                )
        return True, "that is RoPE's rotation of one pair of dimensions.", ""

    return run_check(fn, check)


def check_max_positions(answer, model) -> bool:
    """Exercise 4: the longest input (in tokens) the GPT ``model`` with learned positions can read."""

    def check(x):
        n = int(positional.learned_positions(model).shape[0])
        if int(x) == n:
            return (
                True,
                f"wpe has {n} rows, one per position: a learned table has nothing for position {n}.",
                "",
            )
        return (
            False,
            "",
            "a learned table has one row per position it was trained on: look at the shape of wpe.",
        )

    return run_check(answer, check)


__all__ = ["check_max_positions", "check_pe_value", "check_rope_pair", "check_sinusoidal"]
