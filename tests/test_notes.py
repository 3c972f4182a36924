"""Synthetic instrument notes: shapes, exact labels, determinism, speed."""

import time

import numpy as np
import pytest
import torch

from musicgan_lib.audio.synth import midi_to_hz, upsample_frames
from musicgan_lib.data.notes import (
    FAMILIES,
    FRAME_RATE,
    PITCH_RANGE,
    SAMPLE_RATE,
    NoteBatch,
    make_notes,
    random_labels,
    synth_notes,
)

SR = SAMPLE_RATE


def strongest_harmonic_f0(x: np.ndarray, f0_guess: float, sr: int = SR) -> float:
    """Refine f0 from the spectrum: the peak near the harmonic k*f0 that is loudest, divided by k."""
    n = len(x) * 4
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    hz = np.fft.rfftfreq(n, 1 / sr)
    best = (0.0, f0_guess)
    for k in range(1, 6):
        sel = (hz > k * f0_guess * 0.97) & (hz < k * f0_guess * 1.03)
        if sel.any() and mag[sel].max() > best[0]:
            best = (mag[sel].max(), hz[sel][np.argmax(mag[sel])] / k)
    return best[1]


def test_families_and_ranges():
    assert len(FAMILIES) >= 6
    assert {"plucked_string", "bowed_string", "reed", "brass", "mallet", "organ"} <= set(FAMILIES)
    assert PITCH_RANGE[1] - PITCH_RANGE[0] >= 36  # at least three octaves
    assert SR == 16000 and FRAME_RATE == 250


def test_make_notes_shapes_and_labels():
    b = make_notes(40, 1.0, seed=3)
    assert isinstance(b, NoteBatch) and len(b) == 40
    assert b.audio.shape == (40, SR) and b.audio.dtype == torch.float32
    assert b.f0_hz.shape == b.loudness_db.shape == (40, 250)
    assert b.hop == 64 and b.duration_s == 1.0
    assert b.family.dtype == torch.long and set(b.family.tolist()) <= set(range(len(FAMILIES)))
    assert PITCH_RANGE[0] <= int(b.pitch.min()) and int(b.pitch.max()) <= PITCH_RANGE[1]
    assert 1 <= int(b.velocity.min()) and int(b.velocity.max()) <= 127
    assert torch.isfinite(b.audio).all() and float(b.audio.abs().max()) <= 1.0
    assert float(b.audio.abs().amax(dim=1).min()) > 0.01  # no silent notes
    # f0 label within a quarter tone of the nominal pitch (vibrato and a little detuning only)
    cents = 1200 * torch.log2(b.f0_hz / midi_to_hz(b.pitch.float())[:, None])
    assert cents.abs().max() < 50
    assert b.f0_samples().shape == b.audio.shape


def test_f0_label_matches_the_audio():
    """For every family, the audio's harmonic (or bar mode) lies where the f0 label says."""
    b = synth_notes(list(FAMILIES), [57] * len(FAMILIES), 100, 1.0, seed=1)
    for i, fam in enumerate(FAMILIES):
        x = b.audio[i, : SR // 2].numpy()
        label = float(b.f0_hz[i, :125].mean())
        est = strongest_harmonic_f0(x, label)
        assert abs(1200 * np.log2(est / label)) < 15, (fam, est, label)


def test_loudness_label_is_measured_and_follows_velocity():
    b = synth_notes(["organ", "organ"], [60, 60], [40, 127], 1.0, seed=0)
    assert float(b.loudness_db[1, 50:150].mean()) > float(b.loudness_db[0, 50:150].mean()) + 10
    assert float(b.loudness_db[:, -1].max()) < float(b.loudness_db[:, 100].min())  # released by the end


def test_deterministic_per_seed_and_prefix_stable():
    a = make_notes(20, 0.5, seed=7)
    b = make_notes(20, 0.5, seed=7)
    assert torch.equal(a.audio, b.audio) and torch.equal(a.f0_hz, b.f0_hz)
    c = make_notes(20, 0.5, seed=8)
    assert not torch.equal(a.audio, c.audio)
    prefix = make_notes(5, 0.5, seed=7)
    assert torch.equal(prefix.pitch, a.pitch[:5]) and torch.equal(prefix.family, a.family[:5])
    assert torch.allclose(prefix.audio, a.audio[:5], atol=1e-6)
    shifted = make_notes(5, 0.5, seed=7, index_offset=15)  # a disjoint split from the same seed
    assert torch.allclose(shifted.audio, a.audio[15:], atol=1e-6)


def test_labels_are_balanced_and_restrictable():
    fams, pitches, vels = random_labels(4000, seed=0)
    counts = np.bincount(fams, minlength=len(FAMILIES))
    assert counts.min() > 0.8 * 4000 / len(FAMILIES)
    assert set(pitches) == set(range(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
    only = make_notes(10, 0.25, seed=0, families=["reed", "brass"], pitch_range=(60, 62))
    assert set(only.family_names) <= {"reed", "brass"} and set(only.pitch.tolist()) <= {60, 61, 62}


def test_vibrato_in_f0_curve_and_audio_follows_it():
    b = synth_notes(["bowed_string"], [69], 100, 2.0, seed=0)
    f0 = b.f0_hz[0]
    late = f0[150:]  # after the vibrato onset delay
    assert float(late.max() - late.min()) > 2.0  # a vibrato of tens of cents at 440 Hz
    # the label drives the synth: the fundamental's instantaneous frequency follows the curve
    x = b.audio[0].double().numpy()
    spec = np.fft.fft(x)
    hz = np.fft.fftfreq(len(x), 1 / SR)
    spec[(hz < 400) | (hz > 480)] = 0  # keep the fundamental only, as an analytic signal
    phase = np.unwrap(np.angle(np.fft.ifft(spec)))
    inst = np.diff(phase) * SR / (2 * np.pi)
    label = upsample_frames(b.f0_hz, len(x))[0].numpy()[1:]
    steady = slice(int(0.5 * SR), int(1.3 * SR))  # sustained, away from the edges
    assert np.corrcoef(inst[steady], label[steady])[0, 1] > 0.95
    assert np.abs(inst[steady] - label[steady]).mean() < 0.5


def test_batch_ops_and_save_load(tmp_path):
    b = make_notes(6, 0.25, seed=0)
    sub = b[torch.tensor([0, 2])]
    assert len(sub) == 2 and torch.equal(sub.audio[1], b.audio[2])
    assert len(b[3]) == 1 and len(b[1:4]) == 3
    both = NoteBatch.cat([b, sub])
    assert len(both) == 8 and both.program is None
    path = b.save(tmp_path / "notes.safetensors")
    back = NoteBatch.load(path)
    assert torch.equal(back.audio, b.audio) and back.sr == b.sr and back.source == "synthetic"
    b.audio[0, 5] = float("nan")  # a damaged file is an error naming it, not NaN audio
    with pytest.raises(ValueError, match="notes_nan.safetensors holds NaN or inf in 1 tensor"):
        NoteBatch.load(b.save(tmp_path / "notes_nan.safetensors"))
    from safetensors.torch import save_file

    save_file({"audio": b.audio[:, :4].nan_to_num()}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="other.safetensors is not a saved NoteBatch"):
        NoteBatch.load(tmp_path / "other.safetensors")
    with pytest.raises(ValueError):
        NoteBatch(b.audio, b.f0_hz[:2], b.loudness_db, b.family, b.pitch, b.velocity)


def test_bad_arguments():
    with pytest.raises(ValueError, match="family"):
        synth_notes([99], [60])
    with pytest.raises(ValueError, match="velocity"):
        synth_notes([0], [60], [0])
    with pytest.raises(ValueError):
        synth_notes([0, 1], [60])
    with pytest.raises(ValueError):
        make_notes(-1)
    with pytest.raises(ValueError):
        random_labels(3, pitch_range=(80, 40))
    assert len(make_notes(0)) == 0


def test_generation_speed_cpu_time():
    """10,000 one-second notes must take under a minute on 2 cores: measure CPU time (robust to a
    busy machine) on 500 notes and require a comfortable margin (>= 250 notes per CPU second)."""
    make_notes(4)
    start = time.process_time()
    make_notes(500, 1.0, seed=1)
    per_second = 500 / (time.process_time() - start)
    assert per_second >= 250, f"{per_second:.0f} notes per CPU second"


@pytest.mark.slow
def test_ten_thousand_notes_under_a_minute():
    make_notes(4)
    start = time.perf_counter()
    b = make_notes(10_000, 1.0, seed=0)
    assert len(b) == 10_000
    assert time.perf_counter() - start < 60
