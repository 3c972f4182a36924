"""Chapter 8's melodies: real corpus tunes parsed exactly, cached, split by tune, rendered with their score."""

import numpy as np
import pytest

from musicgan_lib.data import melodies as mel
from musicgan_lib.data.soundfont import soundfont_available

needs_soundfont = pytest.mark.skipif(not soundfont_available(), reason="no SoundFont or fluidsynth installed")


def _score():
    from music21 import chord, note, stream

    s = stream.Stream()
    a, b = note.Note("C4", quarterLength=1.0), note.Note("C4", quarterLength=0.5)
    a.tie, b.tie = __import__("music21").tie.Tie("start"), __import__("music21").tie.Tie("stop")
    s.append([a, b])  # tied: one note of 1.5 beats
    s.append(note.Rest(quarterLength=0.5))
    s.append(note.Note("E4", quarterLength=0.5).getGrace())  # a grace note: dropped
    s.append(chord.Chord(["E4", "G4"], quarterLength=1.0))  # a chord: its top note
    s.append(note.Note("A4", quarterLength=2.0))
    return s


def test_melody_from_score_joins_ties_skips_rests_graces_and_takes_top_notes():
    m = mel.melody_from_score(_score(), "t", "s")
    assert m.pitch.tolist() == [60, 67, 69]
    assert m.onset.tolist() == [0.0, 2.0, 3.0] and m.duration.tolist() == [1.5, 1.0, 2.0]
    assert m.beats == 5.0 and len(m) == 3


def test_melody_lengths_must_agree():
    with pytest.raises(ValueError, match="one value per note, got lengths 2, 1, 1"):
        mel.Melody(np.array([60, 62]), np.array([0.0]), np.array([1.0]))


def test_split_is_by_tune_content_and_deterministic():
    base = mel.Melody(np.array([60, 62, 64, 65]), np.arange(4.0), np.ones(4))
    transposed = mel.Melody(base.pitch + 5, base.onset, base.duration)  # the same tune in another key
    others = [mel.Melody(np.array([60, 60 + k, 60 + 2 * k]), np.arange(3.0), np.ones(3)) for k in range(1, 40)]
    tunes = [base, transposed, *others]
    train, test = mel.split_by_tune(tunes, held_out=0.3, seed=0)
    assert len(train) + len(test) == len(tunes) and test and train
    assert any(m is base for m in test) == any(m is transposed for m in test)  # both copies on one side
    assert {m.content_key() for m in train}.isdisjoint({m.content_key() for m in test})
    again = mel.split_by_tune(tunes, held_out=0.3, seed=0)
    assert [m.content_key() for m in again[1]] == [m.content_key() for m in test]
    assert [m.content_key() for m in mel.split_by_tune(tunes, 0.3, seed=1)[1]] != [m.content_key() for m in test]
    with pytest.raises(ValueError, match="held_out must be > 0 and < 1, got 1.5"):
        mel.split_by_tune(tunes, 1.5)


def test_corpus_tunes_parse_and_cache(tmp_path):
    tunes = mel.load_melodies("essen", 12, cache_dir=tmp_path, progress=False)
    assert len(tunes) == 12 and all(len(t) >= 2 for t in tunes)
    assert tunes[0].source == "altdeu10.abc#0" and tunes[0].pitch[:5].tolist() == [67, 70, 71, 72, 72]
    assert all(np.all(np.diff(t.onset) > 0) and np.all(t.duration > 0) for t in tunes)
    cache = next(tmp_path.glob("melodies_essen_12_*.npz"))
    again = mel.load_melodies("essen", 12, cache_dir=tmp_path, progress=False)
    assert all(np.array_equal(a.pitch, b.pitch) and np.array_equal(a.onset, b.onset) for a, b in zip(tunes, again))
    assert [t.title for t in again] == [t.title for t in tunes]
    cache.write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="parsing again: .* is not a melody file"):
        third = mel.load_melodies("essen", 12, cache_dir=tmp_path, progress=False)
    assert np.array_equal(third[5].pitch, tunes[5].pitch)
    with pytest.raises(ValueError, match="unknown collection 'bach'"):
        mel.parse_corpus("bach")


def test_transpositions_fit_the_instrument():
    m = mel.Melody(np.array([60, 72]), np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    shifts = mel.fitting_transpositions(m, "flute")  # flute plays 60..96
    assert shifts == list(range(0, 13))
    with pytest.raises(ValueError, match="outside the flute's 60..96; pick one of fitting_transpositions"):
        mel.render_melody(m, "flute", transpose=-1)
    with pytest.raises(ValueError, match="unknown instrument 'kazoo'"):
        mel.render_melody(m, "kazoo")
    assert len({program for program, _, _ in mel.INSTRUMENTS.values()}) >= 6


@needs_soundfont
def test_render_keeps_the_score_beside_the_audio():
    m = mel.Melody(np.array([60, 64, 67]), np.array([0.0, 1.0, 3.0]), np.array([1.0, 1.0, 1.0]))
    r = mel.render_melody(m, "clarinet", tempo_bpm=120, transpose=2, frame_rate=50, release_s=0.5)
    hop = r.sr // r.frame_rate
    assert len(r.audio) == len(r.score_f0_hz) * hop and r.frame_rate == 50
    assert len(r.score_f0_hz) == int(np.ceil((2.0 + 0.5) * 50))  # the last written note ends at 2 s, then the release
    assert r.pitch.tolist() == [62, 66, 69] and r.onsets.sum() == 3 and np.flatnonzero(r.onsets).tolist() == [0, 25, 75]
    assert r.score_f0_hz[10] == pytest.approx(440 * 2 ** ((62 - 69) / 12), rel=1e-5)
    assert r.score_f0_hz[60] == 0  # 1.21 s: the rest between note 2 (0.5-0.96 s) and note 3 (1.5 s)
    rms = np.sqrt((r.audio.reshape(-1, hop) ** 2).mean(1))
    assert rms[5:20].min() > 10 * rms[-1] or rms[-1] < 1e-4  # sound while notes play, the release fades
    f0 = 440 * 2 ** ((62 - 69) / 12)
    first = r.audio[int(0.05 * r.sr) : int(0.40 * r.sr)]
    spectrum = np.abs(np.fft.rfft(first, n=16 * len(first)))
    peak_hz = np.argmax(spectrum) * r.sr / (16 * len(first))
    assert min(abs(peak_hz / (k * f0) - 1) for k in (1, 2, 3, 4)) < 0.01  # the strongest partial is a harmonic of D4


def test_without_a_soundfont_a_synthetic_instrument_plays_and_says_so(monkeypatch):
    monkeypatch.setattr(mel, "find_soundfont", lambda: None)
    m = mel.Melody(np.array([69, 72]), np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    with pytest.warns(UserWarning, match="SYNTHETIC instrument.*install-system-deps.sh"):
        r = mel.render_melody(m, "flute", tempo_bpm=120)
    first = r.audio[800:7200]  # inside the first note (A4), after its attack
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    assert np.argmax(spectrum) * r.sr / len(first) == pytest.approx(440.0, abs=3.0)
    assert r.score_f0_hz[10] == pytest.approx(440.0) and len(r.audio) == len(r.score_f0_hz) * (r.sr // r.frame_rate)


OTHER_FONT = "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"  # Debian's musescore-general-soundfont-small


@pytest.mark.skipif(
    not (soundfont_available() and __import__("os").path.exists(OTHER_FONT)),
    reason="needs fluidsynth and a second font (musescore-general-soundfont-small)",
)
def test_another_font_plays_the_same_score():
    m = mel.Melody(np.array([69, 72, 76]), np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 1.0]))
    default = mel.render_melody(m, "violin", tempo_bpm=120)
    other = mel.render_melody(m, "violin", tempo_bpm=120, soundfont=OTHER_FONT)
    assert np.array_equal(other.score_f0_hz, default.score_f0_hz) and len(other.audio) == len(default.audio)
    assert not np.allclose(other.audio, default.audio)  # other samples, same notes
    first = other.audio[800:7200]
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    assert np.argmax(spectrum) * other.sr / len(first) == pytest.approx(440.0, rel=0.01)
