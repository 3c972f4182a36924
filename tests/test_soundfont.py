"""SoundFont notes: clear errors for missing or corrupt fonts, and real renders at the right pitch."""

import numpy as np
import pytest
import torch

from musicgan_lib.data import soundfont as sfnt
from musicgan_lib.data.notes import FAMILIES

HAVE = sfnt.soundfont_available()
needs_soundfont = pytest.mark.skipif(
    not HAVE,
    reason="no SoundFont (.sf2) and/or fluidsynth installed: run scripts/install-system-deps.sh as root "
    "(apt-get install fluidsynth timgm6mb-soundfont); CI installs them",
)


def estimate_f0(x: np.ndarray, sr: int, lo: float = 50.0, hi: float = 2000.0) -> float:
    """f0 by the harmonic product spectrum: robust when an overtone is louder than the fundamental."""
    n = 1 << 17
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    hps = np.log(mag + 1e-12)
    for k in (2, 3):
        dec = np.log(mag[::k] + 1e-12)
        hps[: len(dec)] += dec
    hz = np.fft.rfftfreq(n, 1 / sr)
    sel = (hz >= lo) & (hz <= hi)
    i = np.argmax(np.where(sel, hps, -np.inf))
    return float(hz[i])


def test_gm_family_mapping():
    assert FAMILIES[sfnt.gm_family(24)] == "plucked_string"  # nylon guitar
    assert FAMILIES[sfnt.gm_family(40)] == "bowed_string"  # violin
    assert FAMILIES[sfnt.gm_family(56)] == "brass"  # trumpet
    assert FAMILIES[sfnt.gm_family(71)] == "reed"  # clarinet
    assert FAMILIES[sfnt.gm_family(73)] == "flute"
    assert FAMILIES[sfnt.gm_family(12)] == "mallet"  # marimba
    assert FAMILIES[sfnt.gm_family(19)] == "organ"
    assert FAMILIES[sfnt.gm_family(0)] == "keyboard"
    assert FAMILIES[sfnt.gm_family(46)] == "plucked_string"  # harp
    for fam, progs in sfnt.DEFAULT_PROGRAMS.items():
        assert all(FAMILIES[sfnt.gm_family(p)] == fam for p in progs)
    with pytest.raises(ValueError, match="sound effects"):
        sfnt.gm_family(125)


def test_check_soundfont_errors(tmp_path):
    with pytest.raises(sfnt.SoundFontError, match="does not exist"):
        sfnt.check_soundfont(tmp_path / "missing.sf2")
    empty = tmp_path / "empty.sf2"
    empty.write_bytes(b"")
    with pytest.raises(sfnt.SoundFontError, match="empty"):
        sfnt.check_soundfont(empty)
    wav = tmp_path / "notafont.sf2"
    wav.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x00" * 20)
    with pytest.raises(sfnt.SoundFontError, match=r"notafont\.sf2 is not a SoundFont 2 file"):
        sfnt.check_soundfont(wav)
    cut = tmp_path / "cut.sf2"
    cut.write_bytes(b"RIFF" + (10_000_000).to_bytes(4, "little") + b"sfbk" + b"\x00" * 100)
    with pytest.raises(sfnt.SoundFontError, match="truncated"):
        sfnt.check_soundfont(cut)
    with pytest.raises(sfnt.SoundFontError, match="folder|not a file"):
        sfnt.check_soundfont(tmp_path)


def test_explicit_and_env_soundfont_must_be_valid(tmp_path, monkeypatch):
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(sfnt.SoundFontError, match="bad.sf2"):
        sfnt.find_soundfont(bad)
    monkeypatch.setenv(sfnt.SF2_ENV, str(bad))
    with pytest.raises(sfnt.SoundFontError, match="bad.sf2"):
        sfnt.find_soundfont()
    assert sfnt.soundfont_available() is False  # a broken choice means no real notes, not a crash
    with pytest.raises(sfnt.SoundFontError, match="bad.sf2"):
        sfnt.render_notes([24], [60], soundfont=bad)


def test_missing_renderer_is_explained(monkeypatch, tmp_path):
    font = tmp_path / "tiny.sf2"
    font.write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")
    monkeypatch.setattr(sfnt, "fluidsynth_path", lambda: None)
    with pytest.raises(sfnt.SoundFontError, match="fluidsynth program is not installed"):
        sfnt.render_notes([24], [60], soundfont=font)
    assert sfnt.soundfont_available() is False


def test_missing_soundfont_is_explained(monkeypatch):
    monkeypatch.delenv(sfnt.SF2_ENV, raising=False)
    monkeypatch.setattr(sfnt, "SEARCH_PATHS", ())
    assert sfnt.find_soundfont() is None
    with pytest.raises(sfnt.SoundFontError, match="no SoundFont"):
        sfnt.render_notes([24], [60])


def test_bad_note_arguments():
    with pytest.raises(ValueError):
        sfnt.render_notes([24, 25], [60])
    with pytest.raises(ValueError, match="pitch"):
        sfnt.render_notes([24], [200])
    with pytest.raises(ValueError, match="velocity"):
        sfnt.render_notes([24], [60], [0])
    with pytest.raises(ValueError, match="hold"):
        sfnt.render_notes([24], [60], duration=1.0, hold=2.0)


@needs_soundfont
@pytest.mark.parametrize("program, pitch", [(24, 57), (0, 60), (40, 67), (73, 72)])
def test_render_lands_at_the_right_f0(program, pitch):
    b = sfnt.render_notes([program], [pitch], 100, duration=1.0)
    expected = 440.0 * 2 ** ((pitch - 69) / 12)
    assert b.audio.shape == (1, 16000) and torch.isfinite(b.audio).all()
    assert float(b.audio.abs().max()) > 0.01
    est = estimate_f0(b.audio[0, :12000].numpy(), 16000)
    assert abs(1200 * np.log2(est / expected)) < 30, f"program {program} pitch {pitch}: {est:.1f} Hz"
    assert torch.allclose(b.f0_hz, torch.full((1, 250), expected))
    assert b.family_names == [FAMILIES[sfnt.gm_family(program)]]
    assert b.source.startswith("soundfont:") and b.program.tolist() == [program]


@needs_soundfont
def test_render_batch_slots_labels_and_cache(tmp_path):
    progs, pitches, vels = [24, 56, 12], [48, 60, 72], [40, 100, 127]
    b = sfnt.render_notes(progs, pitches, vels, duration=0.5, hold=0.3, cache_dir=tmp_path)
    assert b.audio.shape == (3, 8000) and b.loudness_db.shape == (3, 125)
    # note-off at 0.3 s, then the release: quieter at the end than in the middle
    assert all(float(b.loudness_db[i, -3:].mean()) < float(b.loudness_db[i, 20:60].mean()) for i in range(3))
    # each slot holds its own note only: onsets within the first 20 ms
    onsets = [int(np.argmax(np.abs(x.numpy()) > 1e-3)) for x in b.audio]
    assert max(onsets) < 320
    cached = list(tmp_path.glob("soundfont_*.safetensors"))
    assert len(cached) == 1
    again = sfnt.render_notes(progs, pitches, vels, duration=0.5, hold=0.3, cache_dir=tmp_path)
    assert torch.equal(again.audio, b.audio) and again.program.tolist() == progs
    cached[0].write_bytes(b"damaged")  # a damaged cache is re-rendered, not trusted, and said so
    with pytest.warns(UserWarning, match="re-rendering the notes: the cache .* is damaged"):
        third = sfnt.render_notes(progs, pitches, vels, duration=0.5, hold=0.3, cache_dir=tmp_path)
    assert torch.allclose(third.audio, b.audio)


@needs_soundfont
def test_make_soundfont_notes_labels():
    b = sfnt.make_soundfont_notes(8, 0.5, seed=0)
    assert len(b) == 8
    for fam, prog in zip(b.family_names, b.program.tolist()):
        assert prog in sfnt.DEFAULT_PROGRAMS[fam]
