"""The one shipped-weights API (musicgan_lib.weights): paths, save/load with metadata, load_or_train."""

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from musicgan_lib.checkpoint import save_checkpoint
from musicgan_lib.weights import (
    ASSETS,
    MissingWeightsError,
    load_or_train,
    load_weights,
    read_weights_meta,
    save_weights,
    weights_path,
)


@dataclass
class TinyConfig:
    width: int = 3
    sizes: tuple = (1, 2)


def tiny(seed=0, width=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, width), nn.ReLU(), nn.Linear(width, 1))


def test_weights_path_per_profile_and_for_all_profiles(tmp_path):
    assert weights_path("wgan_gp") == ASSETS / "wgan_gp_quick.safetensors"
    assert weights_path("progan", "full", folder=tmp_path) == tmp_path / "progan_full.safetensors"
    assert weights_path("latent_gan", None) == ASSETS / "latent_gan.safetensors"
    with pytest.raises(ValueError, match="unknown PROFILE .quik.*quick"):
        weights_path("wgan_gp", "quik")


@pytest.mark.parametrize("half", [False, True])
def test_save_then_load_gives_the_same_outputs_and_the_standard_metadata(tmp_path, half):
    model, x = tiny(0), torch.randn(5, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path = save_weights(
        tmp_path / "m.safetensors", {"net": model}, kind="tiny", config=TinyConfig(), steps=7,
        train_seconds=1.5, data={"source": "toy"}, half=half, tensors={"extra": torch.arange(3)},
        meta={"note": "hi"},
    )  # fmt: skip
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "saving must not touch the model"
    fresh = tiny(1)
    meta, extras = load_weights(path, {"net": fresh}, kind="tiny", make_script="scripts/make_tiny.py")
    assert meta["config"] == {"width": 3, "sizes": [1, 2]}
    assert (meta["steps"], meta["train_seconds"], meta["data"], meta["note"]) == (7, 1.5, {"source": "toy"}, "hi")
    assert meta["dtype"] == ("float16" if half else "float32")
    assert torch.equal(extras["extra"], torch.arange(3))
    assert not fresh.training and next(fresh.parameters()).dtype == torch.float32
    tol = 1e-2 if half else 0
    torch.testing.assert_close(fresh(x), model(x), atol=tol, rtol=tol)
    if half:  # the stored weights really are fp16: not equal to the fp32 originals
        assert not torch.equal(fresh[0].weight, model[0].weight)


def test_load_refuses_another_kind_and_names_the_script(tmp_path):
    path = save_weights(tmp_path / "m.safetensors", {"net": tiny()}, kind="tiny", config={}, steps=1,
                        train_seconds=0, data="toy")  # fmt: skip
    with pytest.raises(ValueError, match="kind 'tiny'.*not a.*'other'.*make_other.py"):
        load_weights(path, {"net": tiny()}, kind="other", make_script="scripts/make_other.py")
    with pytest.raises(FileNotFoundError, match="no .*tiny.*make_tiny.py"):
        load_weights(tmp_path / "gone.safetensors", {"net": tiny()}, kind="tiny", make_script="scripts/make_tiny.py")


def test_older_metadata_names_read_as_todays(tmp_path):
    path = save_checkpoint(
        tmp_path / "old.safetensors", {"net": tiny()}, meta={"kind": "tiny", "step": 9, "seconds": 2}
    )
    meta = read_weights_meta(path, kind="tiny", make_script="s.py")
    assert (meta["steps"], meta["train_seconds"]) == (9, 2)
    nested = save_checkpoint(
        tmp_path / "nested.safetensors", {"net": tiny()}, meta={"kind": "tiny", "train": {"steps": 4, "seconds": 3.5}}
    )
    meta = read_weights_meta(nested, kind="tiny", make_script="s.py")
    assert (meta["steps"], meta["train_seconds"]) == (4, 3.5)


def test_load_or_train_returns_the_same_object_either_way(tmp_path):
    path = save_weights(tmp_path / "m_quick.safetensors", {"net": tiny()}, kind="tiny", config={}, steps=1,
                        train_seconds=0, data="toy")  # fmt: skip
    calls = []

    def load():
        calls.append("load")
        return "model"

    def train():
        calls.append("train")
        return "model"

    kw = dict(load=load, train=train, make_script="scripts/make_tiny.py", kind="tiny")
    got = load_or_train(path, profile="quick", retrain=False, **kw)
    assert (got.value, got.shipped, calls) == ("model", True, ["load"])
    assert "loaded the shipped weights m_quick.safetensors" in str(got) and "make_tiny.py" in str(got)
    got = load_or_train(path, profile="quick", retrain=True, **kw)
    assert (got.value, got.shipped, calls[-1]) == ("model", False, "train") and "RETRAIN = True" in str(got)
    got = load_or_train(path, profile="full", retrain=False, **kw)
    assert not got.shipped and "full profile ships no weights" in str(got)
    with pytest.raises(MissingWeightsError, match="gone.safetensors are missing.*make_tiny.py.*RETRAIN"):
        load_or_train(tmp_path / "gone.safetensors", profile="quick", retrain=False, **kw)
    assert calls == ["load", "train", "train"], "a missing shipped file must not start training"
