"""read_asset_meta: the one gate every chapter's loader passes before it builds a model."""

import pytest
import torch

from musicgan_lib.checkpoint import read_asset_meta, save_checkpoint
from musicgan_lib.recipes import dcgan_pixels, wgan


def _checkpoint(tmp_path, kind):
    return save_checkpoint(tmp_path / "m.safetensors", {"m": torch.nn.Linear(2, 2)}, meta={"kind": kind, "x": 1})


def test_missing_file_names_what_and_how(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no widget model at .*nothing\.safetensors\. Run make_widget\.py"):
        read_asset_meta(tmp_path / "nothing.safetensors", "widget model", "Run make_widget.py.")


def test_kind_is_checked_and_meta_returned(tmp_path):
    path = _checkpoint(tmp_path, "widget")
    assert read_asset_meta(path, "widget model", "", kind="widget")["x"] == 1
    assert read_asset_meta(path, "widget model", "")["kind"] == "widget"  # no kind asked: not checked
    with pytest.raises(ValueError, match=r"kind 'widget', not a gadget \(kind 'gadget'\)"):
        read_asset_meta(path, "gadget", "", kind="gadget")


def test_loaders_refuse_each_others_files(tmp_path):
    """A chapter-3 run passed to chapter 2's loader (and the reverse) is named, not half-loaded."""
    ch3_file = wgan.shipped_path("gp", "quick")
    with pytest.raises(ValueError, match=r"kind 'wgan_chapter3', not a DCGAN generator"):
        dcgan_pixels.load_generator(ch3_file)
    with pytest.raises(ValueError, match=r"kind 'dcgan_generator', not a chapter-3 run"):
        wgan.load_run(dcgan_pixels.shipped_path("dcgan"))
    with pytest.raises(FileNotFoundError, match=r"no DCGAN generator at .*RETRAIN = True"):
        dcgan_pixels.load_generator(tmp_path / "gone.safetensors")
