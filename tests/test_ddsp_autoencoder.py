"""The DDSP note autoencoder: scaling, Nyquist handling, shapes, gradients, checkpoints, the chapter-7 contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from musicgan_lib.audio.synth import midi_to_hz, upsample_frames
from musicgan_lib.data.notes import make_notes
from musicgan_lib.losses_audio import MultiScaleSpectralLoss
from musicgan_lib.models.ddsp_autoencoder import (
    ASSET_PATH,
    DDSPConfig,
    NoteAutoencoder,
    NoteEncoding,
    _frames_to_samples,
    ddsp_scale,
    f0_supervision_loss,
    load_autoencoder,
    save_autoencoder,
)
from musicgan_lib.data.soundfont import soundfont_available

SMALL = DDSPConfig(
    latent_dim=8,
    n_harmonics=32,
    hidden=32,
    frame_hidden=32,
    decoder_layers=2,
    encoder_channels=32,
    n_mels=32,
    time_features=4,
    n_samples=3968,
)


@pytest.fixture(scope="module")
def notes():
    batch = make_notes(4, duration=0.248, seed=2, index_offset=8_000_000)  # 3968 samples = 62 frames of 64
    assert batch.audio.shape[-1] == 3968
    return batch


def test_ddsp_scale_values():
    x = torch.tensor([-1e4, -2.0, 0.0, 2.0, 1e4])
    y = ddsp_scale(x)
    assert y[0] == pytest.approx(1e-7, rel=1e-3)  # the floor
    assert y[-1] == pytest.approx(2.0 + 1e-7)  # the ceiling
    assert y[2] == pytest.approx(2.0 * 0.5 ** math.log(10.0) + 1e-7)  # 0.4032
    expected = 2.0 * torch.sigmoid(x[1:4]) ** math.log(10.0) + 1e-7
    assert torch.allclose(y[1:4], expected)
    assert (y[1:] > y[:-1]).all()


def test_harmonics_above_nyquist_are_zeroed_and_the_rest_renormalised():
    torch.manual_seed(0)
    model = NoteAutoencoder(SMALL)
    f0 = torch.tensor([[100.0] * 4 + [1000.0] * 4, [3000.0] * 8])  # 1000 Hz: harmonics 1..7 below 8 kHz
    c = model.controls(torch.randn(2, SMALL.latent_dim), f0)
    dist = c.harmonic_distribution
    assert dist.shape == (2, 8, 32)
    assert torch.allclose(dist.sum(-1), torch.ones(2, 8), atol=1e-5)
    assert (dist[0, 4:, 7:] == 0).all() and (dist[0, 4:, :7] > 0).all()
    assert (dist[1, :, 2:] == 0).all() and (dist[1, :, :2] > 0).all()  # 3 kHz: only 3 and 6 kHz remain
    assert (dist[0, :4] > 0).all()  # 100 Hz: all 32 harmonics (3.2 kHz) are fine
    assert (c.amplitude > 0).all() and (c.noise_magnitudes > 0).all()


def test_frame_upsampling_matches_the_data_rule():
    x = torch.randn(3, 20, 5)
    fast = _frames_to_samples(x, 64)
    slow = upsample_frames(x.transpose(1, 2), 20 * 64).transpose(1, 2)
    assert torch.allclose(fast, slow, atol=1e-6)
    assert torch.allclose(_frames_to_samples(x[..., 0], 64), upsample_frames(x[..., 0], 1280), atol=1e-6)


def test_encode_decode_shapes(notes):
    torch.manual_seed(0)
    model = NoteAutoencoder(SMALL).eval()
    enc = model.encode(notes.audio)
    assert isinstance(enc, NoteEncoding)
    assert enc.f0_hz.shape == (4, 62) and enc.z.shape == (4, 8) and enc.loudness_db.shape == (4, 62)
    assert enc.pitch_logits.shape == (4, 37)
    assert torch.allclose(enc.loudness_db, notes.loudness_db, atol=1e-3)  # the same A-weighted measure
    audio = model.decode(enc.z, enc.f0_hz)
    assert audio.shape == (4, 62 * 64) and torch.isfinite(audio).all()
    recon, enc2 = model(notes.audio)
    assert recon.shape == notes.audio.shape and torch.allclose(enc2.z, enc.z)
    assert (model.latent_dim, model.sample_rate, model.frame_rate, model.n_samples) == (8, 16000, 250, 3968)
    with pytest.raises(ValueError):
        model.encode(notes.audio[:, :3900])


def test_decoding_is_deterministic_in_eval_mode_and_noisy_in_training():
    torch.manual_seed(0)
    model = NoteAutoencoder(SMALL)
    z, f0 = torch.randn(2, 8), torch.full((2, 30), 220.0)
    model.eval()
    assert torch.equal(model.decode(z, f0), model.decode(z, f0))
    assert not torch.equal(model.decode(z, f0, noise_seed=1), model.decode(z, f0, noise_seed=2))
    model.train()
    assert not torch.equal(model.decode(z, f0), model.decode(z, f0))


def test_gradients_reach_encoder_and_decoder(notes):
    torch.manual_seed(0)
    model = NoteAutoencoder(SMALL)
    audio, f0 = notes.audio, notes.f0_hz
    logits, offset, z = model.encoder(audio, notes.loudness_db)
    recon = model.decode(z, f0)
    loss = MultiScaleSpectralLoss()(recon, audio)
    ce, l1 = f0_supervision_loss(logits, offset, f0, notes.pitch)
    (loss + ce + l1).backward()
    for name, module in (("encoder", model.encoder), ("decoder", model.decoder)):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name
    assert model.encoder.z_head.weight.grad.abs().sum() > 0  # the spectral loss trains z
    assert model.encoder.pitch_net[-1].weight.grad.abs().sum() > 0  # the labels train the pitch


def test_f0_supervision_targets_are_relative_to_the_labelled_pitch():
    pitch = torch.tensor([60, 72])
    f0 = midi_to_hz(pitch.float())[:, None].expand(2, 10) * 2 ** (30 / 1200)  # 30 cents sharp
    logits = torch.full((2, 37), -20.0)
    logits[0, 12] = logits[1, 24] = 20.0
    ce, l1 = f0_supervision_loss(logits, torch.full((2, 10), 0.3), f0, pitch)
    assert float(ce) < 1e-6 and float(l1) < 1e-4


def test_checkpoint_round_trip(tmp_path, notes):
    torch.manual_seed(0)
    model = NoteAutoencoder(SMALL).eval()
    path = save_autoencoder(model, tmp_path / "ae.safetensors", half=False, extra_meta={"note": "test"})
    back = load_autoencoder(path=path)
    assert back.meta["note"] == "test" and back.config == model.config
    z, f0 = torch.randn(2, 8), torch.full((2, 30), 300.0)
    assert torch.equal(model.decode(z, f0), back.decode(z, f0))
    half = load_autoencoder(path=save_autoencoder(model, tmp_path / "ae16.safetensors"))
    assert (tmp_path / "ae16.safetensors").stat().st_size < path.stat().st_size
    with torch.no_grad():
        a, b = model.decode(z, f0), half.decode(z, f0)
    assert float((a - b).abs().max()) < 0.05 * float(a.abs().max()) + 1e-4
    with pytest.raises(FileNotFoundError, match="make_note_models.py"):
        load_autoencoder(path=tmp_path / "missing.safetensors")


def test_config_limits():
    with pytest.raises(ValueError):
        DDSPConfig(latent_dim=17)
    with pytest.raises(ValueError):
        DDSPConfig(n_harmonics=16)


shipped = pytest.mark.skipif(not ASSET_PATH.exists(), reason="assets/note_autoencoder.safetensors not built yet")


@shipped
def test_shipped_autoencoder_honours_the_chapter7_contract():
    model = load_autoencoder()
    assert model.latent_dim <= 16 and model.sample_rate == 16000 and model.frame_rate == 250
    assert model.n_samples == 16000 and not model.training
    assert ASSET_PATH.stat().st_size < 3 * 1024 * 1024
    # a generated note: any z, the constant pitch curve of MIDI 60 -> a note whose strongest
    # low partial is C4 or one of its harmonics
    z = torch.zeros(1, model.latent_dim)
    f0 = torch.full((1, model.n_samples // model.hop), float(midi_to_hz(60.0)))
    audio = model.decode(z, f0)[0]
    assert audio.shape == (16000,) and torch.isfinite(audio).all() and audio.abs().max() > 1e-3
    spec = np.abs(np.fft.rfft(audio.numpy() * np.hanning(16000)))
    peak_hz = float(np.argmax(spec[:4000]))  # 1 Hz bins
    ratio = peak_hz / float(midi_to_hz(60.0))
    assert abs(ratio - round(ratio)) < 0.02


@shipped
@pytest.mark.skipif(not soundfont_available(), reason="the shipped model learned SoundFont notes; CI installs them")
def test_shipped_autoencoder_tracks_pitch_on_held_out_notes():
    """On the kind of notes it was trained on (real SoundFont notes, none of them seen in training)."""
    from musicgan_lib.data.note_sets import choose_note_data, note_set
    from musicgan_lib.metrics.audio import f0_report, sounding_frames

    held = note_set(choose_note_data("soundfont"), 32, seed=0, index_offset=9_000_000, unseen_by=4096)
    model = load_autoencoder()
    enc = model.encode(held.audio)
    rep = f0_report(enc.f0_hz, held.f0_hz, sounding_frames(held.loudness_db))
    assert rep.within_50c >= 0.9 and rep.median_cents < 25


def test_training_moves_the_loss_and_resumes_exactly(tmp_path):
    """The chapter recipe on TrainLoop: a resumed run equals an uninterrupted one (data + RNG restored)."""
    from musicgan_lib.recipes import autoencoder as ch6

    small = DDSPConfig(
        latent_dim=4,
        n_harmonics=32,
        hidden=16,
        frame_hidden=16,
        decoder_layers=1,
        encoder_channels=16,
        n_mels=16,
        time_features=2,
    )
    cfg = ch6.AutoencoderConfig(steps=4, batch_size=2, model=small, warmup_steps=1, checkpoint_every=2)
    straight = ch6.train_autoencoder(cfg, seed=3)
    ckpt = tmp_path / "run.safetensors"
    ch6.train_autoencoder(cfg, seed=3, stop_at=2, checkpoint_path=ckpt)  # "interrupted" after 2 steps
    resumed = ch6.train_autoencoder(cfg, seed=3, checkpoint_path=ckpt)
    assert resumed.history["step"] == [1, 2, 3, 4]
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name
    assert all(math.isfinite(v) for v in straight.history["mss"])
    assert set(straight.history) >= {"mss", "pitch_ce", "f0_offset_l1", "loudness_l1", "z_rms"}


@shipped
def test_load_or_train_gives_an_autoencoder_run_either_way():
    """Chapter 6's one call: the shipped model (with its metadata's steps and curve) or a run here."""
    from musicgan_lib.recipes import autoencoder as ch6

    got = ch6.load_or_train(ch6.AutoencoderConfig(), "quick")
    assert got.shipped and isinstance(got.value, ch6.AutoencoderRun) and got.value.loop is None
    assert got.value.model.meta["steps"] == 2000 and got.value.history["mss"]
    assert "note_autoencoder.safetensors" in str(got) and "2000 steps" in str(got)
    small = DDSPConfig(latent_dim=4, n_harmonics=32, hidden=16, frame_hidden=16, decoder_layers=1,
                       encoder_channels=16, n_mels=16, time_features=2)  # fmt: skip
    cfg = ch6.AutoencoderConfig(steps=2, batch_size=2, model=small, warmup_steps=1, source="synthetic")
    here = ch6.load_or_train(cfg, "full")
    assert not here.shipped and isinstance(here.value, ch6.AutoencoderRun) and here.value.history["step"] == [1, 2]
    assert "full profile ships no weights" in str(here)
    assert not any(p.requires_grad for p in here.value.model.parameters())
