"""Shipped weights: the one API every chapter and every `scripts/make_*` script uses.

* where a file lives: `weights_path(name, profile)` (in `assets/`, one file per profile, or
  one for all profiles when `profile` is None);
* save with metadata: `save_weights` writes modules atomically (optionally as fp16) with the
  same keys every time: kind, config, steps, train_seconds and the data it was trained on;
* load with the checks: `load_weights` reads the header first (missing file, wrong kind and
  damaged files each get an error that names the script that makes the file), then loads
  the tensors into modules the caller built from that metadata;
* and `load_or_train`, the decision itself, which returns the same kind of object either way
  and says which it did.

The quick profile is the one that ships weights (`assets/`, made by `scripts/make_*`): a
laptop run loads them and trains only a short live run. A missing or damaged file must
not turn that into hours of silent retraining, so `should_load_shipped` checks every file (header,
metadata, finite tensors) and otherwise stops with an error that names the file, the
script that makes it, and how to retrain on purpose.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from .checkpoint import load_checkpoint, read_asset_meta, save_checkpoint, verify_checkpoint
from .profiles import check_profile

ASSETS = Path(__file__).resolve().parents[1] / "assets"
T = TypeVar("T")
# metadata keys older files wrote under another name -> the one name every file reads as now
LEGACY_META_KEYS = {"step": "steps", "seconds": "train_seconds"}

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


def weights_path(name: str, profile: str | None = "quick", folder: str | Path | None = None) -> Path:
    """Where the shipped file `name` lives: `assets/{name}_{profile}.safetensors`.

    `profile=None` is for files that serve every profile (chapters 6-8 ship one model and
    train the others here): `assets/{name}.safetensors`. `folder` overrides `assets/` (tests,
    a user's own run folder).
    """
    stem = name if profile is None else f"{name}_{check_profile(profile)}"
    return Path(folder if folder is not None else ASSETS) / f"{stem}.safetensors"


def _as_meta(value: Any) -> Any:
    """A config dataclass (or anything with __dict__) as a plain JSON-able dict; tuples as lists."""
    if hasattr(value, "__dataclass_fields__"):
        value = {k: getattr(value, k) for k in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {k: _as_meta(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_as_meta(v) for v in value]
    return value


def save_weights(
    path: str | Path,
    modules: Mapping[str, nn.Module],
    *,
    kind: str,
    config: Any,
    steps: int,
    train_seconds: float,
    data: Mapping[str, Any] | str,
    half: bool = False,
    tensors: Mapping[str, torch.Tensor] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write `modules` (and extra `tensors`) to `path` atomically, with the standard metadata.

    tensors: extra {name: tensor [*S]} of any shapes, stored as given (half only changes the modules).

    kind: what the file holds; `load_weights` refuses a file of another kind.
    config: the run's config (a dataclass or dict), stored as JSON so the loader can rebuild
        the networks without unpickling anything.
    steps, train_seconds: how long it trained (optimizer steps; seconds of training).
    data: what it was trained on (a dict such as {"source": "soundfont", "font": ...} or a
        sentence), so a reader of the file knows where its numbers come from.
    half: store floating-point weights as float16 (half the file; they load into float32
        models). The live modules are never modified: half copies are written.
    meta: any further chapter-specific metadata (histories, curves, fingerprints).
    """
    if half:
        modules = {name: copy.deepcopy(m).to("cpu").half() for name, m in modules.items()}
    info = {
        "kind": kind,
        "config": _as_meta(config),
        "steps": int(steps),
        "train_seconds": float(train_seconds),
        "data": _as_meta(data),
        "dtype": "float16" if half else "float32",
        **dict(meta or {}),
    }
    return save_checkpoint(path, modules, tensors=tensors, meta=info)


def read_weights_meta(path: str | Path, *, kind: str, make_script: str, what: str | None = None) -> dict:
    """The metadata of a weights file, checked before any network is built.

    A missing file, a file of another kind and a damaged header each raise an error that names
    the file and `make_script`. Older files' key names are read as today's (`step` as
    `steps`, `seconds` as `train_seconds`, also from the note models' nested "train" entry), so one
    name per fact whatever wrote the file.
    """
    meta = read_asset_meta(
        path, what or kind.replace("_", " "), f"Make it with `.venv/bin/python {make_script}`. {RETRAIN_HINT}", kind
    )
    nested = meta.get("train") if isinstance(meta.get("train"), Mapping) else {}
    for old, new in LEGACY_META_KEYS.items():  # `step`, or {"train": {"steps", "seconds"}} in the note models
        found = [v for v in (meta.get(old), nested.get(new), nested.get(old)) if v is not None]
        if new not in meta and found:
            meta[new] = found[0]
    return meta


def load_weights(
    path: str | Path,
    modules: Mapping[str, nn.Module],
    *,
    kind: str,
    make_script: str,
    device: torch.device | str = "cpu",
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Load a file written by `save_weights` into `modules` (in place, float32, eval mode, on `device`).

    The extra tensors come back as {name: tensor [*S]} on the CPU, shapes as saved.

    Build the modules from `read_weights_meta(path, ...)` first. Returns (metadata, extra tensors).
    Nothing is unpickled: the file is safetensors plus a JSON header.
    """
    meta = read_weights_meta(path, kind=kind, make_script=make_script)
    _, extras = load_checkpoint(path, modules)  # float16 weights are cast into the float32 modules
    for module in modules.values():
        module.to(device).eval()
    return meta, extras


@dataclass
class LoadedOrTrained(Generic[T]):
    """What `load_or_train` returns: the value, whether it came from shipped files, and how.

    `print(result)` gives the one line a notebook shows ("loaded assets/x.safetensors ..." or
    "trained here in 35 s: RETRAIN = True").
    """

    value: T
    shipped: bool
    how: str

    def __str__(self) -> str:
        return self.how


def load_or_train(
    paths: Path | str | Iterable[Path | str],
    *,
    load: Callable[[], T],
    train: Callable[[], T],
    profile: str,
    retrain: bool,
    make_script: str,
    kind: str | None = None,
) -> LoadedOrTrained[T]:
    """Load the shipped files when the profile ships them and `retrain` is False; else train here.

    `load` and `train` must return the same kind of object, so the rest of the notebook does not
    care which ran. The decision is `should_load_shipped`: in the quick profile a missing or
    damaged file is an error naming `make_script`, never a silent hour of training.
    """
    listed = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if should_load_shipped(listed, profile=profile, retrain=retrain, make_script=make_script, kind=kind):
        names = ", ".join(p.name for p in listed)
        return LoadedOrTrained(load(), True, f"loaded the shipped weights {names} (made by {make_script})")
    why = "RETRAIN = True" if retrain else f"the {profile} profile ships no weights"
    start = time.perf_counter()
    value = train()
    return LoadedOrTrained(value, False, f"trained here in {time.perf_counter() - start:.0f} s ({why})")
