"""Recording a chapter's key results so batch runs can collect them into one summary.

`record(name, value)` prints the value, keeps it in memory and, when the course runner
set MUSICGAN_METRICS_FILE, merges it into that JSON file (written atomically).
`check_targets({description: passed})` prints one PASS/FAIL line per target and, in a
course run, merges them into a sibling file (`targets_file`), so the run's summary says which
targets a chapter met without anyone reading the notebooks.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .paths import OUTPUT_DIR_ENV, output_dir  # noqa: F401  (re-exported: notebooks import it from here)

METRICS_FILE_ENV = "MUSICGAN_METRICS_FILE"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_recorded: dict[str, float] = {}
_targets: dict[str, bool] = {}


def record(name: str, value: float) -> float:
    """Record one named metric (a plain, finite number) for this chapter and return it."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"metric name {name!r} must be lower_snake_case, e.g. 'ring_modes'")
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"metric {name!r} must be a plain number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"metric {name!r} is {value}; record only finite numbers")
    value = float(value)
    _recorded[name] = value
    path = os.environ.get(METRICS_FILE_ENV)
    if path:
        _merge_into(Path(path), {name: value})
    print(f"recorded {name} = {value:.6g}")
    return value


def recorded() -> dict[str, float]:
    """All metrics recorded in this process so far."""
    return dict(_recorded)


def targets_file(metrics_file: str | os.PathLike) -> Path:
    """Where `check_targets` writes next to a metrics file: 02.json -> 02.targets.json."""
    path = Path(metrics_file)
    return path.with_name(f"{path.stem}.targets.json")


def _as_bool(description: object, passed: object) -> bool:
    if not isinstance(description, str) or not description.strip():
        raise ValueError(f"a target needs a non-empty description, got {description!r}")
    torch = sys.modules.get("torch")  # not imported here: the course runner reads this module too
    if torch is not None and isinstance(passed, torch.Tensor) and passed.dtype == torch.bool and passed.numel() == 1:
        return bool(passed.item())
    if not isinstance(passed, (bool, np.bool_)):
        raise TypeError(f"target {description!r} must be True or False, got {type(passed).__name__} {passed!r}")
    return bool(passed)


def check_targets(targets: Mapping[str, object]) -> None:
    """Print "PASS: <target>" or "FAIL: <target>" for each target, in order; record the outcomes.

    Every chapter states its targets through this one function, so a batch run collects them
    (see `course.run_course`) and a FAIL is reported, not buried in a notebook. All entries are
    checked before anything is printed or written. Returns None so a notebook cell ending in
    this call shows only the PASS/FAIL lines; `checked_targets()` has the outcomes.
    """
    outcomes = {description: _as_bool(description, passed) for description, passed in targets.items()}
    for description, passed in outcomes.items():
        print(f"{'PASS' if passed else 'FAIL'}: {description}")
    _targets.update(outcomes)
    path = os.environ.get(METRICS_FILE_ENV)
    if path:
        _merge_into(targets_file(path), outcomes, sort_keys=False)  # keep the chapter's order


def checked_targets() -> dict[str, bool]:
    """All targets checked in this process so far."""
    return dict(_targets)


def _merge_into(path: Path, values: Mapping[str, float | bool], sort_keys: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(values)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(current, f, indent=2, sort_keys=sort_keys)
    os.replace(tmp, path)
