"""From single notes to music: tunes as (pitch, start, duration) lists, a MIDI reader, a click-free mixer.

A song here is what a MIDI file is at heart: a list of notes, each a MIDI pitch with a start
time and a duration (chords are notes that start together). Any note source can render it:
chapter 7 decodes one generated latent per note; a test can use plain sines. `render_song`
places every note's audio at its start time, cuts it to its duration plus a short release, and
fades both ends with a raised cosine so that no note starts or stops with a jump in the
waveform (a jump is a click: a broadband "tick" the ear hears even when it is tiny). The notes
are mixed by overlap-add and the mix is scaled to a fixed peak, so it never clips.

Built-in tunes (all public domain) are given in beats; `tune(name, bpm=...)` turns them into
seconds. `read_midi` reads any standard MIDI file with `mido`, and `fit_to_range` moves notes
the model cannot play into its pitch range by whole octaves, saying so.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .checks import require_int, require_number, require_sample_rate

__all__ = [
    "SongNote",
    "TUNES",
    "Tune",
    "fit_to_range",
    "raised_cosine_fade",
    "read_midi",
    "render_song",
    "tune",
    "write_song",
]

DEFAULT_FADE_IN = 0.005  # s: long enough to remove the click, short enough to keep a pluck's attack
DEFAULT_FADE_OUT = 0.010
DEFAULT_RELEASE = 0.06  # s: a note rings this much past its written duration (then fades out)


def _midi_int(name: str, value: object, low: int = 0, high: int = 127) -> int:
    """An integer in low..high (a MIDI note number or velocity); `require_int` plus an upper bound."""
    value = require_int(name, value, low)
    if value > high:
        raise ValueError(f"{name} must be at most {high}, got {value}")
    return value


def _check_range(lo: object, hi: object) -> tuple[int, int]:
    """(lo, hi) as MIDI note numbers at least an octave apart, or a clear error."""
    lo, hi = _midi_int("lo (lowest MIDI note)", lo), _midi_int("hi (highest MIDI note)", hi)
    if hi - lo < 11:
        raise ValueError(
            f"the range {lo}..{hi} is narrower than an octave; notes cannot be folded into it "
            "(pass lo, hi with hi - lo >= 11)"
        )
    return lo, hi


def _check_tune(song: object) -> None:
    """A TypeError unless `song` is a Tune (a list of notes or of tuples is not)."""
    if not isinstance(song, Tune):
        raise TypeError(f"song must be a Tune (from tune(...) or read_midi(...)), got {type(song).__name__}")


@dataclass(frozen=True)
class SongNote:
    """One note of a song: MIDI pitch, start and duration in seconds, MIDI velocity 1..127."""

    pitch: int
    start: float
    duration: float
    velocity: int = 100

    def __post_init__(self) -> None:
        _midi_int("MIDI pitch", self.pitch)
        require_number("note start (s)", self.start, low=0)
        require_number("note duration (s)", self.duration, low=0, low_open=True)
        _midi_int("velocity", self.velocity, 1)


@dataclass(frozen=True)
class Tune:
    """A named list of notes (sorted by start time) and remarks on what was changed to play it."""

    name: str
    notes: tuple[SongNote, ...]
    remarks: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        notes = () if self.notes is None else tuple(self.notes)
        if not notes:
            raise ValueError(f"tune {self.name!r} has no notes")
        for i, n in enumerate(notes):
            if not isinstance(n, SongNote):
                raise TypeError(f"tune {self.name!r}: note {i} is {n!r}, not a SongNote(pitch, start, duration)")
        object.__setattr__(self, "notes", tuple(sorted(notes, key=lambda n: (n.start, n.pitch))))

    def __len__(self) -> int:
        return len(self.notes)

    @property
    def pitches(self) -> Tensor:
        """MIDI pitches [N] (long, N = number of notes), in note order."""
        return torch.tensor([n.pitch for n in self.notes], dtype=torch.long)

    @property
    def seconds(self) -> float:
        """Time at which the last note ends (written durations, no release)."""
        return max(n.start + n.duration for n in self.notes)

    @property
    def pitch_span(self) -> tuple[int, int]:
        return min(n.pitch for n in self.notes), max(n.pitch for n in self.notes)

    def transpose(self, semitones: int) -> Tune:
        """The same tune moved by `semitones` (an integer); every note must stay within MIDI 0..127."""
        semitones = require_int("semitones", semitones, -127)
        lo, hi = self.pitch_span
        if not (0 <= lo + semitones and hi + semitones <= 127):
            raise ValueError(
                f"transposing {self.name!r} (MIDI {lo}..{hi}) by {semitones:+d} semitones leaves MIDI 0..127; "
                f"pass semitones in {-lo:+d}..{127 - hi:+d}"
            )
        return replace(self, notes=tuple(replace(n, pitch=n.pitch + semitones) for n in self.notes))

    def describe(self) -> str:
        lo, hi = self.pitch_span
        return f"{self.name}: {len(self)} notes, {self.seconds:.1f} s, MIDI {lo}..{hi}"


# --------------------------------------------------------------------------- built-in tunes

# (pitch, duration in beats); consecutive notes follow each other. C4 = 60.
# One phrase per line reads as music; one note per line (the formatter's choice) does not.
# fmt: off
_ODE_TO_JOY = [
    (64, 1), (64, 1), (65, 1), (67, 1), (67, 1), (65, 1), (64, 1), (62, 1),
    (60, 1), (60, 1), (62, 1), (64, 1), (64, 1.5), (62, 0.5), (62, 2),
    (64, 1), (64, 1), (65, 1), (67, 1), (67, 1), (65, 1), (64, 1), (62, 1),
    (60, 1), (60, 1), (62, 1), (64, 1), (62, 1.5), (60, 0.5), (60, 2),
]
_TWINKLE = [
    (60, 1), (60, 1), (67, 1), (67, 1), (69, 1), (69, 1), (67, 2),
    (65, 1), (65, 1), (64, 1), (64, 1), (62, 1), (62, 1), (60, 2),
    (67, 1), (67, 1), (65, 1), (65, 1), (64, 1), (64, 1), (62, 2),
    (67, 1), (67, 1), (65, 1), (65, 1), (64, 1), (64, 1), (62, 2),
    (60, 1), (60, 1), (67, 1), (67, 1), (69, 1), (69, 1), (67, 2),
    (65, 1), (65, 1), (64, 1), (64, 1), (62, 1), (62, 1), (60, 2),
]
# fmt: on
_SCALE = [(p, 1) for p in (60, 62, 64, 65, 67, 69, 71, 72)]
# I - V - vi - IV in C major, each chord two beats, a bass note an octave below the root.
_CHORDS = [(48, 60, 64, 67), (55, 59, 62, 67), (57, 60, 64, 69), (53, 60, 65, 69)]


def _melody(pairs: Sequence[tuple[int, float]]) -> list[tuple[int, float, float]]:
    out, beat = [], 0.0
    for pitch, dur in pairs:
        out.append((pitch, beat, dur))
        beat += dur
    return out


def _chords(chords: Sequence[Sequence[int]], beats: float, repeats: int) -> list[tuple[int, float, float]]:
    out = []
    for r in range(repeats):
        for i, chord in enumerate(chords):
            start = (r * len(chords) + i) * beats
            out.extend((p, start, beats) for p in chord)
    return out


# name -> (notes as (pitch, start beat, duration beats), default tempo in beats per minute)
TUNES: dict[str, tuple[list[tuple[int, float, float]], float]] = {
    "ode_to_joy": (_melody(_ODE_TO_JOY), 132.0),  # Beethoven, Symphony No. 9 (1824)
    "twinkle": (_melody(_TWINKLE), 120.0),  # "Ah! vous dirai-je, maman" (18th-century French song)
    "c_major_scale": (_melody(_SCALE), 120.0),
    "pop_chords": (_chords(_CHORDS, 2.0, 2), 100.0),  # I-V-vi-IV, the most common progression there is
}


def tune(name: str, bpm: float | None = None, velocity: int = 100) -> Tune:
    """A built-in tune in seconds at `bpm` (its default tempo when None). See `TUNES` for the names."""
    if not isinstance(name, str):
        raise TypeError(f"name must be the name of a built-in tune ({', '.join(TUNES)}), got {name!r}")
    if name not in TUNES:
        raise KeyError(
            f"no built-in tune {name!r}; choose from {', '.join(TUNES)} (or read a MIDI file with read_midi)"
        )
    notes, default_bpm = TUNES[name]
    beat = 60.0 / (default_bpm if bpm is None else require_number("bpm (beats per minute)", bpm, low=0, low_open=True))
    return Tune(name, tuple(SongNote(p, s * beat, d * beat, velocity) for p, s, d in notes))


# --------------------------------------------------------------------------- pitch range


def fit_to_range(song: Tune, lo: int, hi: int, *, warn: bool = True) -> Tune:
    """Move the song into MIDI lo..hi by whole octaves, so it keeps its key and melody.

    First the whole song is shifted by the octave count that leaves the fewest notes outside
    (ties: the smallest shift); notes still outside (a span wider than the range) are folded
    in one by one. Every change is stored in `remarks` and, with warn=True, issued as a warning.
    """
    _check_tune(song)
    lo, hi = _check_range(lo, hi)
    pitches = [n.pitch for n in song.notes]

    def outside(shift: int) -> int:
        return sum(not lo <= p + shift <= hi for p in pitches)

    if outside(0) == 0:
        return song
    shift = min((12 * k for k in range(-10, 11)), key=lambda s: (outside(s), abs(s)))
    remarks = list(song.remarks)
    if shift:
        remarks.append(f"transposed by {shift // 12:+d} octave(s) to fit MIDI {lo}..{hi}")
    folded = 0
    notes = []
    for n in song.notes:
        p = n.pitch + shift
        folded += not lo <= p <= hi
        while p < lo:
            p += 12
        while p > hi:
            p -= 12
        notes.append(replace(n, pitch=p))
    if folded:
        remarks.append(f"{folded} note(s) still outside MIDI {lo}..{hi} were moved by octaves into it")
    out = Tune(song.name, tuple(notes), tuple(remarks))
    if warn:
        for r in remarks[len(song.remarks) :]:
            warnings.warn(f"{song.name}: {r}", UserWarning, stacklevel=2)
    return out


# --------------------------------------------------------------------------- MIDI files


def read_midi(
    path: str | Path,
    *,
    pitch_range: tuple[int, int] | None = None,
    max_notes: int | None = None,
    include_drums: bool = False,
) -> Tune:
    """Read the notes of a standard MIDI file (all tracks, tempo changes honoured) with `mido`.

    Channel 10 (index 9) is General MIDI percussion, whose "pitches" are drum names, so it is
    skipped unless include_drums. A note-on without its note-off ends at the end of the file.
    With pitch_range=(lo, hi) the result goes through `fit_to_range` (octave moves, announced).
    max_notes keeps only the first notes (rendering costs one decoded note each).
    """
    import mido

    if max_notes is not None:
        max_notes = require_int("max_notes", max_notes)
    if pitch_range is not None:
        if isinstance(pitch_range, str) or not isinstance(pitch_range, Sequence):
            raise TypeError(f"pitch_range must be a (lo, hi) pair of MIDI note numbers, got {pitch_range!r}")
        if len(pitch_range) != 2:
            raise ValueError(f"pitch_range must be a (lo, hi) pair of MIDI note numbers, got {pitch_range!r}")
        _check_range(*pitch_range)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be the path of a .mid file (str or Path), got {path!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no MIDI file at {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; pass the path of one MIDI file (.mid) in it")
    try:
        midi = mido.MidiFile(str(path))
    except Exception as exc:  # mido raises OSError, EOFError, KeyError, ValueError, ... on junk
        raise ValueError(f"{path} is not a readable standard MIDI file ({type(exc).__name__}: {exc})") from exc
    now = 0.0
    open_notes: dict[tuple[int, int], list[tuple[float, int]]] = {}
    notes: list[SongNote] = []
    skipped_drums = 0

    def close(key: tuple[int, int], end: float) -> None:
        start, vel = open_notes[key].pop(0)
        if end > start:
            notes.append(SongNote(key[1], start, end - start, max(1, min(127, vel))))

    try:
        for msg in midi:  # merged tracks, msg.time = seconds since the previous message
            now += msg.time
            if msg.type not in ("note_on", "note_off"):
                continue
            if msg.channel == 9 and not include_drums:
                skipped_drums += msg.type == "note_on" and msg.velocity > 0
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault(key, []).append((now, msg.velocity))
            elif open_notes.get(key):
                close(key, now)
    except Exception as exc:
        raise ValueError(f"{path}: the MIDI data is damaged ({type(exc).__name__}: {exc})") from exc
    for key, pending in open_notes.items():
        while pending:
            close(key, max(now, pending[0][0] + 0.1))
    if not notes:
        extra = f" ({skipped_drums} drum notes on channel 10 were skipped)" if skipped_drums else ""
        raise ValueError(f"{path} contains no notes{extra}")
    notes.sort(key=lambda n: (n.start, n.pitch))
    remarks = []
    if skipped_drums:
        remarks.append(f"skipped {skipped_drums} drum notes (channel 10)")
    if max_notes is not None and len(notes) > max_notes:
        remarks.append(f"kept the first {max_notes} of {len(notes)} notes")
        notes = notes[:max_notes]
    t0 = notes[0].start
    notes = [replace(n, start=n.start - t0) for n in notes]  # start with the first note, not with silence
    song = Tune(path.stem, tuple(notes), tuple(remarks))
    if pitch_range is not None:
        song = fit_to_range(song, *pitch_range)
    return song


# --------------------------------------------------------------------------- rendering


def raised_cosine_fade(n_in: int, n_out: int, length: int) -> Tensor:
    """Gain curve [length]: 0 -> 1 over n_in samples (half a cosine period), 1, then 1 -> 0 over n_out.

    Returns gains [L] (L = length, float32) in [0, 1].

    A raised cosine has zero slope at both ends, so neither the gain nor its derivative jumps.
    """
    n_in, n_out = require_int("n_in", n_in, 0), require_int("n_out", n_out, 0)
    g = torch.ones(require_int("length", length, 0))
    n_in, n_out = min(n_in, length), min(n_out, length)
    if n_in > 0:
        g[:n_in] = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(n_in) + 0.5) / n_in)
    if n_out > 0:
        g[length - n_out :] *= 0.5 + 0.5 * torch.cos(math.pi * (torch.arange(n_out) + 0.5) / n_out)
    return g


def render_song(
    song: Tune,
    note_audio: Tensor,
    sr: int,
    *,
    fade_in: float = DEFAULT_FADE_IN,
    fade_out: float = DEFAULT_FADE_OUT,
    release: float = DEFAULT_RELEASE,
    velocity_gain: bool = True,
    peak: float = 0.9,
) -> Tensor:
    """Mix one rendered note per song note [n_notes, S] into a song [samples], without clicks or clipping.

    Note i (in `song.notes` order) sounds from its start for its duration plus `release`
    seconds (or until its audio ends, when the note is longer than the rendered note), with
    raised-cosine fades of `fade_in` / `fade_out` seconds at both ends. Velocity scales it
    (velocity / 100) when velocity_gain. The mix is scaled to `peak` (so it never clips).
    """
    _check_tune(song)
    if not isinstance(note_audio, (Tensor, np.ndarray)):
        raise TypeError(f"note_audio must be a tensor [n_notes, samples], got {type(note_audio).__name__}")
    note_audio = torch.as_tensor(note_audio)
    if note_audio.ndim != 2 or note_audio.shape[0] != len(song):
        raise ValueError(
            f"need one audio row per note: {len(song)} notes, got audio of shape {tuple(note_audio.shape)}"
        )
    if note_audio.shape[1] == 0:
        raise ValueError("note_audio has 0 samples per note; render the notes first")
    if not torch.isfinite(note_audio).all():
        raise ValueError("note audio contains NaN or inf")
    sr = require_sample_rate(sr, integer=True)
    fade_in, fade_out = require_number("fade_in (s)", fade_in, low=0), require_number("fade_out (s)", fade_out, low=0)
    release = require_number("release (s)", release, low=0)
    peak = require_number("peak", peak, low=0, low_open=True, high=1)
    note_audio = note_audio.detach().float().cpu()
    avail = note_audio.shape[1]
    starts = [int(round(n.start * sr)) for n in song.notes]
    lengths = [min(avail, int(round((n.duration + release) * sr))) for n in song.notes]
    total = max(s + n for s, n in zip(starts, lengths)) + int(0.05 * sr)
    out = torch.zeros(total)
    n_in, n_out = int(round(fade_in * sr)), int(round(fade_out * sr))
    for note, audio, s, n in zip(song.notes, note_audio, starts, lengths):
        gain = note.velocity / 100.0 if velocity_gain else 1.0
        out[s : s + n] += gain * audio[:n] * raised_cosine_fade(n_in, n_out, n)
    top = out.abs().max()
    if top > 0:
        out = out * (peak / top)
    return out


def write_song(audio: Tensor, path: str | Path, sr: int) -> Path:
    """Write a mono song [samples] to a 16-bit WAV file (atomically, via `audio.io.write_wav`).

    audio: [T] float samples in [-1, 1] (beyond is refused), at sr Hz.
    """
    from .audio.io import write_wav

    return write_wav(path, audio, sr)
