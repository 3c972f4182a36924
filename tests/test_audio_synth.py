"""Oscillators and additive synthesis: right frequencies, continuous phase, no aliasing."""

import math

import numpy as np
import pytest
import torch

from musicgan_lib.audio.synth import (
    additive,
    adsr,
    filtered_noise,
    harmonic,
    hz_to_midi,
    midi_to_hz,
    nyquist_mask,
    phase_from_frequency,
    sine,
    upsample_frames,
)

SR = 16000


def fft_peak_hz(x: torch.Tensor, sr: int = SR, pad: int = 8) -> float:
    """Frequency of the highest spectral peak, refined by zero padding and a parabola."""
    x = x.double().numpy()
    n = len(x) * pad
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    i = int(np.argmax(mag))
    a, b, c = np.log(mag[i - 1 : i + 2])
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    return (i + delta) * sr / n


@pytest.mark.parametrize("freq", [55.0, 261.63, 440.0, 1234.5, 7000.0])
def test_sine_frequency_by_fft_peak(freq):
    x = sine(freq, 1.0, SR)
    assert x.shape == (SR,)
    assert abs(fft_peak_hz(x) - freq) < 1.0


def test_sine_amplitude_and_start_phase():
    x = sine(100.0, 0.1, SR, amplitude=0.5, phase=math.pi / 2)
    assert x.abs().max() == pytest.approx(0.5, abs=1e-4)
    assert float(x[0]) == pytest.approx(0.5, abs=1e-5)  # sin(pi/2) at sample 0


def test_midi_conversions():
    assert midi_to_hz(69) == pytest.approx(440.0)
    assert midi_to_hz(60) == pytest.approx(261.6256, abs=1e-3)
    assert hz_to_midi(880.0) == pytest.approx(81.0)
    assert torch.allclose(hz_to_midi(torch.tensor([220.0])), torch.tensor([57.0]))


def test_phase_continuity_over_ten_seconds():
    """A 10-second glide: the block-wise phase matches an exact float64 running sum, and the
    wrapped phase never jumps by more than one sample's increment (mod 2 pi)."""
    n = 10 * SR
    f = torch.linspace(100.0, 3000.0, n)  # float32 per-sample frequencies
    phase = phase_from_frequency(f, SR)
    exact = torch.cumsum(f.double() / SR, 0) * 2 * math.pi
    err = torch.remainder(phase.double() - exact + math.pi, 2 * math.pi) - math.pi
    assert err.abs().max() < 1e-4
    # a naive float32 cumsum drifts far more: the problem this function exists for
    naive = torch.cumsum(2 * math.pi * f / SR, 0)
    naive_err = torch.remainder(naive.double() - exact + math.pi, 2 * math.pi) - math.pi
    assert naive_err.abs().max() > 10 * err.abs().max()
    # continuity: consecutive samples differ by exactly the step 2 pi f / sr (mod 2 pi)
    step = torch.remainder(phase[1:].double() - phase[:-1].double(), 2 * math.pi)
    assert torch.allclose(step, 2 * math.pi * f[1:].double() / SR, atol=1e-4)
    assert 0 <= float(phase.min()) and float(phase.max()) < 2 * math.pi


def test_ten_second_sine_stays_in_tune_to_the_end():
    x = sine(440.3, 10.0, SR)
    assert abs(fft_peak_hz(x[-SR:]) - 440.3) < 0.5  # the last second is as in tune as the first
    assert abs(fft_peak_hz(x[:SR]) - 440.3) < 0.5


def test_phase_batch_and_initial_phase():
    f = torch.full((2, 3, 1000), 250.0)
    ph = phase_from_frequency(f, SR, initial_phase=torch.tensor([[0.0, 1.0, 2.0]] * 2))
    assert ph.shape == (2, 3, 1000)
    assert float(ph[0, 1, 0]) == pytest.approx(1.0 + 2 * math.pi * 250 / SR, abs=1e-5)
    with pytest.raises(ValueError):
        phase_from_frequency(f, 0)


def test_upsample_frames_convention():
    frames = torch.tensor([[0.0, 1.0, 3.0]])
    up = upsample_frames(frames, 12)  # hop 4
    assert up.shape == (1, 12)
    assert up[0, 0] == 0 and up[0, 4] == 1 and up[0, 8] == 3  # frame i at sample i*hop
    assert up[0, 2] == pytest.approx(0.5) and up[0, 6] == pytest.approx(2.0)
    assert torch.all(up[0, 8:] == 3)  # the last frame is held
    odd = upsample_frames(frames, 10)  # non-integer hop takes the general path
    assert odd.shape == (1, 10) and odd[0, 0] == 0 and odd[0, -1] == 3


def test_additive_removes_partials_above_nyquist():
    """Partials at 9 and 12 kHz would alias to 7 and 4 kHz; they must be silent instead."""
    freqs = torch.tensor([1000.0, 9000.0, 12000.0])
    amps = torch.tensor([1.0, 1.0, 1.0])
    x = additive(freqs, amps, SR, n_samples=SR)
    mag = np.abs(np.fft.rfft(x.numpy() * np.hanning(SR))) / (SR / 4)
    hz = np.fft.rfftfreq(SR, 1 / SR)
    assert mag[np.argmin(abs(hz - 1000))] > 0.5
    for alias in (7000, 4000):
        assert mag[np.argmin(abs(hz - alias))] < 1e-4
    assert nyquist_mask(freqs, SR).tolist() == [1.0, 0.0, 0.0]


def test_harmonic_tone_without_aliases():
    """f0 = 1100 Hz with 12 harmonics: only 7 fit below 8 kHz; harmonic 8 (8800 Hz) would fold to 7200 Hz."""
    x = harmonic(torch.full((SR,), 1100.0), torch.ones(12), SR)
    spec = np.abs(np.fft.rfft(x.numpy() * np.hanning(SR))) / (SR / 4)
    hz = np.fft.rfftfreq(SR, 1 / SR)
    for k in range(1, 8):
        assert spec[np.argmin(abs(hz - 1100 * k))] > 0.5
    for alias in (7200, 6100, 5000):  # 16000 - 8800, 16000 - 9900, 16000 - 11000
        assert spec[np.argmin(abs(hz - alias))] < 1e-4


def test_harmonic_inharmonicity_stretches_partials():
    b = 1e-3
    amps = torch.zeros(10)
    amps[9] = 1.0  # only partial 10
    x = harmonic(torch.full((SR,), 200.0), amps, SR, inharmonicity=b)
    expected = 10 * 200.0 * math.sqrt(1 + b * 100)
    assert abs(fft_peak_hz(x) - expected) < 1.0


def test_harmonic_time_varying_amplitudes():
    frames = torch.zeros(3, 100)
    frames[0, :50] = 1.0  # fundamental only in the first half
    frames[2, 50:] = 1.0  # third harmonic only in the second half
    x = harmonic(torch.full((100,), 300.0), frames, SR, n_samples=SR)
    assert abs(fft_peak_hz(x[: SR // 2 - 400]) - 300) < 1.0
    assert abs(fft_peak_hz(x[SR // 2 + 400 :]) - 900) < 1.0


def test_adsr_shape():
    env = adsr(SR, SR, attack=0.1, decay=0.1, sustain=0.5, release=0.2)
    t = lambda s: int(s * SR)  # noqa: E731
    assert float(env[0]) == 0.0
    assert float(env[t(0.1) - 1]) == pytest.approx(1.0, abs=1e-3)  # end of the attack
    assert float(env[t(0.5)]) == pytest.approx(0.5, abs=1e-3)  # sustaining
    assert float(env[-1]) < 0.01  # released by the end
    assert float(env.max()) <= 1.0 and float(env.min()) >= 0.0
    with pytest.raises(ValueError):
        adsr(100, SR, sustain=1.5)


def test_filtered_noise_stays_in_its_band():
    x = filtered_noise(SR, SR, 1000.0, 2000.0, generator=torch.Generator().manual_seed(0))
    assert float(x.pow(2).mean()) == pytest.approx(1.0, rel=1e-3)
    spec = np.abs(np.fft.rfft(x.numpy())) ** 2
    hz = np.fft.rfftfreq(SR, 1 / SR)
    inside = spec[(hz >= 1000) & (hz <= 2000)].sum()
    assert inside / spec.sum() > 0.999
    again = filtered_noise(SR, SR, 1000.0, 2000.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    with pytest.raises(ValueError):
        filtered_noise(100, SR, 3000.0, 2000.0)
