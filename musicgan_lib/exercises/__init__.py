"""Self-checking exercises: each chapter's `check_*` says right, or wrong and why.

A notebook's exercise cell holds the learner's answer (a function or a value, `None` until they
write one) and ends with `run_check(check_..., answer, ...)`. A check never raises: it returns a
`Verdict` whose text says what was expected. Batch runs (papermill, nbval, CI) skip the checks
with one line, so an unanswered exercise never stops the book.

One module per chapter (`exercises.ch06`, ...) holds its checks and their reference solutions
(`solution_*`), never on the page. `tests/test_exercises*.py` run every solution through its check
(every check can pass) and a wrong answer through every check (every check can fail).
"""

from .core import Verdict, run_check

__all__ = ["Verdict", "run_check"]
