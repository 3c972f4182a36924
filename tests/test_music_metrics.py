"""Music metrics (musicgan_lib.metrics.music) against hand-computed values."""

import math
import re

import numpy as np
import pytest

from musicgan_lib.metrics import music as M

C_MAJOR = [60, 62, 64, 65, 67, 69, 71]
CHROMATIC = list(range(60, 72))
FR = 100.0  # frames per second of the synthetic f0 tracks


def test_in_tune_rate_on_and_off_the_grid():
    off = 440 * 2 ** (30 / 1200)
    assert M.in_tune_rate(np.full(50, 440.0)) == 1.0
    assert M.in_tune_rate(np.full(50, off)) == 0.0
    assert M.in_tune_rate(np.full(50, 440 * 2 ** (20 / 1200))) == 1.0  # 20 cents: inside 25
    # unvoiced frames (0, NaN, voiced=False) are ignored
    assert M.in_tune_rate(np.array([440.0, 0.0, np.nan, off])) == 0.5
    assert M.in_tune_rate(np.array([440.0, off]), voiced=np.array([True, False])) == 1.0
    assert math.isnan(M.in_tune_rate(np.zeros(10)))


def test_scale_consistency_keys_and_weights():
    assert M.scale_consistency(C_MAJOR + [72]) == (1.0, "C major")
    assert M.scale_consistency([57, 59, 60, 62, 64, 65, 67, 69]) == (1.0, "A minor")  # tonic A outweighs C
    assert M.scale_consistency(CHROMATIC)[0] == pytest.approx(7 / 12)
    assert M.scale_consistency([60.4, 61.6]) == (1.0, "C major")  # rounds to C, D
    # C E G C#: C major fits 3 of 4; weighting C# by 3 makes D major (E G C#) fit 5 of 6
    assert M.scale_consistency([60, 64, 67, 61]) == (0.75, "C major")
    assert M.scale_consistency([60, 64, 67, 61], weights=[1, 1, 1, 3]) == (pytest.approx(5 / 6), "D major")
    value, key = M.scale_consistency([])
    assert math.isnan(value) and key is None


def test_pitch_class_entropy():
    assert M.pitch_class_entropy(C_MAJOR) == pytest.approx(math.log2(7))
    assert M.pitch_class_entropy(CHROMATIC) == pytest.approx(math.log2(12))
    assert M.pitch_class_entropy([60, 72, 48]) == 0.0  # octaves are one class
    assert M.pitch_class_entropy(C_MAJOR + [72]) == pytest.approx(2.75)  # C twice: 0.5 + 6 * 3/8
    assert math.isnan(M.pitch_class_entropy([]))


def test_step_ratio():
    assert M.step_ratio([60, 62, 64, 67]) == pytest.approx(2 / 3)
    assert M.step_ratio([60, 60, 63]) == 0.5  # repeat is a step, minor third is a leap
    assert M.step_ratio([60.0, 62.4]) == 1.0 and M.step_ratio([60.0, 62.6]) == 0.0
    assert math.isnan(M.step_ratio([60]))


def test_js_distance():
    p = np.array([3.0, 1.0, 0.0, 2.0])
    assert M.js_distance(p, p) == 0.0
    assert M.js_distance(p, 10 * p) == pytest.approx(0.0, abs=1e-12)  # normalised inside
    assert M.js_distance([1, 1, 0, 0], [0, 0, 2, 5]) == 1.0
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4): JSD = (log2(4/3) + 0.5 log2(2/3) + 0.5) / 2
    jsd = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2
    assert M.js_distance([1, 0], [1, 1]) == pytest.approx(math.sqrt(jsd))
    assert math.isnan(M.js_distance([0, 0], [1, 0]))


def test_histograms():
    assert M.pitch_class_histogram([60, 72, 61, 71]).tolist() == [2, 1] + [0] * 9 + [1]
    edges = M.DURATION_BIN_EDGES
    assert edges[0] == pytest.approx(0.05) and edges[-1] == pytest.approx(4.0)
    hist = M.duration_histogram([0.01, 0.05, 0.1, 10.0])
    assert hist.sum() == 4 and hist[0] == 2 and hist[1] == 1 and hist[-1] == 1  # 0.1 s: 12 ln 2 / ln 80 = 1.9


def test_melody_metrics_and_distribution_distances():
    def seq(pitches, dur):
        n = len(pitches)
        return M.NoteSeq(np.array(pitches, float), np.arange(n) * dur, np.full(n, dur))

    out = M.melody_metrics(seq(C_MAJOR, 0.25), f0_hz=np.full(10, 440.0))
    assert out["scale_consistency"] == 1.0 and out["key"] == "C major" and out["in_tune_rate"] == 1.0
    assert out["pitch_class_entropy"] == pytest.approx(math.log2(7)) and out["step_ratio"] == 1.0
    assert "in_tune_rate" not in M.melody_metrics(seq(C_MAJOR, 0.25))
    white = [seq(C_MAJOR, 0.25), seq(C_MAJOR[::-1], 0.25)]
    black = [seq([61, 63, 66, 68, 70], 2.0)]  # pentatonic on the black keys, long notes
    assert M.distribution_distances(white, white) == {"pc_js": 0.0, "onset_rate_js": 0.0}
    assert M.distribution_distances(white, black) == pytest.approx({"pc_js": 1.0, "onset_rate_js": 1.0})


def _vibrato_note(midi, n_frames, start_frame):
    t = (start_frame + np.arange(n_frames)) / FR
    return 440 * 2 ** ((midi - 69 + 0.20 * np.sin(2 * np.pi * 5.5 * t)) / 12)  # +-20 cents


def test_frames_to_notes_vibrato_glitch_gap():
    a = _vibrato_note(69, 50, 0)
    a[20] *= 2  # one-frame octave glitch
    a[30] = 0.0  # one-frame dropout, bridged
    b = _vibrato_note(72, 50, 50)  # legato: no gap before it
    b[10:13] *= 2 ** (1 / 12)  # 30 ms slide up a semitone: too short for a note, merged
    gap = np.zeros(20)
    c = _vibrato_note(76, 30, 120)
    blip = np.concatenate([np.zeros(10), np.full(4, 880.0), np.zeros(6)])  # 40 ms: shorter than a note
    f0 = np.concatenate([a, b, gap, c, blip])
    notes = M.frames_to_notes(f0, FR)
    assert len(notes) == 3
    np.testing.assert_allclose(notes.pitch, [69, 72, 76], atol=0.05)
    np.testing.assert_allclose(notes.onset, [0.0, 0.5, 1.2])
    np.testing.assert_allclose(notes.duration, [0.5, 0.5, 0.3])
    voiced = np.arange(len(f0)) < 100  # masking the third note drops it
    assert len(M.frames_to_notes(f0, FR, voiced=voiced)) == 2
    assert len(M.frames_to_notes(np.zeros(50), FR)) == len(M.frames_to_notes(np.zeros(0), FR)) == 0


def _harmonic_tone(sr, segments, tail_s=0.25):
    parts = []
    for f0, seconds in segments:
        t = np.arange(int(seconds * sr)) / sr
        parts.append(0.5 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5)))
    return np.concatenate(parts + [np.zeros(int(tail_s * sr))]).astype(np.float32)


@pytest.mark.parametrize("sr", [16000, 44100])
def test_transcribe_harmonic_tone(sr):
    pytest.importorskip("torchcrepe")
    audio = _harmonic_tone(sr, [(220.0, 1.5), (330.0, 1.5)])  # A3 = MIDI 57, E4 = MIDI 64 (+2 cents)
    f0, periodicity, frame_rate = M.transcribe(audio, sr)  # about 1.5 s each on a 2-core CPU
    assert frame_rate == 100.0 and len(f0) == len(periodicity) == 1 + 3.25 * 16000 // 160
    assert M.in_tune_rate(f0) >= 0.9
    assert (f0[-15:] == 0).all() and (periodicity[-15:] == 0).all()  # silent tail gated
    notes = M.frames_to_notes(f0, frame_rate)
    assert np.rint(notes.pitch).tolist() == [57, 64]
    np.testing.assert_allclose(notes.duration, [1.5, 1.5], atol=0.05)


def test_seam_ratio_by_hand():
    assert M.seam_ratio(np.ones(100), 10.0, [5.0]) == 1.0
    v = np.ones(100)
    v[50] = 11.0
    assert M.seam_ratio(v, 10.0, [5.0], window_s=0.1) == pytest.approx(13 / 3)  # frames 49-51 vs the rest
    assert math.isnan(M.seam_ratio(v, 10.0, []))


def test_seam_ratio_on_spectral_flux():
    sr = 16000
    noise = np.random.default_rng(0).standard_normal(4 * sr) * 0.1
    flux = M.spectral_flux(noise, sr)
    assert flux.shape == (1 + len(noise) // 160,) and flux[0] == 0.0
    assert M.seam_ratio(flux, 100.0, [2.0]) == pytest.approx(1.0, abs=0.05)  # stationary
    jump = np.concatenate([_harmonic_tone(sr, [(220.0, 2.0)], 0), _harmonic_tone(sr, [(466.2, 2.0)], 0)])
    assert M.seam_ratio(M.spectral_flux(jump, sr), 100.0, [2.0]) > 2.0


TRAIN = [[60, 62, 64, 62, 60]] * 5  # 60 -> 62, 62 -> 64 or 60 (1/2 each), 64 -> 62


def test_markov1_reproduces_transitions():
    melodies = M.markov1_melodies(TRAIN, n=50, length=40, seed=0)
    assert len(melodies) == 50 and all(len(m) == 40 and m[0] == 60 for m in melodies)
    pairs = np.concatenate([np.stack([m[:-1], m[1:]], 1) for m in melodies])
    assert {tuple(p) for p in pairs.tolist()} == {(60, 62), (62, 64), (64, 62), (62, 60)}
    from_62 = pairs[pairs[:, 0] == 62, 1]
    assert np.mean(from_62 == 64) == pytest.approx(0.5, abs=0.05)
    again = M.markov1_melodies(TRAIN, n=50, length=40, seed=0)
    other = M.markov1_melodies(TRAIN, n=50, length=40, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(melodies, again))
    assert not all(np.array_equal(x, y) for x, y in zip(melodies, other))
    # a pitch never followed by anything (67) restarts from the pitch histogram: 60 with 3/4, 67 with 1/4
    melodies = M.markov1_melodies([[60, 60, 60, 67]], n=300, length=10, seed=0)
    after_67 = np.concatenate([m[1:][m[:-1] == 67] for m in melodies])
    assert len(after_67) > 200 and np.mean(after_67 == 60) == pytest.approx(0.75, abs=0.06)


def test_iid_and_uniform_baselines():
    train = [[60, 60, 60, 67], [72]]
    iid = np.concatenate(M.iid_melodies(train, n=200, length=10, seed=0))
    assert set(iid.tolist()) == {60, 67, 72} and np.mean(iid == 60) == pytest.approx(0.6, abs=0.05)
    uniform = M.uniform_melodies(train, n=2, length=[3, 500], seed=0)
    assert [len(m) for m in uniform] == [3, 500] and set(uniform[1].tolist()) == set(range(60, 73))
    assert np.array_equal(M.iid_melodies(train, 3, 8, seed=4)[2], M.iid_melodies(train, 3, 8, seed=4)[2])


def _essen_tunes(files=("han1.abc", "han2.abc", "kinder0.abc"), every=7):
    """Every 7th tune (207) of the three Essen files the anchors were measured on (1,437 tunes in all)."""
    corpus = pytest.importorskip("music21.corpus")
    paths = {p.name: p for p in corpus.getComposer("essenFolksong")}
    tunes = []
    for name in files:
        numbers = re.findall(r"^X:\s*(\d+)", paths[name].read_text(encoding="latin-1"), flags=re.M)
        for x in numbers[::every]:
            score = corpus.parse(paths[name], number=int(x)).stripTies()
            tunes.append(np.array([n.pitch.midi for n in score.flatten().notes if not n.isChord]))
    return tunes


@pytest.mark.slow
def test_essen_anchors():
    """Per-tune metrics averaged over tunes; baselines fitted on the same tunes, one melody per tune with the
    tune's length. Anchors (all 1,437 tunes of han1, han2, kinder0): corpus 0.998 / 2.22 bits / 0.57,
    Markov-1 0.88 / 3.03, i.i.d. 0.87 / 3.09 / 0.28, uniform 0.69 / 3.41 / 0.14. About 15 s (parsing).
    Baseline tolerances cover the spread over the 7 possible every-7th subsets x 3 seeds (baselines fitted on
    207 tunes): consistency +-0.035, entropy +-0.08, step ratio +-0.025."""
    tunes = _essen_tunes()
    assert len(tunes) == 207
    lengths = [len(t) for t in tunes]

    def averages(melodies):
        return [
            float(np.nanmean([f(m) for m in melodies]))
            for f in (lambda m: M.scale_consistency(m)[0], M.pitch_class_entropy, M.step_ratio)
        ]

    consistency, entropy, steps = averages(tunes)
    assert consistency >= 0.97 and entropy == pytest.approx(2.22, abs=0.3) and steps == pytest.approx(0.57, abs=0.08)
    consistency, entropy, steps = averages(M.markov1_melodies(tunes, len(tunes), lengths, seed=0))
    assert consistency == pytest.approx(0.88, abs=0.05) and entropy == pytest.approx(3.03, abs=0.15)
    assert steps == pytest.approx(0.57, abs=0.08)  # a Markov-1 chain keeps the interval statistics
    consistency, entropy, steps = averages(M.iid_melodies(tunes, len(tunes), lengths, seed=0))
    assert consistency == pytest.approx(0.87, abs=0.05) and entropy == pytest.approx(3.09, abs=0.15)
    assert steps == pytest.approx(0.28, abs=0.03)
    consistency, entropy, steps = averages(M.uniform_melodies(tunes, len(tunes), lengths, seed=0))
    assert consistency == pytest.approx(0.69, abs=0.05) and entropy == pytest.approx(3.41, abs=0.15)
    assert steps == pytest.approx(0.14, abs=0.03)
