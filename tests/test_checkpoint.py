import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from musicgan_lib.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_round_trip_restores_weights_buffers_optimizer_and_meta(tmp_path):
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.0, 0.99))
    model(torch.randn(8, 3)).sum().backward()
    opt.step()
    path = save_checkpoint(
        tmp_path / "ck.safetensors",
        {"net": model},
        {"opt": opt},
        {"rng": torch.get_rng_state()},
        {"step": 7, "lr": 1e-3, "betas": (0.0, 0.99)},
    )
    other = _model()
    for p in other.parameters():
        nn.init.zeros_(p)
    other_opt = torch.optim.Adam(other.parameters(), lr=5.0)
    meta, extra = load_checkpoint(path, {"net": other}, {"opt": other_opt})
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), k
    assert meta == {"step": 7, "lr": 1e-3, "betas": (0.0, 0.99)}
    assert torch.equal(extra["rng"], torch.get_rng_state()) or extra["rng"].dtype == torch.uint8
    sd_a, sd_b = opt.state_dict(), other_opt.state_dict()
    assert sd_b["param_groups"][0]["lr"] == 1e-3 and tuple(sd_b["param_groups"][0]["betas"]) == (0.0, 0.99)
    for idx in sd_a["state"]:
        for key, value in sd_a["state"][idx].items():
            assert torch.equal(value, sd_b["state"][idx][key])
    assert read_checkpoint_meta(path)["step"] == 7


def test_checkpoint_is_plain_safetensors_with_json_metadata(tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(tmp_path / "ck.safetensors", {"net": _model()}, meta={"step": 1})
    with safe_open(str(path), framework="pt") as f:
        header = json.loads(f.metadata()["musicgan"])
        assert header["meta"]["step"] == 1
        assert any(k.startswith("model/net/") for k in f.keys())


def test_missing_corrupt_and_mismatched_checkpoints_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.safetensors", {"net": _model()})
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00\x01 not a checkpoint")
    with pytest.raises(ValueError, match="unreadable"):
        load_checkpoint(bad, {"net": _model()})
    good = save_checkpoint(tmp_path / "good.safetensors", {"net": _model()})
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="unreadable"):
        load_checkpoint(truncated, {"net": _model()})
    with pytest.raises(ValueError, match="another profile or model size"):
        load_checkpoint(good, {"net": nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))})
    with pytest.raises(KeyError, match="no module named 'other'"):
        load_checkpoint(good, {"other": _model()})


def test_killed_during_save_leaves_previous_checkpoint_loadable(tmp_path):
    """A process killed in the middle of writing must not damage the last good checkpoint."""
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, {"net": _model()}, meta={"step": 1})
    script = textwrap.dedent(f"""
        import os, signal, torch
        from torch import nn
        import musicgan_lib.checkpoint as ck
        real_fsync = os.fsync
        def die(fd):
            os.kill(os.getpid(), signal.SIGKILL)  # dies after the temp file is written, before the rename
        os.fsync = die
        ck.save_checkpoint({str(path)!r}, {{"net": nn.Linear(1000, 1000)}}, meta={{"step": 2}})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    assert read_checkpoint_meta(path)["step"] == 1
    load_checkpoint(path, {"net": _model()})


def test_resumed_fused_adam_on_channels_last_weights_matches_an_uninterrupted_run(tmp_path):
    def make():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3)).to(memory_format=torch.channels_last)
        return net, torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)

    x = torch.randn(4, 3, 8, 8).contiguous(memory_format=torch.channels_last)

    def step(net, opt):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()

    straight, s_opt = make()
    for _ in range(4):
        step(straight, s_opt)
    first, f_opt = make()
    for _ in range(2):
        step(first, f_opt)
    save_checkpoint(tmp_path / "ck.safetensors", {"net": first}, {"opt": f_opt})
    resumed, r_opt = make()
    load_checkpoint(tmp_path / "ck.safetensors", {"net": resumed}, {"opt": r_opt})
    state = r_opt.state[resumed[0].weight]
    assert state["exp_avg"].stride() == resumed[0].weight.stride()  # stored contiguous, restored channels_last
    for _ in range(2):
        step(resumed, r_opt)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
