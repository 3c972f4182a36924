"""Shipped weights: the one decision between loading a chapter's files and training here.

The quick profile is the one that ships weights (`assets/`, made by `scripts/make_*`): a
laptop run loads them and trains only a short live run. A missing or damaged file must
not turn that into hours of silent retraining, so `should_load_shipped` checks every file (header,
metadata, finite tensors) and otherwise stops with an error that names the file, the
script that makes it, and how to retrain on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .checkpoint import verify_checkpoint

SHIPPED_PROFILES = ("quick",)  # profiles with weights in assets/; "full" always trains from scratch
RETRAIN_HINT = (
    "To train from scratch on purpose, set RETRAIN = True in the notebook (or `musicgan course -p RETRAIN=true`)."
)


class MissingWeightsError(FileNotFoundError):
    """A shipped weights file that the quick profile needs is missing or damaged."""


def should_load_shipped(
    paths: Path | str | Iterable[Path | str], *, profile: str, retrain: bool, make_script: str, kind: str | None = None
) -> bool:
    """True when the chapter should load its shipped files; False when it should train here.

    False when `retrain` is True or `profile` ships no weights. Otherwise every file in
    `paths` must be a readable, finite checkpoint (of `kind`, when given): if one is not,
    MissingWeightsError names it, `make_script` (which makes it) and the retrain switch.
    """
    if not isinstance(retrain, bool):
        raise TypeError(f"RETRAIN must be True or False, got {retrain!r} ({type(retrain).__name__})")
    if retrain or profile not in SHIPPED_PROFILES:
        return False
    make = f"Make it with `.venv/bin/python {make_script}`. {RETRAIN_HINT}"
    for path in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        path = Path(path)
        if not path.exists():
            raise MissingWeightsError(f"the shipped weights {path} are missing. {make}")
        try:
            meta = verify_checkpoint(path)
        except ValueError as exc:
            raise MissingWeightsError(f"the shipped weights {path} are damaged: {exc} {make}") from None
        if kind is not None and meta.get("kind") != kind:
            raise MissingWeightsError(
                f"the shipped weights {path} hold a {meta.get('kind')!r} checkpoint, not {kind!r}. {make}"
            )
    return True
