"""Real melodies for chapter 8: folk tunes from the music21 corpus, played by SoundFont instruments.

The music21 package ships a corpus of real tunes inside its wheel (nothing downloads): about
8,500 Essen folk songs, 2,000 from O'Neill's 1850 collection and 1,000 from Ryan's Mammoth
Collection, in ABC. A tune becomes a `Melody`: MIDI pitches with onsets and lengths in
beats (ties joined, rests left as gaps, chords reduced to their top note). Parsing runs at
about 20 tunes/s here, so `load_melodies` caches the parsed notes in one .npz file.

`render_melody` plays a melody through a General MIDI SoundFont with fluidsynth (the same
renderer as chapter 6's notes) at a tempo and transposition of your choice, and keeps the
score beside the audio: the score's f0 per frame and where each note starts, for
supervising the autoencoder and for measuring it.

The train / held-out split is by tune *content* (the sequence of intervals and lengths), so
a tune that the corpus holds twice, or in two keys, never lands on both sides.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import require_int, require_number
from .soundfont import check_soundfont, find_soundfont, fluidsynth_path, render_midi_file

COLLECTIONS = {  # short name -> music21 corpus folder (licence terms differ: see the corpus's license.txt)
    "essen": "essenFolksong",
    "oneill": "oneills1850",
    "ryan": "ryansMammoth",
}
_FORMAT = 1  # bump when parsing changes, to invalidate caches

# GM programs that play melodies well, from different families, with the range (MIDI) each
# really plays: a transposition is drawn so the whole tune fits inside it.
INSTRUMENTS = {
    "piano": (0, 48, 96),
    "vibraphone": (11, 53, 89),
    "nylon guitar": (24, 40, 84),
    "violin": (40, 55, 100),
    "cello": (42, 36, 76),
    "trumpet": (56, 55, 82),
    "alto sax": (65, 49, 80),
    "clarinet": (71, 50, 89),
    "flute": (73, 60, 96),
    "organ": (19, 36, 96),
}


@dataclass(frozen=True, eq=False)  # arrays: compare tunes by content_key(), not ==
class Melody:
    """One tune. pitch [N] MIDI (int16), onset [N] and duration [N] in beats (quarter notes)."""

    pitch: np.ndarray
    onset: np.ndarray
    duration: np.ndarray
    title: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not (len(self.pitch) == len(self.onset) == len(self.duration)):
            raise ValueError(
                f"pitch, onset and duration must have one value per note, got lengths "
                f"{len(self.pitch)}, {len(self.onset)}, {len(self.duration)}"
            )

    def __len__(self) -> int:
        return len(self.pitch)

    @property
    def beats(self) -> float:
        """Length in beats, up to the end of the last note."""
        return float((self.onset + self.duration).max()) if len(self) else 0.0

    def content_key(self) -> str:
        """The same for the same tune in any key: intervals and note lengths, hashed."""
        steps = np.diff(self.pitch.astype(np.int64)).tobytes() + np.round(self.duration * 48).astype(np.int64).tobytes()
        return hashlib.sha1(steps).hexdigest()


def melody_from_score(score, title: str = "", source: str = "") -> Melody | None:
    """A music21 score's melody: ties joined, top note of chords, grace notes dropped; None if empty."""
    notes = []
    for n in score.stripTies().flatten().notes:
        length = float(n.quarterLength)
        if length <= 0:
            continue  # a grace note
        midi = max(p.midi for p in n.pitches)  # a chord's top note carries the tune
        notes.append((midi, float(n.offset), length))
    if len(notes) < 2:
        return None
    pitch, onset, duration = (np.array(x) for x in zip(*notes))
    return Melody(pitch.astype(np.int16), onset.astype(np.float32), duration.astype(np.float32), title, source)


def parse_corpus(collection: str = "essen", max_tunes: int | None = None, progress: bool = True) -> list[Melody]:
    """Parse tunes of a corpus collection (in the corpus's own file and tune order)."""
    from music21 import corpus
    from tqdm.auto import tqdm

    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}; choose one of {', '.join(COLLECTIONS)}")
    if max_tunes is not None:
        require_int("max_tunes", max_tunes)
    paths = corpus.getComposer(COLLECTIONS[collection])
    melodies: list[Melody] = []
    bar = tqdm(total=max_tunes, desc=f"parsing {collection}", unit="tune", disable=not progress)
    for path in paths:
        parsed = corpus.parse(path)
        scores = parsed.scores if hasattr(parsed, "scores") else [parsed]
        for i, score in enumerate(scores):
            title = (score.metadata.title or "") if score.metadata else ""
            melody = melody_from_score(score, title, f"{Path(path).name}#{i}")
            if melody is not None:
                melodies.append(melody)
                bar.update(1)
            if max_tunes is not None and len(melodies) >= max_tunes:
                bar.close()
                return melodies
    bar.close()
    return melodies


def save_melodies(path: str | Path, melodies: list[Melody], **meta: str) -> Path:
    """All melodies in one compressed .npz (flat arrays plus each tune's note count)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(
        tmp,
        counts=np.array([len(m) for m in melodies], dtype=np.int32),
        pitch=np.concatenate([m.pitch for m in melodies]),
        onset=np.concatenate([m.onset for m in melodies]),
        duration=np.concatenate([m.duration for m in melodies]),
        titles=np.array([m.title for m in melodies]),
        sources=np.array([m.source for m in melodies]),
        meta=np.array([f"{k}={v}" for k, v in sorted(meta.items())]),
    )
    tmp.replace(path)
    return path


def read_melodies(path: str | Path) -> tuple[list[Melody], dict[str, str]]:
    """The melodies and metadata written by `save_melodies`."""
    try:
        with np.load(path, allow_pickle=False) as f:
            counts, pitch, onset, duration = f["counts"], f["pitch"], f["onset"], f["duration"]
            titles, sources, meta = f["titles"], f["sources"], f["meta"]
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a melody file written by save_melodies ({exc}); delete it to parse again"
        ) from exc
    if int(counts.sum()) != len(pitch) or not np.isfinite(onset).all() or not np.isfinite(duration).all():
        raise ValueError(f"{path} is damaged (note counts or values do not add up); delete it to parse again")
    ends = np.cumsum(counts)
    melodies = [
        Melody(pitch[e - c : e], onset[e - c : e], duration[e - c : e], str(t), str(s))
        for c, e, t, s in zip(counts, ends, titles, sources)
    ]
    return melodies, dict(str(x).split("=", 1) for x in meta)


def load_melodies(
    collection: str = "essen", max_tunes: int | None = None, cache_dir: str | Path | None = None, progress: bool = True
) -> list[Melody]:
    """Parsed melodies of a collection, from the cache in `cache_dir` when it has them."""
    import music21

    if cache_dir is None:
        return parse_corpus(collection, max_tunes, progress)
    key = f"{collection}_{max_tunes or 'all'}_m21-{music21.__version__}_f{_FORMAT}"
    cache = Path(cache_dir) / f"melodies_{key}.npz"
    if cache.exists():
        try:
            return read_melodies(cache)[0]
        except ValueError as exc:
            import warnings

            warnings.warn(f"parsing again: {exc}")
    melodies = parse_corpus(collection, max_tunes, progress)
    save_melodies(cache, melodies, collection=collection, music21=music21.__version__)
    return melodies


def split_by_tune(melodies: list[Melody], held_out: float = 0.1, seed: int = 0) -> tuple[list[Melody], list[Melody]]:
    """(train, held_out), disjoint by tune content; the same melodies and seed give the same split."""
    require_number("held_out", held_out, low=0, high=1, low_open=True, high_open=True)
    train, test = [], []
    for m in melodies:
        h = int(hashlib.sha1(f"{seed}:{m.content_key()}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (test if h < held_out else train).append(m)
    return train, test


# ----------------------------------------------------------------------------- rendering
@dataclass
class RenderedMelody:
    """A melody played by one instrument, with its score per frame.

    audio [S] float32 at `sr`; score_f0_hz [F] the sounding note's equal-tempered f0 (0 in
    rests), onsets [F] True where a note starts; F = S // hop, frame i covers samples
    [i * hop, (i + 1) * hop). `notes` are the played notes in seconds (pitch after transposition).
    """

    audio: np.ndarray
    sr: int
    frame_rate: int
    score_f0_hz: np.ndarray
    onsets: np.ndarray
    pitch: np.ndarray
    onset_s: np.ndarray
    duration_s: np.ndarray
    instrument: str
    tempo_bpm: float
    transpose: int


def fitting_transpositions(melody: Melody, instrument: str, max_shift: int = 12) -> list[int]:
    """Shifts in semitones (|shift| <= max_shift) that keep every note inside the instrument's range."""
    _, low, high = INSTRUMENTS[instrument]
    lo, hi = int(melody.pitch.min()), int(melody.pitch.max())
    return [s for s in range(-max_shift, max_shift + 1) if lo + s >= low and hi + s <= high]


def _write_midi(
    path: Path, pitch: np.ndarray, onset_s: np.ndarray, duration_s: np.ndarray, program: int, velocity: int
) -> None:
    import mido

    ticks_per_s = 960  # tempo 500,000 us per beat at 480 ticks per beat
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=program, channel=0, time=0))
    events = []
    for p, on, dur in zip(pitch, onset_s, duration_s):
        events.append((round(on * ticks_per_s), 1, int(p)))
        events.append((round((on + dur) * ticks_per_s), 0, int(p)))  # offs sort before ons at the same tick
    now = 0
    for tick, is_on, p in sorted(events):
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=p, velocity=velocity if is_on else 0, channel=0, time=tick - now))
        now = tick
    mid.save(path)


SYNTHETIC_WARNING = (
    "no SoundFont or fluidsynth installed: the tune is played by a SYNTHETIC instrument (a sum of "
    "harmonics with an envelope), not a real one. Run scripts/install-system-deps.sh as root, or pass "
    "soundfont='path/to/font.sf2', for real instruments."
)


def synthetic_performance(pitch: np.ndarray, onset_s: np.ndarray, duration_s: np.ndarray, sr: int) -> np.ndarray:
    """The fallback without a SoundFont: each note [N] a sum of 8 harmonics (amplitude 1/k, none above
    Nyquist) under a 10-ms attack, a slight decay and a 150-ms release; audio [samples] float32."""
    release = 0.15
    out = np.zeros(int((float((onset_s + duration_s).max()) + release) * sr) + 1, dtype=np.float64)
    k = np.arange(1, 9)
    for p, on, d in zip(pitch, onset_s, duration_s):
        f0 = 440.0 * 2 ** ((float(p) - 69) / 12)
        t = np.arange(int((d + release) * sr)) / sr
        partials = (k * f0 < sr / 2) / k
        tone = np.sin(2 * np.pi * f0 * np.outer(t, k)) @ partials
        env = np.minimum(t / 0.01, 1.0) * (0.8 + 0.2 * np.exp(-t / 0.3)) * np.clip((d + release - t) / release, 0, 1)
        start = int(on * sr)
        out[start : start + len(t)] += 0.1 * tone * env
    return out.astype(np.float32)


def render_melody(
    melody: Melody,
    instrument: str = "flute",
    tempo_bpm: float = 110.0,
    transpose: int = 0,
    *,
    sr: int = 16000,
    frame_rate: int = 50,
    velocity: int = 90,
    legato: float = 0.92,
    release_s: float = 0.5,
    soundfont: str | Path | None = None,
    gain: float = 0.6,
) -> RenderedMelody:
    """Play `melody` with a General MIDI instrument through fluidsynth, keeping the score per frame.

    Returns audio [S] at `sr` and the score per frame, score_f0_hz [F] and onsets [F] (F = S // hop).

    Each note sounds for `legato` of its written length (so repeated notes are heard as two),
    and `release_s` of audio follows the last note for its release. Without a SoundFont or
    fluidsynth the tune is played by `synthetic_performance` instead, with a warning that says so.
    """
    if instrument not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {instrument!r}; choose one of {', '.join(INSTRUMENTS)}")
    tempo_bpm = require_number("tempo_bpm", tempo_bpm, low=20, high=400)
    sr, frame_rate = require_int("sr", sr, 8000), require_int("frame_rate", frame_rate)
    if sr % frame_rate:
        raise ValueError(f"sr ({sr}) must be a multiple of frame_rate ({frame_rate})")
    program, low, high = INSTRUMENTS[instrument]
    pitch = melody.pitch.astype(np.int64) + int(transpose)
    if pitch.min() < low or pitch.max() > high:
        raise ValueError(
            f"transposed by {transpose}, the tune spans MIDI {pitch.min()}..{pitch.max()}, outside the "
            f"{instrument}'s {low}..{high}; pick one of fitting_transpositions(melody, {instrument!r})"
        )
    font = check_soundfont(soundfont) if soundfont is not None else find_soundfont()
    beat_s = 60.0 / tempo_bpm
    onset_s, duration_s = melody.onset * beat_s, melody.duration * beat_s
    if font is None or fluidsynth_path() is None:
        warnings.warn(SYNTHETIC_WARNING, stacklevel=2)
        audio = synthetic_performance(pitch, onset_s, duration_s * legato, sr)
    else:
        with tempfile.TemporaryDirectory(prefix="musicgan-melody-") as tmp:
            midi, wav = Path(tmp) / "tune.mid", Path(tmp) / "tune.wav"
            _write_midi(midi, pitch, onset_s, duration_s * legato, program, velocity)
            render_midi_file(font, midi, wav, sr, gain)
            import soundfile as sf

            audio = sf.read(wav, dtype="float32", always_2d=True)[0].mean(axis=1)
    hop = sr // frame_rate
    n_frames = int(np.ceil((float((onset_s + duration_s).max()) + release_s) * frame_rate))
    audio = np.pad(audio, (0, max(0, n_frames * hop - len(audio))))[: n_frames * hop]
    t = (np.arange(n_frames) + 0.5) / frame_rate  # frame centres
    f0 = np.zeros(n_frames, dtype=np.float32)
    onsets = np.zeros(n_frames, dtype=bool)
    for p, on, dur in zip(pitch, onset_s, duration_s * legato):
        f0[(t >= on) & (t < on + dur)] = 440.0 * 2 ** ((p - 69) / 12)
        onsets[min(int(on * frame_rate), n_frames - 1)] = True
    return RenderedMelody(
        audio.astype(np.float32),
        sr,
        frame_rate,
        f0,
        onsets,
        pitch,
        onset_s.astype(np.float32),
        (duration_s * legato).astype(np.float32),
        instrument,
        tempo_bpm,
        int(transpose),
    )
