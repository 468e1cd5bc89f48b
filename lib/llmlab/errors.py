"""The errors llmlab raises for a user's mistake, and the checks that raise them.

A learner who passes a wrong argument should read one line that says what is wrong
and what to do, not a traceback from deep inside torch, json or safetensors.  So
every public function checks its arguments at the boundary and raises
:class:`UsageError` (a ``ValueError``, so ``except ValueError`` still catches it);
the command line turns it into one line on stderr and exit code 2.

>>> from llmlab.errors import UsageError, check_int
>>> check_int("max_new_tokens", 2.5, minimum=0)
Traceback (most recent call last):
  ...
llmlab.errors.UsageError: max_new_tokens must be an integer, got 2.5 (float).
"""

from __future__ import annotations

import math
import numbers

__all__ = ["NonFiniteLossError", "UsageError", "check_int", "check_real"]


class UsageError(ValueError):
    """Bad input from the user; the message says in one line what is wrong and what to do."""


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss became NaN or infinite.

    ``step`` is the step whose loss was not finite, ``result`` the
    :class:`llmlab.training.TrainResult` of the steps before it.
    """

    def __init__(self, message: str, step: int, result=None):
        super().__init__(message)
        self.step, self.result = step, result


def _shown(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int, or a :class:`UsageError` naming ``name`` (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{name} must be an integer, got {_shown(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise UsageError(f"{name} must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise UsageError(f"{name} must be <= {maximum}, got {value}.")
    return value


def check_real(
    name: str,
    value,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    open_min: bool = False,
    open_max: bool = False,
) -> float:
    """``value`` as a finite float in the given range, or a :class:`UsageError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UsageError(f"{name} must be a number, got {_shown(value)}.")
    value = float(value)
    if not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value}.")
    if minimum is not None and (value <= minimum if open_min else value < minimum):
        raise UsageError(f"{name} must be {'>' if open_min else '>='} {minimum:g}, got {value:g}.")
    if maximum is not None and (value >= maximum if open_max else value > maximum):
        raise UsageError(f"{name} must be {'<' if open_max else '<='} {maximum:g}, got {value:g}.")
    return value
