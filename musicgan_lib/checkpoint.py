"""Atomic checkpoints: tensors in one safetensors file, everything else as JSON in its header.

Nothing is pickled, so loading a checkpoint never runs code. A save writes a temporary
file next to the target, fsyncs it and renames it over the old one, so a crash or Ctrl-C
during a save leaves the previous checkpoint intact (and the next save removes the
temporary file a killed one left behind). Every floating-point tensor must be finite both
when it is written and when it is read: NaN or inf weights are never "the last good
checkpoint", and a damaged file is reported instead of loaded.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

META_KEY = "musicgan"
FORMAT_VERSION = 1
HEADER_KEYS = ("format", "modules", "optimizers", "meta")


class NonFiniteTensorError(ValueError):
    """A checkpoint would hold (or holds) NaN or inf values; the message names the tensors."""


def nonfinite_tensors(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or inf, each with its count of bad values.

    tensors: {name: tensor [*S]} of any shapes; integer and bool tensors are skipped.
    """
    bad = []
    for key, value in tensors.items():
        if value.is_floating_point() or value.is_complex():
            n = int((~torch.isfinite(value)).sum())
            if n:
                bad.append(f"{key} ({n} of {value.numel()} values)")
    return bad


def _temp_name(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.tmp-{pid}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files that killed saves of `path` left behind, and say so.

    A save writes `.NAME.tmp-PID` and renames it; a SIGKILL between the two leaves it (a
    whole checkpoint's size each time). Only files of that exact name whose process is gone
    are removed: a save under way in another live process keeps its file.
    """
    removed = []
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)) or not tmp.is_file():
            continue
        size = tmp.stat().st_size
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
        warnings.warn(
            f"removed {tmp.name} ({size / 1e6:.1f} MB), the temporary file of an interrupted save of {path.name}",
            stacklevel=3,
        )
    return removed


def _to_json(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return {"__tuple__": [_to_json(v) for v in obj]}
    if isinstance(obj, list):
        return [_to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _to_json(v) for k, v in obj.items()}
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in checkpoint metadata (JSON only)")


def _from_json(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__tuple__"}:
            return tuple(_from_json(v) for v in obj["__tuple__"])
        if set(obj) == {"__float__"}:
            return float(obj["__float__"])
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj


def _flatten_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    sd = opt.state_dict()
    plain_state: dict[str, dict] = {}
    for idx, slots in sd["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{name}/{idx}/{key}"] = value
            else:
                plain_state.setdefault(str(idx), {})[key] = value
    meta[name] = {"param_groups": sd["param_groups"], "plain_state": plain_state}


def _unflatten_optimizer(name: str, opt_meta: dict, tensors: Mapping[str, torch.Tensor]) -> dict:
    state: dict[int, dict] = {}
    prefix = f"optim/{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, slot = key[len(prefix) :].split("/", 1)
            state.setdefault(int(idx), {})[slot] = value
    for idx, slots in opt_meta.get("plain_state", {}).items():
        state.setdefault(int(idx), {}).update(slots)
    return {"state": state, "param_groups": opt_meta["param_groups"]}


def save_checkpoint(
    path: str | os.PathLike,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    tensors: Mapping[str, torch.Tensor] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write modules, optimizer states, extra tensors (e.g. RNG states) and JSON metadata atomically.

    tensors: {name: tensor [*S]} of any shapes and devices (stored as CPU copies under extra/); every
    floating-point tensor must be finite.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat: dict[str, torch.Tensor] = {}
    for mname, module in modules.items():
        for key, value in module.state_dict().items():
            flat[f"model/{mname}/{key}"] = value
    opt_meta: dict[str, Any] = {}
    for oname, opt in (optimizers or {}).items():
        _flatten_optimizer(oname, opt, flat, opt_meta)
    for key, value in (tensors or {}).items():
        flat[f"extra/{key}"] = value
    # safetensors wants contiguous CPU tensors that share no storage.
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in flat.items()}
    bad = nonfinite_tensors(flat)
    if bad:
        raise NonFiniteTensorError(
            f"not saving {path}: {len(bad)} tensor(s) hold NaN or inf: {'; '.join(bad[:5])}"
            f"{' ...' if len(bad) > 5 else ''}. Any earlier checkpoint there is kept. Training has diverged: "
            "resume from the last good checkpoint with a lower learning rate."
        )
    header = {
        "format": FORMAT_VERSION,
        "modules": sorted(modules),
        "optimizers": opt_meta,
        "meta": dict(meta or {}),
    }
    blob = safetensors_bytes(flat, metadata={META_KEY: json.dumps(_to_json(header))})
    remove_stale_temporaries(path)
    tmp = _temp_name(path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def _checked_header(path: Path, raw: dict[str, str] | None) -> dict:
    """The checkpoint's JSON header, or one ValueError that says what is wrong with it."""
    if not raw or META_KEY not in raw:
        raise ValueError(f"{path} is a safetensors file but not a MusicGAN checkpoint (no '{META_KEY}' metadata)")

    def damaged(why: str) -> ValueError:
        return ValueError(
            f"checkpoint {path} has damaged metadata ({why}); it was not written by this library or was "
            "edited. Make it again, or point to an earlier checkpoint."
        )

    try:
        header = _from_json(json.loads(raw[META_KEY]))
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise damaged(f"not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise damaged(f"a JSON {type(header).__name__} where an object belongs")
    missing = [k for k in HEADER_KEYS if k not in header]
    if missing:
        raise damaged(f"missing {', '.join(missing)}")
    types = {"format": int, "modules": list, "optimizers": dict, "meta": dict}
    wrong = [
        f"{k} is a {type(header[k]).__name__}, not a {t.__name__}"
        for k, t in types.items()
        if not isinstance(header[k], t) or isinstance(header[k], bool)
    ]
    if wrong:
        raise damaged("; ".join(wrong))
    if header["format"] > FORMAT_VERSION:
        raise ValueError(
            f"checkpoint {path} has format {header['format']}, newer than this library's {FORMAT_VERSION}: "
            "update musicgan_lib to read it"
        )
    return header


def read_tensor_file(
    path: str | os.PathLike, with_tensors: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, string metadata) of any safetensors file this library wrote: a checkpoint or a cache.

    Returns ({key: tensor [*S]} on the CPU, shapes as stored, empty when with_tensors=False, {key: str}).

    Every floating-point tensor is checked to be finite. A missing file is a FileNotFoundError;
    a folder, an unreadable or truncated file, or NaN/inf values a ValueError naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: train first, or pass the path of an existing .safetensors file"
        )
    if not path.is_file():
        raise ValueError(f"{path} is a folder, not a checkpoint file; pass the path of a .safetensors file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()} if with_tensors else {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"checkpoint {path} is unreadable ({exc}); it may be truncated or not a checkpoint. "
            "Delete it to start fresh, or point to an earlier one."
        ) from exc
    bad = nonfinite_tensors(tensors)
    if bad:
        raise NonFiniteTensorError(
            f"checkpoint {path} holds NaN or inf in {len(bad)} tensor(s): {'; '.join(bad[:5])}"
            f"{' ...' if len(bad) > 5 else ''}. It is damaged or was saved from a diverged run: "
            "make it again, or point to an earlier checkpoint."
        )
    return tensors, raw


def _open(path: Path, with_tensors: bool = True) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, header) of a checkpoint file: readable, finite, with a whole MusicGAN header."""
    tensors, raw = read_tensor_file(path, with_tensors)
    return tensors, _checked_header(path, raw)


def verify_checkpoint(path: str | os.PathLike) -> dict:
    """Read a whole checkpoint (header, metadata, every tensor finite) and return its metadata.

    Raises FileNotFoundError for a missing file and ValueError for anything damaged.
    """
    return _open(Path(path))[1]["meta"]


def read_checkpoint_meta(path: str | os.PathLike) -> dict:
    """The JSON metadata of a checkpoint (step, history, config) without touching any model."""
    return _open(Path(path), with_tensors=False)[1]["meta"]


def read_asset_meta(path: str | os.PathLike, what: str, how_to_make: str, kind: str | None = None) -> dict:
    """The metadata of a shipped (or saved) model file, checked before any model is built.

    Every chapter's loader starts here so a missing or mismatched file is reported the same
    way: a missing file names `what` was expected and `how_to_make` it; a checkpoint of another
    kind (say a chapter-3 run passed where a chapter-2 generator belongs) names both kinds.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no {what} at {path}. {how_to_make}")
    meta = read_checkpoint_meta(path)
    if kind is not None and meta.get("kind") != kind:
        raise ValueError(
            f"{path} is a checkpoint of kind {meta.get('kind')!r}, not a {what} (kind {kind!r}); pass the right file. {how_to_make}"
        )
    return meta


def _match_state_layout(opt: torch.optim.Optimizer) -> None:
    """Give per-parameter optimizer state the memory layout of its parameter.

    Safetensors stores tensors contiguous, so Adam's moments come back in the default layout
    even when the parameter is channels_last; the fused kernels pair elements by storage, and
    a resumed run then drifted from an uninterrupted one (0.004 after 2 steps).
    """
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state.get(p, {})
            for k, v in state.items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    state[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def _same_kind(stored: torch.dtype, wanted: torch.dtype) -> bool:
    """float16 weights load into a float32 model; an integer or bool tensor where a float belongs does not."""
    if wanted.is_floating_point:
        return stored.is_floating_point
    return stored == wanted


def load_checkpoint(
    path: str | os.PathLike,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Load weights (and optimizer states) in place; return (metadata, extra tensors).

    The extra tensors come back as {name: tensor [*S]} on the CPU, shapes as given to `save_checkpoint`.

    Shape or key mismatches raise an error that names the module and suggests the usual
    cause (a checkpoint from another profile or model size).
    """
    path = Path(path)
    tensors, header = _open(path)
    for mname, module in modules.items():
        prefix = f"model/{mname}/"
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not state:
            raise KeyError(f"checkpoint {path} holds no module named {mname!r}; it has {header['modules']}")
        expected = module.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        wrong = [
            f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
            for k in expected
            if k in state and state[k].shape != expected[k].shape
        ] + [
            f"{k}: checkpoint {state[k].dtype} vs model {expected[k].dtype}"
            for k in expected
            if k in state and not _same_kind(state[k].dtype, expected[k].dtype)
        ]
        if missing or unexpected or wrong:
            details = "; ".join(
                x
                for x in (
                    f"missing {missing[:5]}" if missing else "",
                    f"unexpected {unexpected[:5]}" if unexpected else "",
                    f"shape or dtype mismatch {wrong[:3]}" if wrong else "",
                )
                if x
            )
            raise ValueError(
                f"checkpoint {path} does not fit module {mname!r} ({details}). "
                "Was it saved with another profile or model size?"
            )
        module.load_state_dict(state)
    for oname, opt in (optimizers or {}).items():
        if oname not in header["optimizers"]:
            raise KeyError(f"checkpoint {path} holds no optimizer named {oname!r}")
        try:
            opt.load_state_dict(_unflatten_optimizer(oname, header["optimizers"][oname], tensors))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"checkpoint {path}: the state of optimizer {oname!r} does not fit ({exc}). "
                "Was it saved with another model or optimizer?"
            ) from exc
        _match_state_layout(opt)
    extras = {k[len("extra/") :]: v for k, v in tensors.items() if k.startswith("extra/")}
    return header["meta"], extras
