"""Songs: built-in tunes, the MIDI reader (good and bad files), octave fitting, click-free rendering."""

from __future__ import annotations

import math

import mido
import pytest
import soundfile as sf
import torch

from musicgan_lib.songs import (
    TUNES,
    SongNote,
    Tune,
    fit_to_range,
    raised_cosine_fade,
    read_midi,
    render_song,
    tune,
    write_song,
)

SR = 16000


def sine_notes(song: Tune, seconds: float = 1.0, amp: float = 0.5) -> torch.Tensor:
    """A cosine per note at its pitch, full amplitude from sample 0: a hard start without a fade."""
    t = torch.arange(int(seconds * SR)) / SR
    f = 440.0 * 2.0 ** ((song.pitches.float() - 69) / 12)
    return amp * torch.cos(2 * math.pi * f.unsqueeze(1) * t)


def boundaries(song: Tune, sr: int = SR) -> list[int]:
    return sorted({int(round(n.start * sr)) for n in song.notes})


def test_builtin_tunes_are_in_the_models_range_and_well_formed():
    for name in TUNES:
        song = tune(name)
        lo, hi = song.pitch_span
        assert 48 <= lo and hi <= 84, name
        assert len(song) >= 8
        assert all(n.duration > 0 for n in song.notes)
        assert list(song.notes) == sorted(song.notes, key=lambda n: (n.start, n.pitch))
    ode = tune("ode_to_joy", bpm=120)
    assert ode.notes[0].pitch == 64 and ode.notes[0].duration == pytest.approx(0.5)
    assert ode.seconds == pytest.approx(32 * 0.5)  # 32 beats at 120 bpm
    chords = tune("pop_chords")
    starts = [n.start for n in chords.notes]
    assert starts.count(0.0) == 4  # a chord: four notes at once
    with pytest.raises(KeyError, match="ode_to_joy"):
        tune("no such tune")


def test_song_note_validation():
    with pytest.raises(ValueError):
        SongNote(60, 0.0, 0.0)
    with pytest.raises(ValueError):
        SongNote(130, 0.0, 1.0)
    with pytest.raises(ValueError, match="no notes"):
        Tune("empty", ())


def test_raised_cosine_fade_shape():
    g = raised_cosine_fade(80, 160, 1000)
    assert g[0] < 0.01 and g[-1] < 0.01
    assert torch.all(g[80:840] == 1)
    assert torch.all(torch.diff(g[:80]) > 0) and torch.all(torch.diff(g[-160:]) < 0)
    assert raised_cosine_fade(0, 0, 10).tolist() == [1.0] * 10


def test_render_length_no_clipping_and_peak():
    song = tune("twinkle", bpm=150)
    audio = render_song(song, sine_notes(song) * 3.0, SR)  # notes far louder than full scale
    assert audio.ndim == 1
    expected = song.seconds + 0.06 + 0.05  # last note's release, then 50 ms of silence
    assert abs(audio.shape[0] / SR - expected) < 0.01
    assert audio.abs().max() == pytest.approx(0.9, abs=1e-5)  # scaled to the peak, never clipped
    chords = tune("pop_chords")
    mix = render_song(chords, sine_notes(chords, 2.0, amp=0.9), SR)
    assert mix.abs().max() <= 0.9 + 1e-6


def test_render_has_no_clicks_at_note_boundaries():
    """Hard-starting cosines make a jump at every onset without fades; with fades the biggest
    sample-to-sample step at a boundary is no larger than inside a sustained note."""
    song = tune("ode_to_joy", bpm=160)
    notes = sine_notes(song)
    smooth = render_song(song, notes, SR, velocity_gain=False)
    hard = render_song(song, notes, SR, fade_in=0.0, fade_out=0.0, release=0.0, velocity_gain=False)

    def boundary_jump(audio: torch.Tensor) -> float:
        d = torch.diff(audio).abs()
        return max(float(d[max(b - 3, 0) : b + 3].max()) for b in boundaries(song))

    # steady-state slope of the highest note: 2 pi f / sr * peak amplitude
    f_max = 440.0 * 2.0 ** ((song.pitch_span[1] - 69) / 12)
    steady = 2 * math.pi * f_max / SR * float(smooth.abs().max())
    assert boundary_jump(hard) > 3 * steady  # the test can see a click
    assert boundary_jump(smooth) <= 1.05 * steady  # ... and the renderer leaves none
    # and the end of the song is silent
    assert smooth[-int(0.04 * SR) :].abs().max() == 0


def test_render_checks_its_inputs():
    song = tune("c_major_scale")
    with pytest.raises(ValueError, match="one audio row per note"):
        render_song(song, torch.zeros(3, SR), SR)
    bad = sine_notes(song)
    bad[0, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        render_song(song, bad, SR)


def test_notes_longer_than_the_rendered_note_stop_with_it():
    song = Tune("long", (SongNote(60, 0.0, 3.0),))
    audio = render_song(song, sine_notes(song, seconds=1.0), SR)
    assert audio.shape[0] == SR + int(0.05 * SR)  # one rendered second + the tail of silence
    assert audio[SR - 1].abs() < 0.01  # faded out, not cut


def test_fit_to_range_transposes_by_octaves_and_says_so():
    low = tune("twinkle").transpose(-24)  # C2..A2, below the range: one octave up is enough
    with pytest.warns(UserWarning, match="transposed by \\+1 octave"):
        fitted = fit_to_range(low, 48, 84)
    assert [n.pitch for n in fitted.notes] == [n.pitch - 12 for n in tune("twinkle").notes]
    assert any("octave" in r for r in fitted.remarks)
    in_range = tune("twinkle")
    assert fit_to_range(in_range, 48, 84) is in_range
    # a span wider than the range: the whole shift cannot fix it, single notes are folded
    wide = Tune("wide", (SongNote(30, 0, 1), SongNote(100, 1, 1)))
    with pytest.warns(UserWarning):
        folded = fit_to_range(wide, 48, 84)
    assert any("moved by octaves" in r for r in folded.remarks)
    assert all(48 <= n.pitch <= 84 for n in folded.notes)
    assert all((n.pitch - o.pitch) % 12 == 0 for n, o in zip(folded.notes, wide.notes))


def write_midi(path, notes, tempo_bpm=120, ticks=480, channel=0, drums=None):
    mid = mido.MidiFile(ticks_per_beat=ticks)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    events = []
    for pitch, start, dur in notes:  # in beats
        events.append((start, 1, mido.Message("note_on", note=pitch, velocity=90, channel=channel)))
        events.append((start + dur, 0, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    for pitch, start in drums or []:
        events.append((start, 1, mido.Message("note_on", note=pitch, velocity=100, channel=9)))
        events.append((start + 0.25, 0, mido.Message("note_on", note=pitch, velocity=0, channel=9)))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0.0
    for beat, _, msg in events:
        msg.time = int(round((beat - now) * ticks))
        now = beat
        track.append(msg)
    mid.save(str(path))
    return path


def test_read_midi_round_trip(tmp_path):
    notes = [(60, 0, 1), (64, 1, 1), (67, 2, 2), (60, 2, 2)]  # a melody ending on a two-note chord
    path = write_midi(tmp_path / "tune.mid", notes, tempo_bpm=120, drums=[(36, 0), (38, 1)])
    song = read_midi(path)
    assert song.name == "tune"
    got = sorted((n.pitch, round(n.start, 3), round(n.duration, 3)) for n in song.notes)
    assert got == sorted((p, s * 0.5, d * 0.5) for p, s, d in notes)  # 120 bpm: a beat is 0.5 s
    assert all(n.velocity == 90 for n in song.notes)
    assert any("drum" in r for r in song.remarks)
    short = read_midi(path, max_notes=2)
    assert len(short) == 2 and any("first 2" in r for r in short.remarks)


def test_read_midi_out_of_range_is_transposed(tmp_path):
    path = write_midi(tmp_path / "high.mid", [(96, 0, 1), (100, 1, 1), (103, 2, 1)])
    with pytest.warns(UserWarning, match="-2 octave"):
        song = read_midi(path, pitch_range=(48, 84))
    assert [n.pitch for n in song.notes] == [72, 76, 79]


def test_read_midi_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_midi(tmp_path / "missing.mid")
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"this is not a MIDI file at all" * 10)
    with pytest.raises(ValueError, match="not a readable standard MIDI file"):
        read_midi(junk)
    empty = tmp_path / "empty.mid"
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=0)]))
    mid.save(str(empty))
    with pytest.raises(ValueError, match="no notes"):
        read_midi(empty)
    drums_only = write_midi(tmp_path / "drums.mid", [], drums=[(36, 0), (38, 1)])
    with pytest.raises(ValueError, match="drum"):
        read_midi(drums_only)


def test_write_song_makes_a_16bit_wav(tmp_path):
    song = tune("c_major_scale")
    audio = render_song(song, sine_notes(song), SR)
    path = write_song(audio, tmp_path / "out" / "scale.wav", SR)
    data, sr = sf.read(str(path))
    assert sr == SR and len(data) == audio.shape[0]
    assert abs(data - audio.numpy()).max() < 1e-3
