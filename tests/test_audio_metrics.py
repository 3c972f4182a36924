"""Multi-scale spectral loss and the chapter-6 audio metrics (cents, loudness, MSS baseline)."""

from __future__ import annotations

import math

import pytest
import torch

from musicgan_lib.data.notes import make_notes
from musicgan_lib.losses_audio import (
    FFT_SIZES,
    OVERLAP,
    MultiScaleSpectralLoss,
    hop_for,
    magnitude_spectrogram,
    multiscale_spectral_loss,
)
from musicgan_lib.metrics.audio import (
    MeanNoteBaseline,
    cents_error,
    f0_report,
    loudness_l1_db,
    mss_distance,
    sounding_frames,
)

SR = 16000


def _noise(n: int = 2, samples: int = 8000, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, samples, generator=torch.Generator().manual_seed(seed))


def test_fft_sizes_and_overlap_are_ddsp_defaults():
    assert FFT_SIZES == (2048, 1024, 512, 256, 128, 64)
    assert OVERLAP == 0.75
    assert [hop_for(n) for n in FFT_SIZES] == [512, 256, 128, 64, 32, 16]
    x = _noise(1, 4096)
    for n in FFT_SIZES:
        spec = magnitude_spectrogram(x, n)
        assert spec.shape == (1, n // 2 + 1, 4096 // (n // 4) + 1)
    with pytest.raises(ValueError):
        hop_for(1024, overlap=1.0)


def test_mss_is_zero_for_identical_signals_and_positive_otherwise():
    x = _noise()
    loss = MultiScaleSpectralLoss()
    assert float(loss(x, x)) == 0.0
    y = x + 0.1 * _noise(seed=1)
    assert float(loss(y, x)) > 0.0
    per = loss(y, x, reduction="none")
    assert per.shape == (2,) and (per > 0).all()
    assert torch.isclose(per.mean(), loss(y, x))
    assert torch.isclose(multiscale_spectral_loss(y, x), loss(y, x))


def test_mss_scale_is_what_the_formula_says():
    """Doubling a noise signal: the magnitude term is mean |S|, the log term is ln 2, at every scale."""
    x = _noise(1, 8000)
    loss = MultiScaleSpectralLoss()
    expected = sum(float(magnitude_spectrogram(x, n).mean()) + math.log(2.0) for n in FFT_SIZES)
    assert float(loss(2 * x, x)) == pytest.approx(expected, rel=1e-3)
    only_log = MultiScaleSpectralLoss(mag_weight=0.0)
    assert float(only_log(2 * x, x)) == pytest.approx(len(FFT_SIZES) * math.log(2.0), rel=1e-3)


def test_mss_grows_with_the_error_and_has_gradients():
    x = _noise()
    loss = MultiScaleSpectralLoss()
    small = float(loss(x + 0.05 * _noise(seed=2), x))
    large = float(loss(x + 0.5 * _noise(seed=2), x))
    assert large > small > 0
    y = (0.5 * x).requires_grad_()
    loss(y, x).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        loss(x[:, :4000], x)


def test_cents_error_on_constructed_f0():
    f0 = torch.full((2, 10), 261.63)
    assert torch.allclose(cents_error(f0 * 2 ** (25 / 1200), f0), torch.full((2, 10), 25.0), atol=1e-3)
    assert torch.allclose(cents_error(f0 / 2, f0), torch.full((2, 10), 1200.0), atol=1e-3)
    # 3/4 of frames off by 10 cents, 1/4 by a semitone: median 10, within 50 = 0.75
    pred = f0.clone() * 2 ** (10 / 1200)
    pred[:, :2] = f0[:, :2] * 2 ** (100 / 1200)
    pred[:, 5] = f0[:, 5] * 2 ** (100 / 1200)
    rep = f0_report(pred, f0)
    assert rep.median_cents == pytest.approx(10.0, abs=1e-3)
    assert rep.within_50c == pytest.approx(0.7)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[:, 6:] = True
    assert f0_report(pred, f0, mask).within_50c == 1.0
    with pytest.raises(ValueError):
        cents_error(torch.zeros(2, 10), f0)


def test_loudness_l1_is_zero_for_copies_and_6db_for_double_gain():
    notes = make_notes(4, seed=3)
    same = loudness_l1_db(notes.audio, notes.audio, SR, 64)
    assert same.shape == (4,) and float(same.abs().max()) == 0.0
    double = loudness_l1_db(2 * notes.audio, notes.audio, SR, 64)
    assert torch.allclose(double, torch.full((4,), 20 * math.log10(2)), atol=0.05)


def test_sounding_frames_ignore_the_silence_after_a_note():
    notes = make_notes(2, seed=1)
    mask = sounding_frames(notes.loudness_db)
    assert mask[:, :50].all()  # the note is playing at the start
    assert not mask[:, -1].any()  # and has ended in silence


def test_mean_note_baseline_is_exact_on_its_only_note_and_worse_elsewhere():
    notes = make_notes(6, seed=4, pitch_range=(60, 61))
    base = MeanNoteBaseline().fit(notes.audio[:1], notes.pitch[:1])
    assert float(base.distance(notes.audio[:1], notes.pitch[:1])) == pytest.approx(0.0, abs=1e-6)
    d = base.distance(notes.audio, notes.pitch)
    assert d.shape == (6,) and (d[1:] > 0).all()
    # a pitch never seen falls back to the overall mean (still finite)
    assert torch.isfinite(base.distance(notes.audio[:2], torch.tensor([30, 90]))).all()
    assert torch.allclose(mss_distance(notes.audio, notes.audio), torch.zeros(6))
