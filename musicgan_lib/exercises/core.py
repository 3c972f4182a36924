"""What every exercise shares: a `Verdict`, `run_check`, and guards for unanswered or broken answers.

A notebook's exercise cell holds the learner's answer (a function or a value, `None` until they
write one) and ends with `run_check(check_..., answer, ...)`. A check never raises: it returns a
`Verdict` whose text says what was expected. Batch runs (papermill, nbval, CI) skip the checks
with one line, so an unanswered exercise never stops the book.

Reference solutions live here too (`solution_*`), never on the page; `tests/test_exercises.py`
runs every solution through its check (every check can pass) and a wrong answer through every
check (every check can fail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..device import is_batch_run


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: `passed`, and a message that says why."""

    passed: bool
    message: str

    def __str__(self) -> str:
        return f"{'RIGHT' if self.passed else 'NOT YET'}: {self.message}"


def run_check(check: Callable[..., Verdict], *args) -> Verdict | None:
    """Print and return `check(*args)`; in a batch run print that the exercise was skipped."""
    if is_batch_run():
        print(f"exercise {check.__name__} skipped in a batch run: open the notebook in JupyterLab to try it")
        return None
    verdict = check(*args)
    print(verdict)
    return verdict


def unanswered(answer) -> Verdict | None:
    return Verdict(False, "no answer yet: replace the None in the cell above") if answer is None else None


def call_answer(fn: Callable, *args) -> tuple[object, Verdict | None]:
    """The learner's function's result, or a verdict: it raised, or still returns None (not written yet)."""
    try:
        result = fn(*args)
    except Exception as exc:  # the learner's code: say what broke, do not stop the notebook
        return None, Verdict(False, f"your function raised {type(exc).__name__}: {exc}")
    if result is None:
        return None, Verdict(False, "no answer yet: your function returns None; write its body")
    return result, None


def call_for_tensor(fn: Callable, *args, what: str = "values") -> tuple[object, Verdict | None]:
    """The learner's function's result as a flat float64 tensor, or a verdict saying why not (it
    raised, returned None, or returned something that is not a tensor of `what`)."""
    import torch

    result, problem = call_answer(fn, *args)
    if problem is not None:
        return None, problem
    try:
        return torch.as_tensor(result, dtype=torch.float64).reshape(-1), None
    except (TypeError, ValueError, RuntimeError):
        return None, Verdict(False, f"return a tensor of {what}, got {type(result).__name__}")
