"""Chapter 8's encoding: shapes, the unvoiced rule, gradients, exact resume, clips cut from real tunes."""

import dataclasses

import numpy as np
import pytest
import torch

from musicgan_lib.data.melodies import Melody
from musicgan_lib.data.song_clips import INSTRUMENT_NAMES, SongClips, render_clips
from musicgan_lib.data.soundfont import soundfont_available
from musicgan_lib.models.song_autoencoder import (
    SongAEConfig,
    SongAutoencoder,
    fill_unvoiced,
    load_song_autoencoder,
    save_song_autoencoder,
)
from musicgan_lib.recipes import song_gan as ch8

SMALL = SongAEConfig(latent_dim=4, n_mels=16, encoder_channels=16, hidden=24, n_harmonics=8, n_noise_bands=9)


def _tones(n=6, seconds=0.4, sr=16000, frame_rate=50) -> SongClips:
    """Harmonic tones with a rest in the middle, and their f0 per frame: stand-in clips without a SoundFont."""
    g = torch.Generator().manual_seed(0)
    frames = int(seconds * frame_rate)
    f0 = (110 * 2 ** (torch.randint(0, 24, (n, 1), generator=g) / 12)).repeat(1, frames)
    f0[:, frames // 2 : frames // 2 + 3] = 0
    t = torch.arange(frames * sr // frame_rate) / sr
    hz = f0.repeat_interleave(sr // frame_rate, dim=1)
    audio = sum(0.2 / k * torch.sin(2 * torch.pi * k * hz * t) for k in (1, 2, 3))
    zeros = torch.zeros(n, dtype=torch.long)
    return SongClips(audio.float(), f0.float(), zeros, torch.arange(n), zeros.float() + 100, zeros, sr, frame_rate)


def test_fill_unvoiced_holds_the_last_pitch_and_starts_with_the_first():
    f0 = torch.tensor([[0.0, 0, 100, 0, 0, 200, 0], [0.0, 0, 0, 0, 0, 0, 0]])
    assert fill_unvoiced(f0).tolist() == [[100.0, 100, 100, 100, 100, 200, 200], [220.0] * 7]


def test_shapes_determinism_and_gradients():
    torch.manual_seed(0)
    model = SongAutoencoder(SMALL)
    clips = _tones(3)
    recon, enc = model(clips.audio, clips.f0_hz)
    assert recon.shape == clips.audio.shape and enc.z.shape == (3, 20, 4) and enc.loudness_db.shape == (3, 20)
    recon.pow(2).mean().backward()
    assert model.encoder.net[0].weight.grad.abs().sum() > 0 and model.decoder.gru.weight_ih_l0.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        a, b = model.decode(enc), model.decode(enc)
    assert torch.equal(a, b) and torch.isfinite(a).all()  # eval-mode noise is seeded


def test_bad_shapes_are_named():
    model = SongAutoencoder(SMALL)
    with pytest.raises(ValueError, match=r"positive multiple of 320 \(frames of 20 ms\), got \(2, 1000\)"):
        model.encode(torch.zeros(2, 1000), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"f0_hz must be \[B, frames\] = \(2, 10\), got \(2, 9\)"):
        model.encode(torch.zeros(2, 3200), torch.zeros(2, 9))
    with pytest.raises(ValueError, match="latent_dim must be 1..16, got 20"):
        SongAEConfig(latent_dim=20)


def test_training_lowers_the_loss_and_resumes_exactly(tmp_path):
    config = dataclasses.replace(ch8.SongConfig(), model=SMALL, ae_steps=6, ae_batch=3, checkpoint_every=3, ae_lr=3e-3)
    clips = _tones()
    straight, loop = ch8.train_song_autoencoder(config, clips, seed=1)
    first, _ = ch8.train_song_autoencoder(config, clips, seed=1, checkpoint_path=tmp_path / "ck", steps=3)
    resumed, loop2 = ch8.train_song_autoencoder(config, clips, seed=1, checkpoint_path=tmp_path / "ck")
    assert loop2.history["mss"] == loop.history["mss"]
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()))
    longer = dataclasses.replace(config, ae_steps=40)
    _, trained = ch8.train_song_autoencoder(longer, clips, seed=1)
    assert np.mean(trained.history["mss"][-5:]) < 0.9 * np.mean(trained.history["mss"][:5])
    path = save_song_autoencoder(straight, tmp_path / "ae.safetensors", steps=6, train_seconds=0.0, data="tones")
    loaded = load_song_autoencoder(path)
    assert loaded.meta["steps"] == 6 and not loaded.training and loaded.latent_dim == 4
    with pytest.raises(FileNotFoundError, match="song autoencoder.*make_song_models.py"):
        load_song_autoencoder(tmp_path / "missing.safetensors")


@pytest.mark.skipif(not soundfont_available(), reason="no SoundFont or fluidsynth installed")
def test_clips_of_real_tunes():
    tune = Melody(np.array([60, 62, 64, 65, 67, 65, 64, 62] * 4), np.arange(32.0), np.ones(32))
    clips = render_clips([tune, tune], clip_s=2.0, seed=3, progress=False)
    assert clips.audio.shape[1:] == (32000,) and clips.f0_hz.shape[1:] == (100,)
    assert sorted(set(clips.tune.tolist())) == [0, 1] and clips.tune.tolist() == sorted(clips.tune.tolist())
    assert ((clips.f0_hz > 0).float().mean(1) >= 0.5).all()
    again = render_clips([tune, tune], clip_s=2.0, seed=3, progress=False)
    assert torch.equal(again.audio, clips.audio) and INSTRUMENT_NAMES[int(clips.instrument[0])] in INSTRUMENT_NAMES
    capped = render_clips([tune], clip_s=2.0, seed=3, max_clips_per_tune=2, progress=False)
    assert len(capped) == 2
    with pytest.raises(ValueError, match="no clip had enough music"):
        render_clips([tune], clip_s=2.0, min_voiced=1.01, progress=False)
    with pytest.raises(ValueError, match="whole number of frames"):
        render_clips([tune], clip_s=2.01, progress=False)
