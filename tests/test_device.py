import pytest
import torch

from musicgan_lib import device as dev


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.pick_device("auto") == torch.device("cpu")
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.pick_device("auto") == torch.device("cuda")


def test_explicit_missing_device_is_an_error_with_a_fix(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="DEVICE='auto'"):
        dev.pick_device("cuda")
    with pytest.raises(ValueError, match="use one of auto, cpu, cuda, mps"):
        dev.pick_device("tpu")
    assert dev.pick_device("CPU") == torch.device("cpu")


def test_seeding_repeats_torch_streams():
    g1 = dev.seed_everything(3)
    a = torch.randn(4), torch.randn(4, generator=g1)
    g2 = dev.seed_everything(3)
    b = torch.randn(4), torch.randn(4, generator=g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="non-negative integer"):
        dev.seed_everything(-1)


def test_bf16_autocast_pays_only_where_bf16_is_native(monkeypatch):
    from musicgan_lib import device as dev

    assert dev.bf16_autocast_pays("cuda")
    assert not dev.bf16_autocast_pays("meta")
    monkeypatch.setattr(dev, "cpu_has_bf16", lambda: False)
    assert not dev.bf16_autocast_pays("cpu")
    monkeypatch.setattr(dev, "cpu_has_bf16", lambda: True)
    assert dev.bf16_autocast_pays("cpu")
