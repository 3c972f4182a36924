"""Chapters 6-7's notes: real SoundFont notes by default, held-out notes really unseen, a loud fallback."""

import numpy as np
import pytest
import torch

from musicgan_lib.data import note_sets, soundfont as sfnt
from musicgan_lib.data.notes import FAMILIES
from musicgan_lib.metrics.audio import mss_by_phase, phase_bounds
from musicgan_lib.noteplots import best_and_worst

needs_soundfont = pytest.mark.skipif(
    not sfnt.soundfont_available(), reason="no SoundFont/fluidsynth (CI installs them)"
)
OTHER_FONT = "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"


def test_default_programs_cover_sixteen_programs_in_eight_families_within_their_ranges():
    programs = [p for progs in sfnt.DEFAULT_PROGRAMS.values() for p in progs]
    assert len(set(programs)) >= 16 and set(sfnt.DEFAULT_PROGRAMS) == set(FAMILIES)
    for fam, progs in sfnt.DEFAULT_PROGRAMS.items():
        for p in progs:
            assert FAMILIES[sfnt.gm_family(p)] == fam, (p, fam)
            assert p in sfnt.PROGRAM_RANGES and p in sfnt.GM_NAMES
    # together they still cover every pitch class the classifier knows
    covered = set()
    for p in programs:
        lo, hi = sfnt.program_pitches(p, (48, 84))
        covered |= set(range(lo, hi + 1))
    assert covered == set(range(48, 85))


def test_labels_keep_each_program_inside_the_range_it_really_plays():
    progs, pitches, vels = sfnt.soundfont_labels(3000, seed=1)
    for prog, pitch in zip(progs, pitches):
        lo, hi = sfnt.program_pitches(prog, (48, 84))
        assert lo <= pitch <= hi, (prog, pitch)
    piccolo = [p for prog, p in zip(progs, pitches) if prog == 72]
    assert piccolo and min(piccolo) >= 74  # a piccolo never plays C3
    assert len(set(vels)) > 30 and 40 <= min(vels) and max(vels) <= 127
    # a pure function of (seed, position): the same labels from any offset
    again = sfnt.soundfont_labels(10, seed=1, index_offset=5)
    assert again == (progs[5:15], pitches[5:15], vels[5:15])


def test_program_pitches_refuses_a_range_the_instrument_cannot_play():
    with pytest.raises(ValueError, match="Piccolo"):
        sfnt.program_pitches(72, (48, 60))


@needs_soundfont
def test_held_out_notes_skip_every_training_triple():
    n_train = 2000
    seen = set(zip(*sfnt.soundfont_labels(n_train, seed=0)))
    data = note_sets.choose_note_data("soundfont")
    held = note_sets.note_set(data, 300, seed=0, index_offset=10_000, unseen_by=n_train)
    triples = set(zip(held.program.tolist(), held.pitch.tolist(), held.velocity.tolist()))
    assert len(held) == 300 and not (triples & seen)
    # without the filter, the same stretch of the stream does repeat training notes
    plain = set(zip(*sfnt.soundfont_labels(3000, seed=0, index_offset=10_000)))
    assert plain & seen


def test_synthetic_is_chosen_only_when_asked_or_as_a_loud_fallback(monkeypatch):
    assert not note_sets.choose_note_data("synthetic").real
    monkeypatch.setattr(note_sets, "fluidsynth_path", lambda: None)
    with pytest.warns(UserWarning, match="NO SOUNDFONT.*SYNTHETIC"):
        data = note_sets.choose_note_data("auto")
    assert data.kind == "synthetic" and not data.real and "SYNTHETIC" in data.describe()
    with pytest.raises(sfnt.SoundFontError, match="fluidsynth"):
        note_sets.choose_note_data("soundfont")
    with pytest.raises(ValueError, match="not one of"):
        note_sets.choose_note_data("real")


def test_a_mistyped_font_is_an_error_not_synthetic_data(tmp_path):
    with pytest.raises(sfnt.SoundFontError, match="does not exist"):
        note_sets.choose_note_data("auto", tmp_path / "mine.sf2")


@needs_soundfont
def test_real_notes_are_the_default_and_the_other_font_is_another_file():
    data = note_sets.choose_note_data()
    assert data.real and data.key()["notes"] == "soundfont" and data.key()["font"] == data.font.name
    other = note_sets.other_soundfont(data)
    if other is not None:
        assert other.resolve() != data.font.resolve()
    assert note_sets.other_soundfont(data, data.font) == data.font  # an explicit font is taken as given


@needs_soundfont
@pytest.mark.skipif(not __import__("os").path.exists(OTHER_FONT), reason="musescore-general-soundfont-small missing")
def test_an_sf3_font_renders_the_same_notes_at_the_same_pitch():
    other = note_sets.NoteData("soundfont", sfnt.find_soundfont(OTHER_FONT))
    notes = note_sets.note_set(other, 8, seed=3)
    assert notes.source.endswith(".sf3") and torch.isfinite(notes.audio).all()
    assert (notes.audio.abs().amax(1) > 1e-3).all()
    default = note_sets.note_set(note_sets.choose_note_data(), 8, seed=3)
    assert torch.equal(default.pitch, notes.pitch) and not torch.equal(default.audio, notes.audio)


def test_phase_bounds_and_errors_locate_a_damaged_attack():
    assert phase_bounds(16000, 16000, 0.75) == {
        "attack": (0, 1600),
        "sustain": (1600, 12000),
        "release": (12000, 16000),
    }
    with pytest.raises(ValueError, match="attack"):
        phase_bounds(16000, 16000, hold_s=0.05)
    g = torch.Generator().manual_seed(0)
    t = torch.arange(16000) / 16000
    pitch = torch.tensor([60, 60, 67, 67])
    real = torch.stack([torch.sin(2 * np.pi * f * t) * torch.exp(-t) for f in (261.6, 261.6, 392.0, 392.0)])
    damaged = real.clone()
    damaged[:, :1600] += 0.3 * torch.randn(4, 1600, generator=g)  # a noise burst in the attack only
    other = torch.stack([torch.sin(2 * np.pi * f * t) * torch.exp(-4 * t) for f in (261.6, 392.0)])  # "training" notes
    result = mss_by_phase(damaged, real, pitch, other, torch.tensor([60, 67]), 16000, hold_s=0.75)
    assert result["attack"]["model"] > 0.1
    assert result["sustain"]["model"] == pytest.approx(0.0, abs=1e-5)
    assert result["release"]["model"] == pytest.approx(0.0, abs=1e-5)
    for r in result.values():
        assert r["ratio"] == pytest.approx(r["model"] / r["baseline"])


def test_best_and_worst_pick_the_extremes_in_order():
    best, worst = best_and_worst(torch.tensor([3.0, 0.5, 9.0, 1.0, 7.0]), k=2)
    assert best == [1, 3] and worst == [2, 4]
