"""Checkers for the exercises at the end of each lesson, one module per concept.

A checker never raises on a wrong answer: it prints what is right, or a hint
that says what to look at, and returns True or False.  That way a notebook
still runs top to bottom while the learner's answer is a placeholder.

>>> from llmlab.exercises import embeddings as ex
>>> ex.check_cosine_similarity(0.5)
Not yet: ...
"""

from __future__ import annotations

from collections.abc import Callable


def report(ok: bool, success: str, hint: str) -> bool:
    """Print the outcome of a check (a success message, or a hint) and return ``ok``."""
    print(f"Correct! {success}" if ok else f"Not yet: {hint}")
    return ok


def not_answered(answer) -> bool:
    """True while the learner has not replaced the placeholder (None or ...)."""
    return answer is None or answer is Ellipsis


def run_check(answer, check: Callable[[object], tuple[bool, str, str]]) -> bool:
    """Apply ``check(answer) -> (ok, success, hint)``; a placeholder or a crash gives a hint, not a traceback."""
    if not_answered(answer):
        return report(
            False, "", "replace the placeholder (None) with your answer, then run the cell again."
        )
    try:
        ok, success, hint = check(answer)
    except Exception as exc:  # a malformed answer: say what is wrong with it
        return report(False, "", f"your answer could not be checked ({type(exc).__name__}: {exc}).")
    return report(ok, success, hint)
