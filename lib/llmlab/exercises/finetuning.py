"""Checkers for the exercises of lesson 05 (fine-tuning).

>>> from llmlab.exercises import finetuning as ex
>>> ex.check_lora_parameters(None, n_layer=4, n_embd=128, r=8)
Not yet: ...
"""

from __future__ import annotations

import torch

from llmlab.exercises import run_check
from llmlab.finetuning import IGNORE_INDEX, sft_inputs_and_targets
from llmlab.memory import LLAMA2, MIXED_ADAM, lora_parameter_count


def check_lora_parameters(answer, n_layer: int, n_embd: int, r: int) -> bool:
    """Exercise 1: trainable parameters of LoRA rank ``r`` on ``q_proj`` and ``v_proj`` of every block."""
    expected = n_layer * lora_parameter_count([(n_embd, n_embd)] * 2, r)  # q_proj, v_proj

    def check(a):
        a = int(a)
        if a == expected:
            return (
                True,
                f"{n_layer} blocks x 2 layers x r(d + k) = {expected:,} trainable parameters.",
                "",
            )
        if a == n_layer * 2 * r * n_embd:
            return (
                False,
                "",
                "you counted one of the two matrices; LoRA trains both B (d x r) and A (r x k).",
            )
        if a == n_layer * 2 * n_embd * n_embd:
            return (
                False,
                "",
                "that is the size of the frozen W0 matrices; count B (d x r) and A (r x k) instead.",
            )
        return (
            False,
            "",
            f"each adapted d x k layer adds r(d + k) parameters; here d = k = {n_embd}, r = {r}, and two layers per block.",
        )

    return run_check(answer, check)


def check_full_finetuning_memory(answer_gb) -> bool:
    """Exercise 2: model-state memory (GB) of full fine-tuning LLaMA 2 13B with mixed-precision AdamW."""
    n = LLAMA2["LLaMA 2 13B"].published_params
    expected = sum(MIXED_ADAM) * n / 1e9

    def check(a):
        a = float(a)
        if abs(a - expected) / expected < 0.02:
            return (
                True,
                f"16 bytes x {n / 1e9:.2f}B parameters = {expected:.0f} GB, before any activation.",
                "",
            )
        if abs(a - 2 * n / 1e9) / (2 * n / 1e9) < 0.02:
            return (
                False,
                "",
                "that is only the 16-bit weights; add the gradients and the optimizer states (ZeRO, section 3.1).",
            )
        return (
            False,
            "",
            "mixed-precision Adam keeps 2 + 2 + 12 = 16 bytes per parameter (Rajbhandari et al. 2020); answer in GB (1e9 bytes).",
        )

    return run_check(answer_gb, check)


def check_mask_prompt(fn) -> bool:
    """Exercise 3: ``fn(ids, n_prompt) -> (x, y)`` with the prompt's targets set to -100."""

    def check(f):
        g = torch.Generator().manual_seed(0)
        for n_prompt, length in [(3, 8), (1, 5), (10, 12), (6, 30)]:
            ids = torch.randint(90, (length,), generator=g).tolist()
            x, y = (torch.as_tensor(t) for t in f(ids, n_prompt))
            x_ref, y_ref = sft_inputs_and_targets(ids, n_prompt)
            if x.shape != x_ref.shape or y.shape != y_ref.shape:
                return False, "", f"x and y should both have len(ids) - 1 = {length - 1} elements."
            if not torch.equal(x, x_ref):
                return False, "", "x is the sequence without its last token: ids[:-1]."
            if not torch.equal(y, y_ref):
                wrong = (y != y_ref).nonzero().flatten().tolist()
                return (
                    False,
                    "",
                    (
                        f"y differs at positions {wrong[:5]} (n_prompt = {n_prompt}); y[t] predicts ids[t + 1], "
                        f"so the first n_prompt - 1 targets are prompt tokens and become {IGNORE_INDEX}."
                    ),
                )
        return True, "only the response (and its end-of-response newline) carries the loss.", ""

    return run_check(fn, check)


def check_merged_weight(fn) -> bool:
    """Exercise 4: ``fn(W0, A, B, alpha, r)`` returns the merged LoRA weight ``W0 + (alpha / r) B A``."""

    def check(f):
        g = torch.Generator().manual_seed(1)
        W0, A, B = (
            torch.randn(6, 5, generator=g),
            torch.randn(2, 5, generator=g),
            torch.randn(6, 2, generator=g),
        )
        got = torch.as_tensor(f(W0, A, B, 8.0, 2))
        expected = W0 + (8.0 / 2) * B @ A
        if got.shape != expected.shape:
            return (
                False,
                "",
                f"the merged weight has W0's shape {tuple(W0.shape)}; B is (d x r) and A is (r x k), so B @ A is (d x k).",
            )
        if torch.allclose(got, W0 + B @ A):
            return False, "", "scale the update by alpha / r."
        if not torch.allclose(got, expected, atol=1e-5):
            return False, "", "the merged weight is W0 + (alpha / r) * B @ A."
        return True, "one matrix again: the merged model costs nothing extra at inference.", ""

    return run_check(fn, check)
