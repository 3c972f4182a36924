"""Real instrument notes rendered from a General MIDI SoundFont (.sf2) with the fluidsynth program.

A SoundFont holds recorded samples of real instruments plus the envelopes and filters to
play them; `fluidsynth` renders a MIDI file through it to a WAV file without any audio
device. We write one MIDI file with every requested note in its own time slot (program
change, note on, note off, then "all sound off" so no tail leaks into the next slot), render
it once, and cut the slots apart. Labels follow the synthetic notes (NoteBatch): f0 is the
equal-tempered frequency of the MIDI pitch, loudness is measured from the audio, the family
comes from the General MIDI program number.

The project's set-up installs Debian's `fluidsynth` and `timgm6mb-soundfont` (6 MB). Any other
.sf2 works: pass its path, or set MUSICGAN_SF2. Without one the book uses synthetic notes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..audio.analysis import loudness_db
from ..audio.synth import midi_to_hz
from .notes import FAMILIES, FRAME_RATE, SAMPLE_RATE, NoteBatch

SF2_ENV = "MUSICGAN_SF2"
SEARCH_PATHS = (
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/*.sf2",
    "/usr/share/soundfonts/*.sf2",
    "/usr/local/share/soundfonts/*.sf2",
    "/opt/homebrew/share/soundfonts/*.sf2",
    "~/.local/share/soundfonts/*.sf2",
    "/usr/share/sounds/sf3/*.sf3",  # Debian's MuseScore General (compressed SoundFont 3)
)
_GAP_S = 0.25  # silence between slots, after "all sound off"
_FORMAT = 2  # bump when rendering changes, to invalidate caches

GUITAR_PROGRAM = 24  # Acoustic Guitar (nylon)

# General MIDI program groups (8 programs each) -> family
_GROUP_FAMILY = {
    0: "keyboard",  # pianos
    1: "mallet",  # chromatic percussion: celesta, glockenspiel, music box, vibraphone, marimba, ...
    2: "organ",
    3: "plucked_string",  # guitars
    4: "plucked_string",  # basses
    5: "bowed_string",  # strings (harp and pizzicato below)
    6: "bowed_string",  # ensembles (voices and orchestra hit below)
    7: "brass",
    8: "reed",
    9: "flute",  # pipes
    10: "organ",  # synth leads: sustained, organ-like
    11: "organ",  # synth pads
    12: "organ",  # synth effects
    13: "plucked_string",  # ethnic: sitar, banjo, shamisen, koto (others below)
    14: "mallet",  # percussive: tinkle bell, agogo, steel drums, woodblock, taiko, ...
}
_PROGRAM_FAMILY = {
    45: "plucked_string",  # pizzicato strings
    46: "plucked_string",  # orchestral harp
    47: "mallet",  # timpani
    52: "organ",
    53: "organ",
    54: "organ",  # choir aahs, voice oohs, synth voice
    55: "brass",  # orchestra hit
    108: "mallet",  # kalimba
    109: "reed",  # bagpipe
    110: "bowed_string",  # fiddle
    111: "reed",  # shanai
}
GM_NAMES = {
    0: "Acoustic Grand Piano",
    4: "Electric Piano 1",
    11: "Vibraphone",
    12: "Marimba",
    16: "Drawbar Organ",
    19: "Church Organ",
    24: "Acoustic Guitar (nylon)",
    25: "Acoustic Guitar (steel)",
    33: "Electric Bass (finger)",
    40: "Violin",
    42: "Cello",
    56: "Trumpet",
    57: "Trombone",
    60: "French Horn",
    65: "Alto Sax",
    68: "Oboe",
    71: "Clarinet",
    73: "Flute",
    72: "Piccolo",
    20: "Reed Organ",
    82: "Lead 3 (calliope)",
}
# two programs per family, used by make_soundfont_notes
DEFAULT_PROGRAMS: dict[str, tuple[int, ...]] = {
    "plucked_string": (24, 25),
    "bowed_string": (40, 42),
    "reed": (71, 65),
    "brass": (56, 57),
    "flute": (73, 72),
    "mallet": (11, 12),
    # not Drawbar (16) or Church Organ (19): GM fonts voice them with 16' / 4' stops, so CREPE hears
    # them an octave below / above the written note and the f0 label would be an octave wrong
    "organ": (20, 82),
    "keyboard": (0, 4),
}


# The written range of each default program (MIDI, lowest..highest note the instrument really
# plays), from orchestration tables; notes are drawn inside it and inside the classifier's 48..84.
PROGRAM_RANGES: dict[int, tuple[int, int]] = {
    0: (21, 108),  # piano
    4: (28, 103),  # electric piano
    11: (53, 89),  # vibraphone
    12: (45, 96),  # marimba
    16: (24, 96),  # drawbar organ (manual range)
    19: (24, 96),  # church organ
    20: (29, 89),  # reed organ
    24: (40, 83),  # nylon guitar
    25: (40, 83),  # steel guitar
    40: (55, 103),  # violin
    42: (36, 76),  # cello
    56: (54, 84),  # trumpet
    57: (40, 72),  # trombone
    65: (49, 81),  # alto sax
    71: (50, 94),  # clarinet
    72: (74, 108),  # piccolo
    73: (60, 96),  # flute
    82: (36, 96),  # calliope: a steam organ's pipes
}


def program_pitches(program: int, pitch_range: tuple[int, int]) -> tuple[int, int]:
    """The MIDI pitches (lo, hi) a program plays inside `pitch_range`: its real range where we know it."""
    lo, hi = PROGRAM_RANGES.get(int(program), (0, 127))
    lo, hi = max(lo, pitch_range[0]), min(hi, pitch_range[1])
    if lo > hi:
        raise ValueError(
            f"GM program {program} ({GM_NAMES.get(int(program), '?')}) plays "
            f"{PROGRAM_RANGES[int(program)]}, nothing inside the pitch range {pitch_range}"
        )
    return lo, hi


class SoundFontError(RuntimeError):
    """A SoundFont or the renderer is missing or unusable; the message says which and what to do."""


def gm_family(program: int) -> int:
    """FAMILIES index of a General MIDI program (0..119); sound effects 120..127 have no family."""
    if not 0 <= program <= 119:
        raise ValueError(
            f"General MIDI program {program} has no instrument family: use 0..119 "
            "(120..127 are sound effects such as breath noise, seashore and gunshot)"
        )
    name = _PROGRAM_FAMILY.get(program) or _GROUP_FAMILY[program // 8]
    return FAMILIES.index(name)


def check_soundfont(path: str | os.PathLike) -> Path:
    """Return the path if it is a readable, complete .sf2 file; otherwise raise with the reason.

    A SoundFont 2 file is a RIFF container of form type 'sfbk': bytes 0-3 'RIFF', 4-7 the
    size of the rest, 8-11 'sfbk'. A size larger than the file means it was cut short.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise SoundFontError(f"SoundFont {p} does not exist")
    if not p.is_file():
        raise SoundFontError(f"SoundFont {p} is not a file")
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(12)
    if size == 0:
        raise SoundFontError(f"SoundFont {p} is empty (0 bytes)")
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise SoundFontError(
            f"{p} is not a SoundFont 2 file: it should start with b'RIFF....sfbk', it starts with {head[:12]!r}"
        )
    declared = int.from_bytes(head[4:8], "little") + 8
    if declared > size:
        raise SoundFontError(f"SoundFont {p} is truncated: its header declares {declared} bytes, the file has {size}")
    return p


def find_soundfont(explicit: str | os.PathLike | None = None) -> Path | None:
    """The SoundFont to use: `explicit`, else $MUSICGAN_SF2, else the first installed one found.

    An explicit path or $MUSICGAN_SF2 must be valid (errors are raised, not hidden); the
    search of standard folders returns None when nothing usable is installed.
    """
    if explicit is not None:
        return check_soundfont(explicit)
    if os.environ.get(SF2_ENV):
        return check_soundfont(os.environ[SF2_ENV])
    return next(installed_soundfonts(), None)


def installed_soundfonts():
    """Every usable font in the standard folders (`SEARCH_PATHS`, in order; broken files skipped)."""
    import glob

    for pattern in SEARCH_PATHS:
        for candidate in sorted(glob.glob(os.path.expanduser(pattern))):
            try:
                yield check_soundfont(candidate)
            except SoundFontError:
                continue


def fluidsynth_path() -> str | None:
    """Path of the fluidsynth program, or None."""
    return shutil.which("fluidsynth")


def soundfont_available() -> bool:
    """True when both a SoundFont and fluidsynth are installed, so real notes can be rendered."""
    try:
        return find_soundfont() is not None and fluidsynth_path() is not None
    except SoundFontError:
        return False


def _write_midi(path: Path, programs, pitches, velocities, slot_s: float, hold_s: float, duration_s: float) -> None:
    import mido

    tpb = 1000  # with a tempo of 1 s per beat, one tick is one millisecond
    mid = mido.MidiFile(ticks_per_beat=tpb)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
    events: list[tuple[int, int, mido.Message]] = []  # (tick, order, message)
    for i, (prog, pitch, vel) in enumerate(zip(programs, pitches, velocities)):
        start = int(round(i * slot_s * 1000))
        events.append((start, 0, mido.Message("program_change", channel=0, program=int(prog))))
        events.append((start, 1, mido.Message("note_on", channel=0, note=int(pitch), velocity=int(vel))))
        events.append(
            (start + int(round(hold_s * 1000)), 2, mido.Message("note_off", channel=0, note=int(pitch), velocity=0))
        )
        events.append(
            (start + int(round(duration_s * 1000)), 3, mido.Message("control_change", channel=0, control=120, value=0))
        )
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=int(_GAP_S * 1000)))
    mid.save(path)


def _require_fluidsynth() -> str:
    exe = fluidsynth_path()
    if exe is None:
        raise SoundFontError(
            "the fluidsynth program is not installed: run scripts/install-system-deps.sh as root "
            "(Debian/Ubuntu: apt-get install fluidsynth), or use the synthetic notes (data.notes.make_notes)"
        )
    return exe


def render_midi_file(font: Path, midi: Path, wav: Path, sr: int, gain: float) -> None:
    """Render a MIDI file through `font` into a float WAV at `sr` with the fluidsynth program
    (no audio device, no reverb or chorus: the notes stay dry, as the decoders make them)."""
    exe = _require_fluidsynth()
    cmd = [
        exe,
        "-ni",
        "-q",
        "-R",
        "0",
        "-C",
        "0",
        "-g",
        str(gain),
        "-r",
        str(sr),
        "-O",
        "float",
        "-T",
        "wav",
        "-F",
        str(wav),
        str(font),
        str(midi),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:
        raise SoundFontError(f"fluidsynth took more than 10 minutes rendering with {font}") from exc
    if proc.returncode != 0 or not wav.exists() or wav.stat().st_size <= 44:
        msg = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        raise SoundFontError(f"fluidsynth could not render with {font} (exit {proc.returncode}): {' | '.join(msg)}")


def _cache_key(font: Path, **settings) -> str:
    st = font.stat()
    blob = json.dumps(
        {"font": str(font.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns, "format": _FORMAT, **settings},
        sort_keys=True,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def render_notes(
    programs: Sequence[int] | int,
    pitches: Sequence[int],
    velocities: Sequence[int] | int = 100,
    duration: float = 1.0,
    *,
    hold: float | None = None,
    sr: int = SAMPLE_RATE,
    frame_rate: int = FRAME_RATE,
    soundfont: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    gain: float = 1.0,
    chunk: int = 200,
) -> NoteBatch:
    """Render NSynth-style notes (program, pitch, velocity, duration) through a SoundFont.

    Returns a NoteBatch: audio [N, duration * sr]; f0_hz, loudness_db [N, frames] (duration * frame_rate, rounded up).

    Each note is `duration` seconds long, held for `hold` seconds (default 3/4 of it) and
    then released; the slot starts at the note-on (fluidsynth adds ~5 ms of latency). With
    `cache_dir`, the rendered batch is stored there and reused on the next call with the
    same font and settings.
    """
    n = len(pitches)
    programs = [programs] * n if isinstance(programs, int) else list(programs)
    velocities = [velocities] * n if isinstance(velocities, int) else list(velocities)
    if not (len(programs) == len(velocities) == n):
        raise ValueError(f"need as many programs ({len(programs)}) and velocities ({len(velocities)}) as pitches ({n})")
    family = [gm_family(int(p)) for p in programs]
    for p in pitches:
        if not 0 <= int(p) <= 127:
            raise ValueError(f"MIDI pitch {p} outside 0..127")
    for v in velocities:
        if not 1 <= int(v) <= 127:
            raise ValueError(f"velocity {v} outside MIDI range 1..127")
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    hold = 0.75 * duration if hold is None else hold
    if not 0 < hold <= duration:
        raise ValueError(f"hold ({hold} s) must be in (0, duration={duration} s]")
    font = find_soundfont(soundfont)
    if font is None:
        raise SoundFontError(
            "no SoundFont (.sf2) found: run scripts/install-system-deps.sh as root (installs timgm6mb-soundfont), "
            f"pass soundfont='path/to/font.sf2' or set {SF2_ENV}; the book falls back to synthetic notes"
        )
    _require_fluidsynth()

    n_samples = int(round(duration * sr))
    cache = None
    if cache_dir is not None:
        key = _cache_key(
            font,
            programs=[int(p) for p in programs],
            pitches=[int(p) for p in pitches],
            velocities=[int(v) for v in velocities],
            duration=duration,
            hold=hold,
            sr=sr,
            frame_rate=frame_rate,
            gain=gain,
        )
        cache = Path(cache_dir) / f"soundfont_{key}.safetensors"
        if cache.exists():
            try:
                return NoteBatch.load(cache)
            except (ValueError, KeyError) as exc:  # a damaged cache is re-rendered, never trusted, and said so
                warnings.warn(f"re-rendering the notes: the cache {cache} is damaged ({exc})")
                cache.unlink(missing_ok=True)

    import soundfile as sf

    slot_s = duration + _GAP_S
    slot = int(round(slot_s * sr))
    audio = np.zeros((n, n_samples), dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="musicgan-sf2-") as tmp:
        for c in range(0, n, chunk):
            sel = slice(c, min(c + chunk, n))
            midi, wav = Path(tmp) / f"notes{c}.mid", Path(tmp) / f"notes{c}.wav"
            _write_midi(midi, programs[sel], pitches[sel], velocities[sel], slot_s, hold, duration)
            render_midi_file(font, midi, wav, sr, gain)
            data, file_sr = sf.read(wav, dtype="float32", always_2d=True)
            if file_sr != sr:
                raise SoundFontError(f"fluidsynth wrote {file_sr} Hz instead of {sr} Hz")
            mono = data.mean(axis=1)
            for j in range(sel.stop - sel.start):
                seg = mono[j * slot : j * slot + n_samples]
                audio[c + j, : len(seg)] = seg
    audio_t = torch.from_numpy(audio)
    if not torch.isfinite(audio_t).all():
        raise SoundFontError(f"fluidsynth produced NaN/Inf samples with {font}")
    hop = sr // frame_rate
    n_frames = -(-n_samples // hop)
    f0 = torch.tensor([float(midi_to_hz(float(p))) for p in pitches]).unsqueeze(1).expand(n, n_frames).contiguous()
    batch = NoteBatch(
        audio=audio_t,
        f0_hz=f0,
        loudness_db=loudness_db(audio_t, sr, hop=hop, n_frames=n_frames),
        family=torch.tensor(family, dtype=torch.long),
        pitch=torch.tensor([int(p) for p in pitches]),
        velocity=torch.tensor([int(v) for v in velocities]),
        program=torch.tensor([int(p) for p in programs]),
        sr=sr,
        frame_rate=frame_rate,
        source=f"soundfont:{font.name}",
        extras={"hold_s": hold},
    )
    silent = (audio_t.abs().amax(dim=1) < 1e-4).nonzero().flatten().tolist()
    if silent:
        batch.extras["silent"] = silent
        warnings.warn(
            f"{len(silent)} of {n} notes rendered silent with {font.name} (e.g. program "
            f"{programs[silent[0]]}, pitch {pitches[silent[0]]}): the font may not cover that range",
            stacklevel=2,
        )
    if cache is not None:
        batch.save(cache)
    return batch


def soundfont_labels(
    n: int,
    *,
    seed: int = 0,
    programs: dict[str, Sequence[int]] | None = None,
    pitch_range: tuple[int, int] = (48, 84),
    velocity_range: tuple[int, int] = (40, 127),
    index_offset: int = 0,
) -> tuple[list[int], list[int], list[int]]:
    """(programs, pitches, velocities) of notes index_offset .. index_offset + n - 1 of the seed's stream.

    Families are uniform (two GM programs each by default); each note's pitch is uniform over
    the range its program really plays (`PROGRAM_RANGES`, clipped to `pitch_range`); velocity
    uniform. Note i depends only on (seed, index_offset + i), so labels are known without rendering.
    """
    from .notes import random_labels

    programs = programs or DEFAULT_PROGRAMS
    fams, _, vels = random_labels(
        n,
        seed,
        families=list(programs),
        pitch_range=pitch_range,
        velocity_range=velocity_range,
        index_offset=index_offset,
    )
    progs, pitches = [], []
    for i, f in enumerate(fams):
        rng = np.random.default_rng([seed, index_offset + i, 2])
        choices = programs[FAMILIES[f]]
        prog = int(choices[rng.integers(len(choices))])
        lo, hi = program_pitches(prog, pitch_range)
        progs.append(prog)
        pitches.append(int(rng.integers(lo, hi + 1)))
    return progs, pitches, vels


def make_soundfont_notes(
    n: int,
    duration: float = 1.0,
    *,
    seed: int = 0,
    programs: dict[str, Sequence[int]] | None = None,
    pitch_range: tuple[int, int] = (48, 84),
    velocity_range: tuple[int, int] = (40, 127),
    index_offset: int = 0,
    unseen_by: int = 0,
    **render_kw,
) -> NoteBatch:
    """n random SoundFont notes (labels from `soundfont_labels`), rendered by `render_notes`.

    `unseen_by=N` keeps only notes whose (program, pitch, velocity) is not among notes 0..N-1 of
    the same seed, the training set of that size: held-out notes that are really new, not a
    rendering the model already heard. Candidates are drawn until n such notes are found.
    """
    label_kw = dict(seed=seed, programs=programs, pitch_range=pitch_range, velocity_range=velocity_range)
    if unseen_by <= 0:
        progs, pitches, vels = soundfont_labels(n, index_offset=index_offset, **label_kw)
        return render_notes(progs, pitches, vels, duration, **render_kw)
    seen = set(zip(*soundfont_labels(unseen_by, index_offset=0, **label_kw)))
    kept: list[tuple[int, int, int]] = []
    offset = index_offset
    while len(kept) < n:
        kept += [t for t in zip(*soundfont_labels(2 * n, index_offset=offset, **label_kw)) if t not in seen]
        offset += 2 * n
    progs, pitches, vels = zip(*kept[:n])
    return render_notes(list(progs), list(pitches), list(vels), duration, **render_kw)
