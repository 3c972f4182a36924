"""The note classifier: shapes, gain invariance, Fréchet compatibility, checkpoints, shipped accuracy."""

from __future__ import annotations

import pytest
import torch

from musicgan_lib.data.notes import FAMILIES, make_notes
from musicgan_lib.metrics.audio_classifier import (
    ASSET_PATH,
    N_PITCHES,
    LogMel,
    NoteClassifier,
    augment,
    load_note_classifier,
    note_accuracy,
    pitch_to_class,
    save_note_classifier,
)
from musicgan_lib.metrics.frechet import frechet_report
from musicgan_lib.data.note_sets import choose_note_data, note_set
from musicgan_lib.data.soundfont import soundfont_available

HELD_OUT = 7_000_000  # far from the training stream and from the script's held-out set


@pytest.fixture(scope="module")
def notes():
    return make_notes(24, seed=11, index_offset=HELD_OUT)


def test_heads_and_features_have_the_contract_shapes(notes):
    torch.manual_seed(0)
    model = NoteClassifier().eval()
    p, f = model.predict(notes.audio[:5])
    assert p.shape == (5, N_PITCHES) and N_PITCHES == 37 and f.shape == (5, len(FAMILIES))
    feats = model.features(notes.audio[:5])
    assert feats.shape == (5, 64)
    assert torch.allclose(model.feature_extractor()(notes.audio[:5]), feats)
    assert model.feature_extractor().num_features == 64
    assert pitch_to_class(torch.tensor([48, 84])).tolist() == [0, 36]


def test_log_mel_ignores_overall_gain(notes):
    mel = LogMel()
    x = notes.audio[:3]
    assert torch.allclose(mel(x), mel(4.0 * x), atol=1e-4)
    assert mel(x).max() == pytest.approx(1.0)  # the loudest bin of each note sits at 0 dB -> 1.0


def test_augment_keeps_shapes_and_delays_the_onset(notes):
    g = torch.Generator().manual_seed(0)
    x = notes.audio[:4]
    y = augment(x, g, max_shift=400)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(y, x)


def test_checkpoint_round_trip(tmp_path, notes):
    torch.manual_seed(1)
    model = NoteClassifier(width=8).eval()
    model.calibrate_features(notes.audio)
    path = save_note_classifier(model, tmp_path / "c32.safetensors", half=False)
    back = load_note_classifier(path=path)
    a, b = model.predict(notes.audio[:4]), back.predict(notes.audio[:4])
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not any(p.requires_grad for p in back.parameters())
    path16 = save_note_classifier(model, tmp_path / "c16.safetensors")
    assert path16.stat().st_size < path.stat().st_size
    back16 = load_note_classifier(path=path16)
    assert next(back16.parameters()).dtype == torch.float32
    assert torch.allclose(back16.features(notes.audio[:4]), model.features(notes.audio[:4]), atol=0.05, rtol=0.02)


def test_missing_checkpoint_names_the_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_note_models.py"):
        load_note_classifier(path=tmp_path / "nope.safetensors")


shipped = pytest.mark.skipif(not ASSET_PATH.exists(), reason="assets/note_classifier.safetensors not built yet")


@shipped
@pytest.mark.skipif(
    not soundfont_available(), reason="the shipped classifier learned SoundFont notes; CI installs them"
)
def test_shipped_classifier_is_accurate_on_fresh_notes():
    """On real notes it never heard: no (program, pitch, velocity) of its 8,192 training notes."""
    fresh = note_set(choose_note_data("soundfont"), 200, seed=0, index_offset=HELD_OUT, unseen_by=8192)
    model = load_note_classifier()
    acc = note_accuracy(model, fresh.audio, fresh.pitch, fresh.family)
    assert acc["pitch"] >= 0.95
    assert acc["family"] >= 0.85
    assert ASSET_PATH.stat().st_size < 3 * 1024 * 1024


@shipped
def test_shipped_classifier_features_work_with_frechet_report():
    model = load_note_classifier()
    real = make_notes(64, seed=6, index_offset=HELD_OUT).audio
    fake = 0.5 * make_notes(32, seed=7, index_offset=HELD_OUT).audio
    rep = frechet_report(model.feature_extractor(), real, fake, n=32, kid_subsets=10, kid_subset_size=16)
    assert rep.fd >= 0 and rep.fd_floor >= 0
    # gain does not change the log-mel, so half-loud real notes are as "real" as real ones
    noise = 0.1 * torch.randn(32, 16000, generator=torch.Generator().manual_seed(0))
    worse = frechet_report(model.feature_extractor(), real, noise, n=32, kid_subsets=10, kid_subset_size=16)
    assert worse.fd > rep.fd
