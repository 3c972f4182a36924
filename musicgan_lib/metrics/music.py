"""Music-level metrics for generated songs (chapter 8).

The GAN writes a melody as per-frame encodings (f0, loudness, z) that a synthesizer turns into audio.
Frame metrics cannot say whether that is a *tune*, so we also measure notes: a pitch tracker
(`transcribe`) turns audio into an f0 track, `frames_to_notes` turns the track into a `NoteSeq`, and
the note metrics compare it with folk tunes and with simple baselines (Markov-1, i.i.d., uniform).

Conventions: pitches are MIDI numbers (A4 = 69 = 440 Hz, equal temperament); f0 tracks are numpy arrays
[frames] in Hz where 0 or NaN means unvoiced; note metrics round pitches to the nearest semitone.

Corpus and baseline numbers are per-tune values averaged over tunes (baselines: one melody per corpus tune,
of the same length). On the 1,437 Essen tunes of han1, han2 and kinder0 (music21 corpus) that gives
scale consistency / pitch-class entropy / step ratio of 0.998 / 2.22 bits / 0.57 for the tunes,
0.88 / 3.03 / 0.56 for Markov-1, 0.87 / 3.09 / 0.28 for i.i.d. and 0.68 / 3.40 / 0.14 for uniform.
Pooling all notes first mixes keys and gives other numbers (tunes: 0.85 / 3.26 bits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
# 12 log-spaced note-length bins from 50 ms to 4 s; shorter/longer notes are counted in the end bins.
DURATION_BIN_EDGES = np.geomspace(0.05, 4.0, 13)


@dataclass
class NoteSeq:
    """A melody: `pitch` (MIDI, float for transcriptions), `onset` and `duration` (seconds), all [notes]."""

    pitch: np.ndarray
    onset: np.ndarray
    duration: np.ndarray

    def __len__(self) -> int:
        return len(self.pitch)


def hz_to_midi(f0_hz: np.ndarray) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.asarray(f0_hz, dtype=float) / 440.0)


def _voiced_mask(f0_hz: np.ndarray, voiced: np.ndarray | None = None) -> np.ndarray:
    f0 = np.asarray(f0_hz, dtype=float)
    mask = np.isfinite(f0) & (f0 > 0)
    return mask if voiced is None else mask & np.asarray(voiced, dtype=bool)


def _semitones(pitches) -> np.ndarray:
    return np.rint(np.asarray(pitches, dtype=float)).astype(int)


def in_tune_rate(f0_hz: np.ndarray, voiced: np.ndarray | None = None, tolerance_cents: float = 25.0) -> float:
    """Share of voiced frames within `tolerance_cents` of an equal-tempered semitone; NaN if none is voiced.

    f0_hz, voiced: [frames]. A synthesizer fed a sloppy f0 plays "between the keys"; this catches it
    even when the rounded notes look fine.
    """
    midi = hz_to_midi(np.asarray(f0_hz, dtype=float)[_voiced_mask(f0_hz, voiced)])
    if midi.size == 0:
        return float("nan")
    return float(np.mean(100.0 * np.abs(midi - np.rint(midi)) <= tolerance_cents))


def scale_consistency(pitches, weights=None) -> tuple[float, str | None]:
    """Largest share of notes that fits one major/natural-minor key, and that key's name.

    pitches, weights: [notes]; weights (e.g. durations) default to 1 per note. A natural minor uses the
    same 7 pitch classes as its relative major, so the 24 keys are only 12 sets: we score the 12 sets
    (ties between sets go to the lowest tonic, C first) and name the winner "A minor" rather than
    "C major" only when the minor tonic carries more weight than the major tonic. Returns (NaN, None)
    for an empty melody.
    """
    pc = _semitones(pitches) % 12
    w = np.ones(len(pc)) if weights is None else np.asarray(weights, dtype=float)
    if pc.size == 0 or w.sum() <= 0:
        return float("nan"), None
    pc_weight = np.bincount(pc, weights=w, minlength=12)
    fits = [pc_weight[(tonic + np.array(MAJOR_STEPS)) % 12].sum() for tonic in range(12)]
    tonic = int(np.argmax(fits))
    minor = (tonic + 9) % 12
    name = f"{NOTE_NAMES[minor]} minor" if pc_weight[minor] > pc_weight[tonic] else f"{NOTE_NAMES[tonic]} major"
    return float(fits[tonic] / w.sum()), name


def pitch_class_histogram(pitches) -> np.ndarray:
    """Note counts per pitch class C..B, [12]."""
    return np.bincount(_semitones(pitches) % 12, minlength=12).astype(float)


def duration_histogram(durations_s, bins: np.ndarray = DURATION_BIN_EDGES) -> np.ndarray:
    """Note counts per note-length bin, [len(bins) - 1]; lengths outside the edges land in the end bins."""
    return np.histogram(np.clip(np.asarray(durations_s, dtype=float), bins[0], bins[-1]), bins)[0].astype(float)


def _entropy_bits(p: np.ndarray) -> float:
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum())


def pitch_class_entropy(pitches) -> float:
    """Entropy in bits of the pitch-class histogram (notes counted): log2(7) for a diatonic scale, log2(12) for
    a chromatic one. Tunes stay in a key and favour a few degrees, so they score low; NaN if empty."""
    hist = pitch_class_histogram(pitches)
    return _entropy_bits(hist) if hist.sum() > 0 else float("nan")


def step_ratio(pitches) -> float:
    """Share of consecutive-note intervals of at most 2 semitones (repeats count); NaN for < 2 notes.

    Sung melodies move mostly by step, random ones by leap."""
    semis = _semitones(pitches)
    return float(np.mean(np.abs(np.diff(semis)) <= 2)) if semis.size >= 2 else float("nan")


def js_distance(p, q) -> float:
    """Jensen-Shannon distance (sqrt of the base-2 divergence, in [0, 1]) between two histograms.

    Both are normalised here; empty bins are fine (0 log 0 = 0). NaN if either histogram is empty."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a):
        keep = a > 0
        return (a[keep] * np.log2(a[keep] / m[keep])).sum()

    return float(np.sqrt(np.clip((kl(p) + kl(q)) / 2, 0.0, 1.0)))


def _runs(labels: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of runs of equal values."""
    if len(labels) == 0:
        return []
    cuts = np.flatnonzero(np.diff(labels) != 0) + 1
    edges = np.concatenate([[0], cuts, [len(labels)]])
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def frames_to_notes(
    f0_hz: np.ndarray,
    frame_rate: float,
    voiced: np.ndarray | None = None,
    min_note_s: float = 0.06,
    max_gap_frames: int = 2,
) -> NoteSeq:
    """Group an f0 track [frames] into notes. Frame i spans [i, i+1) / frame_rate seconds.

    Rules, in order:
    1. Segments: runs of voiced frames; unvoiced gaps of <= `max_gap_frames` (tracker dropouts) are bridged,
       longer gaps end the note. Segments shorter than `min_note_s` are dropped.
    2. Each frame gets its rounded MIDI pitch (bridged frames: the last voiced one); vibrato within +-50 cents
       never changes it. A new note starts where it changes, but pieces shorter than `min_note_s` (octave
       glitches, slides, vibrato flicker across a semitone edge) are given to the previous note (the next one
       for a segment's first piece) until every piece is long enough.
    3. A note's pitch is the median MIDI (float) of its voiced frames, so a stray glitch frame barely moves it.
    """
    f0 = np.asarray(f0_hz, dtype=float)
    mask = _voiced_mask(f0, voiced)
    min_frames = max(1, int(round(min_note_s * frame_rate)))
    midi = np.where(mask, hz_to_midi(np.where(mask, f0, 1.0)), np.nan)
    segments = [(s, e) for s, e in _runs(mask) if mask[s]]
    merged: list[list[int]] = []
    for s, e in segments:
        if merged and s - merged[-1][1] <= max_gap_frames:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    pitch, onset, duration = [], [], []
    for s, e in merged:
        if e - s < min_frames:
            continue
        seg = midi[s:e]
        last_voiced = np.maximum.accumulate(np.where(np.isnan(seg), 0, np.arange(len(seg))))
        labels = np.rint(seg[last_voiced])
        while True:
            pieces = _runs(labels)
            short = [k for k, (a, b) in enumerate(pieces) if b - a < min_frames]
            if not short or len(pieces) == 1:
                break
            k = short[0]
            a, b = pieces[k]
            labels[a:b] = labels[pieces[k - 1][0]] if k > 0 else labels[pieces[k + 1][0]]
        for a, b in _runs(labels):
            pitch.append(float(np.nanmedian(seg[a:b])))
            onset.append((s + a) / frame_rate)
            duration.append((b - a) / frame_rate)
    return NoteSeq(np.array(pitch), np.array(onset), np.array(duration))


def _local_average_decoder(logits):
    """CREPE's weighted argmax (sigmoid-weighted mean of the 9 bins around the peak), vectorised."""
    import torch
    import torchcrepe

    bins = logits.argmax(dim=1)
    idx = torch.arange(logits.size(1), device=logits.device)[None, :, None]
    window = (idx >= bins[:, None] - 4) & (idx <= bins[:, None] + 4)
    probs = torch.sigmoid(logits) * window
    cents = torchcrepe.CENTS_PER_BIN * idx + 1997.3794084376191  # torchcrepe's bin-to-cents map, without dither
    return bins, torchcrepe.convert.cents_to_frequency((probs * cents).sum(1) / probs.sum(1))


def transcribe(
    audio,
    sr: int,
    hop_s: float = 0.01,
    model: str = "tiny",
    device: str = "cpu",
    batch_size: int = 1024,
    periodicity_threshold: float = 0.5,
    silence_db: float = -50.0,
    below_peak_db: float = 40.0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Pitch-track mono `audio` [samples] with CREPE (torchcrepe); returns (f0_hz, periodicity, frame_rate).

    f0_hz and periodicity are [1 + samples_16k // hop] with frame i centred at i / frame_rate seconds;
    f0_hz is 0 where unvoiced: periodicity < `periodicity_threshold`, or frame RMS (1024-sample window)
    below `silence_db` dBFS or more than `below_peak_db` under the loudest frame (CREPE guesses a
    pitch for silence too). Silent frames also get periodicity 0.
    Audio is resampled to CREPE's 16 kHz with torchaudio. The weights ship in the torchcrepe wheel
    (torchcrepe/assets/tiny.pth, full.pth): nothing is downloaded.
    Decoder: weighted argmax, not torchcrepe's default viterbi, whose output is a 20-cent bin centre plus
    random +-20 cent dither; that is not reproducible and would blur `in_tune_rate` at 25 cents. The
    brief octave slips viterbi smooths are left to the minimum note length in `frames_to_notes`.
    Speed (tiny, batch 1024, 2-core CPU, measured): about 3.3 s for 10 s of audio at 16 or 44.1 kHz
    (batch 128: 6 s); device="cuda" runs the network on a GPU.
    """
    import torch
    import torchaudio
    import torchcrepe

    x = torch.as_tensor(np.asarray(audio, dtype=np.float32)).reshape(1, -1)
    if sr != torchcrepe.SAMPLE_RATE:
        x = torchaudio.functional.resample(x, sr, torchcrepe.SAMPLE_RATE)
    hop = max(1, int(round(hop_s * torchcrepe.SAMPLE_RATE)))
    f0, periodicity = torchcrepe.predict(
        x,
        torchcrepe.SAMPLE_RATE,
        hop,
        fmin=50.0,
        fmax=1500.0,
        model=model,
        decoder=_local_average_decoder,
        return_periodicity=True,
        batch_size=batch_size,
        device=device,
    )
    f0, periodicity = f0[0].cpu().numpy().astype(float), periodicity[0].cpu().numpy().astype(float)
    win = torchcrepe.WINDOW_SIZE
    padded = np.pad(x[0].numpy().astype(float), win // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][: len(f0)]
    rms_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    silent = (rms_db < silence_db) | (rms_db < rms_db.max() - below_peak_db)
    periodicity[silent] = 0.0
    f0[periodicity < periodicity_threshold] = 0.0
    return f0, periodicity, torchcrepe.SAMPLE_RATE / hop


def melody_metrics(notes: NoteSeq, f0_hz: np.ndarray | None = None) -> dict:
    """Per-melody numbers (notes counted, not weighted by length); `in_tune_rate` only when f0_hz is given."""
    consistency, key = scale_consistency(notes.pitch)
    out = {
        "scale_consistency": consistency,
        "key": key,
        "pitch_class_entropy": pitch_class_entropy(notes.pitch),
        "step_ratio": step_ratio(notes.pitch),
        "n_notes": len(notes),
    }
    if f0_hz is not None:
        out["in_tune_rate"] = in_tune_rate(f0_hz)
    return out


def distribution_distances(notes_a: Sequence[NoteSeq], notes_b: Sequence[NoteSeq]) -> dict:
    """JS distances between two sets of melodies, histograms pooled over each set: pitch classes (`pc_js`) and
    note lengths (`onset_rate_js`, i.e. how fast notes come)."""

    def pooled(hist, field, seqs):
        return sum((hist(getattr(n, field)) for n in seqs), start=hist([]))

    return {
        "pc_js": js_distance(
            pooled(pitch_class_histogram, "pitch", notes_a), pooled(pitch_class_histogram, "pitch", notes_b)
        ),
        "onset_rate_js": js_distance(
            pooled(duration_histogram, "duration", notes_a), pooled(duration_histogram, "duration", notes_b)
        ),
    }


def spectral_flux(audio, sr: int, hop_s: float = 0.01, n_fft: int = 1024, range_db: float = 60.0) -> np.ndarray:
    """Spectral flux [1 + samples // hop]: mean over bins of the rise in log-magnitude since the previous frame.

    Frames are centred at i * hop (same grid as `transcribe`; frame 0 is 0). Magnitudes are floored
    `range_db` under the clip's peak so that near-silent bins (noise) do not dominate the average."""
    x = np.asarray(audio, dtype=float).reshape(-1)
    hop = max(1, int(round(hop_s * sr)))
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, n_fft // 2, mode="reflect"), n_fft)[::hop]
    mag = np.abs(np.fft.rfft(frames[: 1 + len(x) // hop] * np.hanning(n_fft), axis=1))
    log_mag = np.log(mag + mag.max() * 10 ** (-range_db / 20) + 1e-12)
    return np.concatenate([[0.0], np.clip(np.diff(log_mag, axis=0), 0, None).mean(axis=1)])


def seam_ratio(
    values_per_frame: np.ndarray, frame_rate: float, joins_s: Sequence[float], window_s: float = 0.5
) -> float:
    """Mean of a per-frame statistic [frames] within +-window_s of the joins / its mean elsewhere (1.0 = no seam).

    Songs are stitched from generated segments; an audible seam shows up as a burst of spectral flux or
    pitch change at the joins. A one-frame click is diluted by the window (1 frame of 2 * window_s * frame_rate),
    so keep the window near the crossfade length. NaN when either side has no frames or the far side averages 0."""
    v = np.asarray(values_per_frame, dtype=float)
    t = np.arange(len(v)) / frame_rate
    near = (np.abs(t[:, None] - np.asarray(joins_s, dtype=float)[None, :]) <= window_s).any(axis=1)
    if near.all() or not near.any() or v[~near].mean() == 0:
        return float("nan")
    return float(v[near].mean() / v[~near].mean())


def _lengths(n: int, length) -> list[int]:
    return [int(length)] * n if np.ndim(length) == 0 else [int(k) for k in length]


def markov1_melodies(train_pitch_sequences, n: int, length, seed: int = 0) -> list[np.ndarray]:
    """First-order Markov chain over MIDI pitches fitted on the training sequences; `n` int melodies.

    `length` is an int or one length per melody (e.g. the corpus tune lengths). The first note is drawn
    from the training first notes; a pitch never followed by anything restarts from the pooled pitch
    histogram. Deterministic per `seed` (numpy Generator)."""
    states = np.unique(np.concatenate([_semitones(s) for s in train_pitch_sequences]))
    index = {p: i for i, p in enumerate(states.tolist())}
    counts = np.zeros((len(states), len(states)))
    starts, unigram = np.zeros(len(states)), np.zeros(len(states))
    for seq in train_pitch_sequences:
        ids = np.array([index[p] for p in _semitones(seq).tolist()], dtype=int)
        if ids.size:
            starts[ids[0]] += 1
        np.add.at(counts, (ids[:-1], ids[1:]), 1)
        np.add.at(unigram, ids, 1)
    dead = counts.sum(1) == 0
    counts[dead] = unigram
    trans = counts / counts.sum(1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = []
    for k in _lengths(n, length):
        ids = [rng.choice(len(states), p=starts / starts.sum())] if k > 0 else []
        while len(ids) < k:
            ids.append(rng.choice(len(states), p=trans[ids[-1]]))
        out.append(states[np.array(ids, dtype=int)])
    return out


def iid_melodies(train_pitch_sequences, n: int, length, seed: int = 0) -> list[np.ndarray]:
    """Pitches drawn independently from the pooled corpus pitch histogram (no melodic memory)."""
    values, counts = np.unique(np.concatenate([_semitones(s) for s in train_pitch_sequences]), return_counts=True)
    rng = np.random.default_rng(seed)
    return [rng.choice(values, size=k, p=counts / counts.sum()) for k in _lengths(n, length)]


def uniform_melodies(train_pitch_sequences, n: int, length, seed: int = 0) -> list[np.ndarray]:
    """Pitches drawn uniformly from the corpus range [lowest, highest] (no key, no memory)."""
    pitches = np.concatenate([_semitones(s) for s in train_pitch_sequences])
    rng = np.random.default_rng(seed)
    return [rng.integers(pitches.min(), pitches.max() + 1, size=k) for k in _lengths(n, length)]
