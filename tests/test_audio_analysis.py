"""Spectra, loudness, mel spectrograms and the partial decomposition."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from musicgan_lib.audio.analysis import (  # noqa: E402
    Partials,
    decompose_partials,
    envelope_knots,
    loudness_db,
    mel_spectrogram,
    plot_spectrogram,
    plot_spectrum,
    plot_waveform,
    resynthesize,
    snr_db,
    spectrogram,
    spectrum,
)
from musicgan_lib.audio.synth import sine  # noqa: E402

SR = 16000


def decaying_partials(freqs, amps, decays, phases, n=SR, onset=0):
    t = np.arange(n - onset) / SR
    x = np.zeros(n)
    for f, a, d, p in zip(freqs, amps, decays, phases):
        x[onset:] += a * np.exp(-d * t) * np.cos(2 * np.pi * f * t + p)
    return torch.tensor(x, dtype=torch.float32)


def test_spectrum_peak_level_and_frequency():
    freqs, mag = spectrum(0.5 * sine(440.0, 1.0, SR), SR)
    i = int(np.argmax(mag))
    assert freqs[i] == pytest.approx(440.0, abs=1.0)
    assert mag[i] == pytest.approx(20 * math.log10(0.5), abs=0.1)


def test_spectrogram_and_mel_shapes():
    x = sine(1000.0, 1.0, SR)
    spec = spectrogram(x, SR, n_fft=512, hop=128)
    assert spec.shape == (257, SR // 128 + 1)
    assert int(spec[:, 60].argmax()) == round(1000 * 512 / SR)
    mel = mel_spectrogram(torch.stack([x, x]), SR, n_mels=40)
    assert mel.shape == (2, 40, SR // 256 + 1)
    assert torch.isfinite(mel).all()


def test_loudness_calibration_and_frames():
    full = loudness_db(sine(1000.0, 1.0, SR), SR)
    assert full.shape == (250,)  # 250 frames per second at hop 64
    assert float(full[100]) == pytest.approx(0.0, abs=0.05)  # a full-scale 1 kHz sine is 0 dB
    assert float(loudness_db(0.1 * sine(1000.0, 1.0, SR), SR)[100]) == pytest.approx(-20.0, abs=0.05)
    # A-weighting: 100 Hz sounds ~19 dB quieter than 1 kHz at the same level
    assert float(loudness_db(sine(100.0, 1.0, SR), SR)[100]) == pytest.approx(-19.1, abs=0.3)
    assert float(loudness_db(torch.zeros(SR), SR).max()) == -100.0
    batch = loudness_db(torch.zeros(2, 3, SR), SR, n_frames=100)
    assert batch.shape == (2, 3, 100)
    # NumPy in, NumPy out, same numbers
    x = 0.3 * sine(500.0, 1.0, SR)
    assert np.allclose(loudness_db(x.numpy(), SR), loudness_db(x, SR).numpy(), atol=1e-3)


def test_loudness_follows_onset():
    x = torch.cat([torch.zeros(SR // 2), sine(1000.0, 0.5, SR)])
    loud = loudness_db(x, SR)
    assert float(loud[100]) == -100.0 and float(loud[200]) > -0.5
    assert -5 < float(loud[125]) < -1  # the frame at the onset is half in silence


def test_snr_db():
    x = sine(300.0, 1.0, SR)
    assert snr_db(x, x + 0.1 * x) == pytest.approx(20.0, abs=1e-3)
    assert snr_db(x, x) > 200
    with pytest.raises(ValueError):
        snr_db(x, x[:-1])
    with pytest.raises(ValueError):
        snr_db(torch.zeros(10), torch.zeros(10))


def test_decomposition_recovers_constructed_partials():
    truth = dict(
        freqs=[220.0, 440.7, 663.0, 1200.5],
        amps=[0.5, 0.3, 0.15, 0.05],
        decays=[1.5, 3.0, 6.0, 10.0],
        phases=[0.3, -1.0, 2.0, 0.0],
    )
    x = decaying_partials(**truth, onset=800)
    p = decompose_partials(x, SR, 4, envelopes=False)
    order = np.argsort(p.freqs_hz)
    assert np.allclose(p.freqs_hz[order], truth["freqs"], atol=0.05)
    assert np.allclose(p.amps[order], truth["amps"], rtol=0.03)
    assert np.allclose(p.decays[order], truth["decays"], rtol=0.05, atol=0.05)
    phase_err = np.angle(np.exp(1j * (p.phases[order] - truth["phases"])))
    assert np.abs(phase_err).max() < 0.05
    assert p.onset_s == pytest.approx(800 / SR, abs=2 / SR)
    assert snr_db(x, resynthesize(p, len(x))) > 40


def test_joint_refinement_never_hurts():
    """Two partials 30 Hz apart leak into each other in the tracking; the joint fit separates them."""
    x = decaying_partials([300.0, 330.0, 900.0], [0.4, 0.3, 0.1], [2.0, 4.0, 3.0], [0.0, 1.0, 2.0])
    plain = decompose_partials(x, SR, 3, envelopes=False)
    refined = decompose_partials(x, SR, 3, envelopes=False, refine_steps=10)
    s_plain = snr_db(x, resynthesize(plain, SR))
    s_refined = snr_db(x, resynthesize(refined, SR))
    assert s_plain > 30 and s_refined > s_plain + 20


def test_decomposition_envelope_model_and_strongest():
    truth = dict(
        freqs=[150.0, 300.0, 450.0, 900.0],
        amps=[0.4, 0.3, 0.2, 0.05],
        decays=[1.0, 2.0, 3.0, 4.0],
        phases=[0.0, 0.5, 1.0, 1.5],
    )
    x = decaying_partials(**truth)
    # a slow tremolo the decay model cannot follow, the envelope model can
    x = x * (1 + 0.2 * torch.sin(2 * math.pi * 3 * torch.arange(SR) / SR))
    p = decompose_partials(x, SR, 4)
    assert p.envelopes is not None and p.envelopes.shape == (4, len(p.knots))
    env_snr = snr_db(x, resynthesize(p, SR))
    decay_snr = snr_db(x, resynthesize(p, SR, envelopes=False))
    assert env_snr > 30 and env_snr > decay_snr + 10
    two = p.strongest(2)
    assert len(two) == 2 and sorted(two.freqs_hz.round()) == [150.0, 300.0]
    assert two.envelopes.shape == (2, len(p.knots))
    assert "f (Hz)" in p.table(3)
    # more partials never hurt
    snrs = [snr_db(x, resynthesize(decompose_partials(x, SR, k), SR)) for k in (1, 2, 4)]
    assert snrs[0] < snrs[1] < snrs[2]


def test_resynthesis_extends_beyond_the_analysed_stretch():
    x = decaying_partials([500.0], [0.5], [2.0], [0.0], n=2 * SR)
    p = decompose_partials(x[:SR], SR, 1)
    y = resynthesize(p, 2 * SR)
    assert snr_db(x[SR:], y[SR:]) > 25  # the second second is predicted by the decay
    with pytest.raises(ValueError):
        resynthesize(Partials(p.freqs_hz, p.amps, p.decays, p.phases, 0.0, SR), SR, envelopes=True)


def test_decomposition_bad_input():
    with pytest.raises(ValueError, match="silent"):
        decompose_partials(torch.zeros(SR), SR, 4)
    with pytest.raises(ValueError, match="NaN"):
        decompose_partials(torch.tensor([0.1, float("nan")] * 1000), SR, 4)
    with pytest.raises(ValueError):
        decompose_partials(sine(200.0, 0.5, SR), SR, 0)


def test_envelope_knots_dense_at_onset():
    knots = envelope_knots(SR, SR, 0.05)
    steps = np.diff(knots)
    assert knots[0] == 0 and knots[-1] == SR - 1
    assert steps[0] == 64 and steps.max() == 800
    assert np.all(np.diff(steps[:-1]) >= 0)  # widening, then constant


def test_plots_run():
    x = sine(440.0, 0.5, SR)
    for ax in (
        plot_waveform(x, SR, seconds=(0, 0.01)),
        plot_spectrum(x, SR, log_freq=True),
        plot_spectrogram(x, SR, log_freq=True, colorbar=True),
        plot_spectrogram(x, SR, colors=8),
    ):
        assert ax.figure is not None
    import matplotlib.pyplot as plt

    plt.close("all")
