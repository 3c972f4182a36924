"""Atomic checkpoints: tensors in one safetensors file, everything else as JSON in its header.

Nothing is pickled, so loading a checkpoint never runs code. A save writes a temporary
file next to the target, fsyncs it and renames it over the old one, so a crash or Ctrl-C
during a save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

META_KEY = "musicgan"
FORMAT_VERSION = 1


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
            idx, slot = key[len(prefix):].split("/", 1)
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
    """Write modules, optimizer states, extra tensors (e.g. RNG states) and JSON metadata atomically."""
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
    header = {
        "format": FORMAT_VERSION,
        "modules": sorted(modules),
        "optimizers": opt_meta,
        "meta": dict(meta or {}),
    }
    blob = safetensors_bytes(flat, metadata={META_KEY: json.dumps(_to_json(header))})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
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


def _open(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    if not path.exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: train first, or pass the path of an existing .safetensors file"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"checkpoint {path} is unreadable ({exc}); it may be truncated or not a checkpoint. "
            "Delete it to start fresh, or point to an earlier one."
        ) from exc
    if META_KEY not in header:
        raise ValueError(
            f"{path} is a safetensors file but not a MusicGAN checkpoint (no '{META_KEY}' metadata)"
        )
    return tensors, _from_json(json.loads(header[META_KEY]))


def read_checkpoint_meta(path: str | os.PathLike) -> dict:
    """The JSON metadata of a checkpoint (step, history, config) without touching any model."""
    return _open(Path(path))[1]["meta"]


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
        raise ValueError(f"{path} is a checkpoint of kind {meta.get('kind')!r}, not a {what} (kind {kind!r}); pass the right file. {how_to_make}")
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


def load_checkpoint(
    path: str | os.PathLike,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Load weights (and optimizer states) in place; return (metadata, extra tensors).

    Shape or key mismatches raise an error that names the module and suggests the usual
    cause (a checkpoint from another profile or model size).
    """
    path = Path(path)
    tensors, header = _open(path)
    for mname, module in modules.items():
        prefix = f"model/{mname}/"
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not state:
            raise KeyError(f"checkpoint {path} holds no module named {mname!r}; it has {header['modules']}")
        expected = module.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        wrong = [
            f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
            for k in expected
            if k in state and state[k].shape != expected[k].shape
        ]
        if missing or unexpected or wrong:
            details = "; ".join(
                x
                for x in (
                    f"missing {missing[:5]}" if missing else "",
                    f"unexpected {unexpected[:5]}" if unexpected else "",
                    f"shape mismatch {wrong[:3]}" if wrong else "",
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
        opt.load_state_dict(_unflatten_optimizer(oname, header["optimizers"][oname], tensors))
        _match_state_layout(opt)
    extras = {k[len("extra/"):]: v for k, v in tensors.items() if k.startswith("extra/")}
    return header["meta"], extras
