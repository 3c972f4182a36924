"""Bad input to the audio functions gets a clear error naming the argument, never a crash inside torch or silence.

Synth functions (audio.synth), WAV input/output (audio.io) and the argument checks of the
training-time harmonic synth (kernels.harmonic_synth). Each case names the error type and a
phrase of its message; the positive cases pin the valid edge cases that must keep working.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgan_lib.audio.io import AudioFileError, AudioInputWarning, read_wav, write_wav
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
from musicgan_lib.kernels.harmonic_synth import harmonic_sum, harmonic_synth, harmonic_synth_reference

SR = 16000
NAN, INF = float("nan"), float("inf")
BAD_RATES = [
    (0, ValueError),
    (-16000, ValueError),
    (NAN, ValueError),
    (INF, ValueError),
    ("16000", TypeError),
    (True, TypeError),
]


def ones(*shape):
    return torch.ones(*shape)


# ----------------------------------------------------------------------------- synth: sample rates


SR_CALLS = {
    "sine": lambda sr: sine(440.0, 0.1, sr),
    "phase_from_frequency": lambda sr: phase_from_frequency(ones(10), sr),
    "nyquist_mask": lambda sr: nyquist_mask(ones(3), sr),
    "additive": lambda sr: additive(ones(2), ones(2), sr, n_samples=10),
    "harmonic": lambda sr: harmonic(torch.full((10,), 100.0), ones(3), sr),
    "adsr": lambda sr: adsr(10, sr),
    "filtered_noise": lambda sr: filtered_noise(10, sr),
}


@pytest.mark.parametrize("func", sorted(SR_CALLS))
@pytest.mark.parametrize("sr, error", BAD_RATES)
def test_synth_refuses_a_bad_sample_rate(func, sr, error):
    with pytest.raises(error, match=r"sr \(the sample rate\) must be a (positive finite )?number of Hz"):
        SR_CALLS[func](sr)


# ----------------------------------------------------------------------------- synth: everything else


@pytest.mark.parametrize(
    "call, error, match",
    [
        # sine: durations, frequencies (negative, NaN/Inf, at or above Nyquist, wrong layout), amplitude, phase
        (lambda: sine(440.0, 0.0), ValueError, r"duration_s must be > 0, got 0"),
        (lambda: sine(440.0, -1.0), ValueError, r"duration_s must be > 0"),
        (lambda: sine(440.0, NAN), ValueError, r"duration_s must be a finite number"),
        (lambda: sine(440.0, 1e-6), ValueError, r"duration_s=1e-06 s at sr=16000 Hz .* need at least one sample"),
        (lambda: sine(-440.0, 0.1), ValueError, r"freq_hz must be >= 0 Hz .* got -440 Hz"),
        (lambda: sine(NAN, 0.1), ValueError, r"freq_hz has 1 NaN/Inf values"),
        (lambda: sine(INF, 0.1), ValueError, r"freq_hz has 1 NaN/Inf"),
        (lambda: sine(9000.0, 0.1), ValueError, r"freq_hz 9000 Hz .* Nyquist frequency sr/2 = 8000 Hz.*alias to 7000"),
        (lambda: sine(8000.0, 0.1), ValueError, r"freq_hz 8000 Hz is at or above the Nyquist"),
        (lambda: sine(torch.linspace(440.0, 9000.0, 5), 0.1), ValueError, r"freq_hz 9000 Hz .* Nyquist"),
        (lambda: sine(torch.tensor([440.0, NAN]), 0.1), ValueError, r"freq_hz has 1 NaN/Inf values .* index \(1,\)"),
        (lambda: sine(torch.full((2, 5), 440.0), 0.1), ValueError, r"freq_hz must be a number or a 1-D curve"),
        (lambda: sine(torch.zeros(0), 0.1), ValueError, r"freq_hz must be a number or a 1-D curve"),
        (lambda: sine(torch.tensor([1j]), 0.1), TypeError, r"freq_hz must be real"),
        (lambda: sine(440.0, 0.1, amplitude=NAN), ValueError, r"amplitude must be a finite number"),
        (lambda: sine(440.0, 0.1, amplitude=ones(7)), ValueError, r"amplitude must be .* \[T\] = \[1600\]"),
        (lambda: sine(440.0, 0.1, phase=INF), ValueError, r"phase must be a finite number"),
        # phase_from_frequency
        (lambda: phase_from_frequency(ones(10), SR, block=0), ValueError, r"block must be at least 1"),
        (lambda: phase_from_frequency(torch.tensor(5.0), SR), ValueError, r"freq_hz must be a per-sample curve"),
        (lambda: phase_from_frequency(-ones(10), SR), ValueError, r"freq_hz must be >= 0 Hz"),
        (lambda: phase_from_frequency(torch.tensor([1.0, NAN]), SR), ValueError, r"freq_hz has 1 NaN/Inf"),
        (
            lambda: phase_from_frequency(ones(2, 10), SR, initial_phase=ones(3)),
            ValueError,
            r"initial_phase must broadcast to \(2,\)",
        ),
        (lambda: phase_from_frequency(ones(10), SR, initial_phase=NAN), ValueError, r"initial_phase must be a finite"),
        # upsample_frames
        (lambda: upsample_frames(torch.zeros(2, 0), 10), ValueError, r"frames must be .* at least one frame"),
        (lambda: upsample_frames(torch.tensor(1.0), 10), ValueError, r"at least one frame, got shape \(\)"),
        (lambda: upsample_frames([1.0, 2.0], 10), TypeError, r"frames must be a tensor"),
        (lambda: upsample_frames(ones(3), 0), ValueError, r"n_samples must be at least 1, got 0"),
        (lambda: upsample_frames(ones(3), 12.0), TypeError, r"n_samples must be an integer, got 12.0"),
        # nyquist_mask
        (lambda: nyquist_mask(ones(3), SR, margin=-100.0), ValueError, r"margin must be >= 0"),
        # additive
        (lambda: additive(torch.tensor([-440.0]), ones(1), SR, 100), ValueError, r"freqs_hz must be >= 0 Hz"),
        (lambda: additive(torch.tensor([NAN]), ones(1), SR, 100), ValueError, r"freqs_hz has 1 NaN/Inf"),
        (lambda: additive(ones(1), torch.tensor([INF]), SR, 100), ValueError, r"amps has 1 NaN/Inf"),
        (lambda: additive(torch.tensor(440.0), ones(1), SR, 100), ValueError, r"freqs_hz must be \[K\] \(constant\)"),
        (
            lambda: additive(ones(3, 10), ones(2, 10), SR, 100),
            ValueError,
            r"freqs_hz \(3, 10\) and amps \(2, 10\) do not match",
        ),
        (lambda: additive(ones(2), ones(2), SR, 0), ValueError, r"n_samples must be at least 1"),
        (lambda: additive(ones(2), ones(2), SR, 100, phases=ones(3)), ValueError, r"phases must broadcast to \(2,\)"),
        (
            lambda: additive(ones(2), ones(2), SR, 100, phases=torch.tensor([0.0, NAN])),
            ValueError,
            r"phases has 1 NaN/Inf",
        ),
        (lambda: additive("440", ones(1), SR, 100), TypeError, r"freqs_hz must be a tensor"),
        # harmonic
        (lambda: harmonic(torch.full((10,), -100.0), ones(3), SR), ValueError, r"f0_hz must be >= 0 Hz"),
        (lambda: harmonic(torch.tensor([100.0, NAN]), ones(3), SR, 10), ValueError, r"f0_hz has 1 NaN/Inf"),
        (lambda: harmonic(torch.full((10,), 100.0), ones(3), SR, n_samples=0), ValueError, r"n_samples must be at"),
        (lambda: harmonic(torch.full((1,), 100.0), ones(3), SR), ValueError, r"constant f0 .* needs n_samples"),
        (
            lambda: harmonic(torch.full((10,), 100.0), ones(3), SR, inharmonicity=-1e-3),
            ValueError,
            r"inharmonicity must be >= 0",
        ),
        (
            lambda: harmonic(torch.full((10,), 100.0), ones(3), SR, inharmonicity=torch.tensor(-1.0)),
            ValueError,
            r"inharmonicity must be >= 0",
        ),
        (
            lambda: harmonic(torch.full((10,), 100.0), ones(3), SR, inharmonicity=NAN),
            ValueError,
            r"inharmonicity must be a finite",
        ),
        (lambda: harmonic(torch.tensor(100.0), ones(3), SR, 10), ValueError, r"f0_hz must be \[\.\.\., T\]"),
        # adsr
        (lambda: adsr(0, SR), ValueError, r"n_samples must be at least 1, got 0"),
        (lambda: adsr(-5, SR), ValueError, r"n_samples must be at least 1"),
        (lambda: adsr(100.0, SR), TypeError, r"n_samples must be an integer"),
        (lambda: adsr(100, SR, attack=-0.1), ValueError, r"attack must be >= 0, got -0.1"),
        (lambda: adsr(100, SR, decay=NAN), ValueError, r"decay must be a finite number"),
        (lambda: adsr(100, SR, release=-1.0), ValueError, r"release must be >= 0"),
        (lambda: adsr(100, SR, sustain=NAN), ValueError, r"sustain must be a finite number"),
        (lambda: adsr(100, SR, note_off=-0.5), ValueError, r"note_off must be >= 0"),
        # filtered_noise
        (lambda: filtered_noise(0), ValueError, r"n_samples must be at least 1, got 0"),
        (lambda: filtered_noise(100, SR, low_hz=NAN), ValueError, r"low_hz must be a finite number"),
        (lambda: filtered_noise(100, SR, 1000.0, INF), ValueError, r"high_hz must be a finite number"),
        (lambda: filtered_noise(100, SR, 9000.0, 10000.0), ValueError, r"low_hz 9000 Hz is at or above the Nyquist"),
        (
            lambda: filtered_noise(100, SR, 1000.0, 1050.0),
            ValueError,
            r"band \[1000, 1050\] Hz holds no frequency bin of a 100-sample FFT \(bins are 160 Hz apart\)",
        ),
        (lambda: filtered_noise(100, SR, batch=(0,)), ValueError, r"batch must be at least 1, got 0"),
        (lambda: filtered_noise(100, SR, batch=(2.0,)), TypeError, r"batch must be an integer"),
        # midi_to_hz / hz_to_midi on numbers
        (lambda: midi_to_hz(NAN), ValueError, r"pitch must be a finite number"),
        (lambda: hz_to_midi(0.0), ValueError, r"freq_hz must be > 0, got 0.0"),
        (lambda: hz_to_midi(-440.0), ValueError, r"freq_hz must be > 0"),
    ],
)
def test_synth_refuses_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_synth_valid_edge_cases_still_work():
    assert torch.equal(sine(0.0, 0.01, SR), torch.zeros(160))  # 0 Hz is silence, not an error
    near = sine(7999.0, 0.01, SR)  # just below Nyquist is allowed
    assert near.shape == (160,) and torch.isfinite(near).all()
    assert sine(440.0, 0.01, 16000.0).shape == (160,)  # a float sample rate is fine for synthesis
    assert sine(440.0, 1 / SR, SR).shape == (1,)  # one sample is enough
    glide = sine(torch.tensor([220, 440]), 0.01, SR)  # an integer curve is converted
    assert glide.dtype == torch.float32 and glide.shape == (160,)
    # f0 = 0 marks unvoiced frames: those samples are silent, the rest is a tone, nothing is NaN
    f0 = torch.cat([torch.zeros(800), torch.full((800,), 200.0)])
    x = harmonic(f0, ones(5), SR)
    assert torch.isfinite(x).all() and x[:800].abs().max() == 0 and x[800:].abs().max() > 0.5
    assert torch.equal(
        additive(torch.tensor([440, 880]), torch.tensor([1, 1]), SR, 100),
        additive(torch.tensor([440.0, 880.0]), torch.tensor([1.0, 1.0]), SR, 100),
    )
    assert upsample_frames(torch.tensor([0, 4]), 4).tolist() == [0.0, 2.0, 4.0, 4.0]
    assert adsr(1, SR).shape == (1,)
    assert filtered_noise(100, SR, batch=3).shape == (3, 100)  # an int batch is a 1-tuple
    assert nyquist_mask(torch.tensor([-9000.0, -1000.0, 1000.0]), SR).tolist() == [0.0, 1.0, 1.0]  # |f| vs Nyquist
    assert midi_to_hz(torch.tensor([float("nan")])).isnan().all()  # tensors unchecked: it runs inside training


# ----------------------------------------------------------------------------- write_wav


def tone(n=SR, freq=440.0, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / SR)).astype(np.float32)


@pytest.mark.parametrize("sr, error", BAD_RATES + [(22050.5, ValueError)])
def test_write_wav_refuses_a_bad_sample_rate(tmp_path, sr, error):
    with pytest.raises(error, match=r"sr \(the sample rate\) must be a"):
        write_wav(tmp_path / "x.wav", torch.zeros(100), sr)
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize(
    "audio, error, match",
    [
        (torch.zeros(SR, 2), ValueError, r"shape \(16000, 2\), which looks like \[samples, channels\].*pass audio\.T"),
        (np.zeros((SR, 1), np.float32), ValueError, r"shape \(16000, 1\), which looks like \[samples, channels\]"),
        (torch.zeros(40, SR), ValueError, r"shape \(40, 16000\).* at most 16 channels"),
        (torch.zeros(2, 0), ValueError, r"the audio is empty \(shape \(2, 0\)\)"),
        (torch.zeros(100, dtype=torch.int16), TypeError, r"float samples in \[-1, 1\], got dtype torch.int16.*32768"),
        (np.zeros(100, np.int32), TypeError, r"float samples in \[-1, 1\], got dtype int32"),
        (torch.zeros(100, dtype=torch.complex64), TypeError, r"float samples .* got dtype torch.complex64"),
        (torch.tensor([0.0, INF, 0.5]), ValueError, r"1 NaN/Inf samples \(the first at sample 1\)"),
        (torch.tensor([[0.0, 0.0, 0.1], [0.0, 0.0, NAN]]), ValueError, r"1 NaN/Inf samples \(the first at sample 2\)"),
        (["a", "b"], TypeError, r"audio must be a tensor or array of float samples"),
    ],
)
def test_write_wav_refuses_bad_audio(tmp_path, audio, error, match):
    with pytest.raises(error, match=match):
        write_wav(tmp_path / "x.wav", audio, SR)
    assert not (tmp_path / "x.wav").exists()


def test_write_wav_refuses_an_unknown_subtype(tmp_path):
    with pytest.raises(ValueError, match=r"subtype must be one of .*'PCM_16'.* got 'PCM_12'"):
        write_wav(tmp_path / "x.wav", torch.zeros(100), SR, subtype="PCM_12")
    assert not list(tmp_path.iterdir())  # no temporary file left behind either


def test_write_wav_valid_layouts(tmp_path):
    stereo = write_wav(tmp_path / "s.wav", torch.zeros(2, 100), SR)
    assert (sf.info(stereo).channels, sf.info(stereo).frames) == (2, 100)
    mono2d = write_wav(tmp_path / "m.wav", np.zeros((1, 100), np.float32), 16000.0)  # a whole-number float rate
    assert (sf.info(mono2d).channels, sf.info(mono2d).samplerate) == (1, SR)
    assert sf.info(write_wav(tmp_path / "l.wav", [0.0, 0.5, -0.5], SR)).frames == 3  # a list of floats


# ----------------------------------------------------------------------------- read_wav


@pytest.mark.parametrize("sr, error", BAD_RATES + [(22050.5, ValueError)])
def test_read_wav_refuses_a_bad_target_sample_rate(tmp_path, sr, error):
    path = write_wav(tmp_path / "a.wav", torch.zeros(100), SR)
    with pytest.raises(error, match=r"sr \(the sample rate\) must be a"):
        read_wav(path, sr=sr)


def stereo_file(tmp_path, left, right, name="st.wav"):
    path = tmp_path / name
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    return path


def test_anti_phase_stereo_warns_that_the_channels_cancel(tmp_path):
    x = tone(amp=0.8)
    path = stereo_file(tmp_path, x, -x, "antiphase.wav")
    with pytest.warns(
        AudioInputWarning,
        match=r"antiphase\.wav: 2 channels \(stereo\) mixed down to mono, but the "
        r"channels cancel: they are out of phase \(anti-phase\), so the mono mix is near silence.*"
        r"channel=0",
    ):
        y, _ = read_wav(path)
    assert float(y.abs().max()) < 1e-6  # the mix really is silence: the warning is the only sign
    with pytest.raises(AudioFileError, match=r"channels cancel.*strict=True"):
        read_wav(path, strict=True)
    # nearly anti-phase (one channel 5 % quieter) cancels to -26 dB: still said
    with pytest.warns(AudioInputWarning, match=r"channels cancel"):
        read_wav(stereo_file(tmp_path, x, -0.95 * x, "near.wav"))


def test_ordinary_stereo_does_not_claim_cancellation(tmp_path, recwarn):
    read_wav(stereo_file(tmp_path, tone(freq=300.0), tone(freq=500.0)))
    messages = [str(w.message) for w in recwarn.list if issubclass(w.category, AudioInputWarning)]
    assert len(messages) == 1 and "mixed down to mono" in messages[0] and "cancel" not in messages[0]
    silent = stereo_file(tmp_path, np.zeros(SR, np.float32), np.zeros(SR, np.float32), "silent.wav")
    with pytest.warns(AudioInputWarning) as record:  # silence in, silence out: nothing cancels
        read_wav(silent)
    assert all("cancel" not in str(w.message) for w in record)


def test_read_wav_channel_picks_one_channel_without_a_warning(tmp_path, recwarn):
    x = tone(amp=0.8)
    path = stereo_file(tmp_path, x, -x)
    left, _ = read_wav(path, channel=0)
    right, _ = read_wav(path, channel=1)
    assert np.array_equal(left.numpy(), x) and np.array_equal(right.numpy(), -x)
    both, _ = read_wav(path, channel=1, mono=False)
    assert both.shape == (1, SR)
    assert read_wav(path, channel=0, strict=True)[0].shape == (SR,)  # nothing was repaired
    assert not [w for w in recwarn.list if issubclass(w.category, AudioInputWarning)]
    assert read_wav(path, sr=16000.0, channel=np.int64(0))[1] == SR  # whole-number float rate, numpy index


@pytest.mark.parametrize(
    "channel, error, match",
    [
        (2, ValueError, r"channel=2 but .*st\.wav has 2 channel\(s\): use 0\.\.1"),
        (-1, ValueError, r"channel=-1"),
        ("left", TypeError, r"channel must be a channel index"),
        (True, TypeError, r"channel must be a channel index"),
    ],
)
def test_read_wav_refuses_a_bad_channel(tmp_path, channel, error, match):
    path = stereo_file(tmp_path, tone(), tone())
    with pytest.raises(error, match=match):
        read_wav(path, channel=channel)


# ----------------------------------------------------------------------------- kernels.harmonic_synth (arguments)


def synth_inputs(B=1, T=10, H=2):
    return torch.full((B, T), 100.0), torch.ones(B, T), torch.ones(B, T, H)


@pytest.mark.parametrize("func", [harmonic_synth, harmonic_synth_reference])
@pytest.mark.parametrize("sr, error", BAD_RATES)
def test_harmonic_synth_refuses_a_bad_sample_rate(func, sr, error):
    with pytest.raises(error, match=r"sample_rate \(the sample rate\) must be a"):
        func(*synth_inputs(), sr)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda f0, a, d: harmonic_synth(100.0, a, d, SR), TypeError, r"f0_hz must be a torch.Tensor, got float"),
        (lambda f0, a, d: harmonic_synth(f0, a.numpy(), d, SR), TypeError, r"amplitudes must be a torch.Tensor"),
        (
            lambda f0, a, d: harmonic_synth(f0.to("meta"), a, d, SR),
            ValueError,
            r"f0_hz, amplitudes, harmonic_distribution must be on one device, got \['meta', 'cpu', 'cpu'\]",
        ),
        (
            lambda f0, a, d: harmonic_synth(f0, a, d, SR, chunk_elements=0),
            ValueError,
            r"chunk_elements must be at least 1",
        ),
        (lambda f0, a, d: harmonic_sum(f0, f0, d, 0.0), ValueError, r"nyquist must be > 0"),
        (lambda f0, a, d: harmonic_sum(f0, f0, d, NAN), ValueError, r"nyquist must be a finite number"),
        (
            lambda f0, a, d: harmonic_sum(f0[:, :3], f0, d, SR / 2),
            ValueError,
            r"phase \(1, 3\) and f0_hz \(1, 10\) must broadcast to \[B, T\]",
        ),
        (lambda f0, a, d: harmonic_sum(f0, f0, d.long(), SR / 2), TypeError, r"must be floating point"),
        (lambda f0, a, d: harmonic_sum(0.0, f0, d, SR / 2), TypeError, r"phase must be a torch.Tensor"),
        (lambda f0, a, d: harmonic_sum(f0, f0, d, SR / 2, chunk_elements=-1), ValueError, r"chunk_elements must be"),
    ],
)
def test_harmonic_synth_refuses_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(*synth_inputs())


def test_harmonic_synth_reads_no_values():
    """The training-time synth checks only what costs no device sync: a NaN f0 (a diverged model) passes
    through to the trainer's own non-finite check; f0 = 0 (unvoiced) is silent."""
    f0, amp, dist = synth_inputs()
    f0[0, 3] = NAN
    assert harmonic_synth(f0, amp, dist, SR).isnan().any()
    silent = harmonic_synth(torch.zeros(1, 10), amp, dist, SR)
    assert torch.equal(silent, torch.zeros(1, 10))
    assert math.isfinite(float(harmonic_synth(*synth_inputs(), 16000.0).sum()))  # a float rate is fine here
