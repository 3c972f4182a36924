"""Argument checks shared by the library's public functions: one wording for one mistake.

Each returns the value (so `n = require_int("n", n)` reads as a declaration) or raises a
TypeError / ValueError that names the argument, the value it got and what it expects.
"""

from __future__ import annotations

import math
import numbers


def require_int(name: str, value: object, minimum: int = 1) -> int:
    """An integer ≥ minimum; bools and floats such as 3.0 are refused (they are mistakes here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def require_number(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number within [low, high] (either end open when asked), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value}")
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and (v >= high if high_open else v > high)
    if too_low or too_high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        raise ValueError(f"{name} must be {' and '.join(x for x in (lo, hi) if x)}, got {value}")
    return v


def require_sample_rate(sr: object, name: str = "sr", *, integer: bool = False) -> float:
    """A positive finite sample rate in Hz, returned as given (as an int when `integer`)."""
    if isinstance(sr, bool) or not isinstance(sr, numbers.Real):
        raise TypeError(
            f"{name} (the sample rate) must be a number of Hz such as 16000, got {sr!r} ({type(sr).__name__})"
        )
    if not (math.isfinite(sr) and sr > 0):
        raise ValueError(f"{name} (the sample rate) must be a positive finite number of Hz such as 16000, got {sr}")
    if integer:
        if float(sr) != int(sr):
            raise ValueError(f"{name} (the sample rate) must be a whole number of Hz, got {sr}")
        return int(sr)
    return sr
