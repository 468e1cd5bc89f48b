"""Checkers for the exercises of lesson 08 (scaling out: data parallelism, ZeRO and FSDP).

Each prints "Correct! ..." or "Not yet: <hint>" and returns True or False; the expected answers are
computed from ``llmlab.distributed`` and ``llmlab.memory.LLAMA2``.
"""

from __future__ import annotations

from llmlab.distributed import zero_memory_per_device
from llmlab.exercises import run_check
from llmlab.memory import LLAMA2


def check_rows_per_process(answer) -> bool:
    """``answer``: rows each process computes for ``--batch-size 24`` under ``torchrun --nnodes=2 --nproc_per_node=4``."""
    want = 24 // (2 * 4)

    def check(a):
        if int(a) != want:
            return (
                False,
                "",
                "--batch-size is the global batch; it is shared by all processes of all machines (2 x 4).",
            )
        return (
            True,
            f"{want} rows each; 8 processes x {want} = 24, the batch of one process with --batch-size 24.",
            "",
        )

    return run_check(answer, check)


def check_zero3_7b(answer) -> bool:
    """``answer``: GB (10^9 bytes) of model states per GPU for LLaMA 2 7B with ZeRO-3 / FSDP over 8 GPUs."""
    memory = zero_memory_per_device(LLAMA2["LLaMA 2 7B"].published_params, 8)
    want = memory["ZeRO-3 / FSDP (+ weights sharded)"] / 1e9

    def check(a):
        got = float(a)
        if abs(got - want) <= 0.05:
            return (
                True,
                f"{want:.1f} GB per GPU instead of {memory['DDP (every process a full copy)'] / 1e9:.0f} GB.",
                "",
            )
        if abs(got - want * 8) <= 0.5:
            return False, "", "that is one full copy; with ZeRO-3 every GPU keeps only 1/8 of it."
        return (
            False,
            "",
            "16 bytes per parameter (2 weight + 2 gradient + 12 Adam), all of it divided by 8 GPUs.",
        )

    return run_check(answer, check)
