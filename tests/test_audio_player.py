"""play() never fails without a display and leaves WAV files in batch runs; the sine mixer."""

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from musicgan_lib.audio import player  # noqa: E402
from musicgan_lib.audio import widgets  # noqa: E402
from musicgan_lib.audio.synth import sine  # noqa: E402

SR = 16000


def test_play_headless_writes_a_wav(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    x = 3.0 * sine(440.0, 0.5, SR)  # louder than full scale: normalised, not clipped
    assert player.play(x, SR, name="my tone!", folder=tmp_path) is None
    path = player.last_saved()
    assert path == tmp_path / "my_tone_.wav" and path.exists()
    y, sr = sf.read(path)
    assert sr == SR and len(y) == len(x)
    assert 0.9 < np.abs(y).max() <= 0.96
    assert "audio written to" in capsys.readouterr().out


def test_play_without_batch_or_ipython_still_saves(tmp_path, monkeypatch):
    monkeypatch.delenv("MUSICGAN_BATCH", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("MUSICGAN_OUT", str(tmp_path))
    player.play(np.zeros(100, dtype=np.float32), SR)  # silence is fine too
    saved = player.last_saved()
    assert saved is not None and saved.parent == tmp_path / "audio"


def test_play_in_a_kernel_displays_a_player(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(player, "_in_notebook", lambda: True)
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    monkeypatch.delenv("MUSICGAN_BATCH", raising=False)
    monkeypatch.delenv("CI", raising=False)
    player.play(sine(220.0, 0.2, SR), SR, folder=tmp_path, save=False)
    assert len(shown) == 1 and type(shown[0]).__name__ == "Audio"
    assert not list(tmp_path.iterdir())  # live and not asked to save: no file
    html = shown[0]._repr_html_()
    assert "data:audio/mpeg;base64," in html  # embedded compressed: notebooks with minutes of music stay small
    music = sine(220.0, 5.0, SR) + 0.3 * torch.randn(5 * SR, generator=torch.Generator().manual_seed(0))
    assert len(player.mp3_bytes(music, SR)) < len(player.wav_bytes(music, SR)) / 3


def test_play_rejects_nonsense():
    with pytest.raises(ValueError, match="NaN"):
        player.play(torch.tensor([0.0, float("nan")]), SR, save=False)
    with pytest.raises(ValueError):
        player.play(torch.zeros(0), SR, save=False)


def test_wav_bytes_is_a_wav():
    data = player.wav_bytes(sine(440.0, 0.1, SR), SR)
    y, sr = sf.read(io.BytesIO(data))
    assert data[:4] == b"RIFF" and sr == SR and len(y) == SR // 10


def test_mixer_sum_and_readout():
    total = widgets.mix([100.0, 200.0], [1.0, 0.5], SR)
    expected = sine(100.0, 1.0, SR) + 0.5 * sine(200.0, 1.0, SR)
    assert torch.allclose(total, expected, atol=1e-6)
    assert widgets.describe([100.0, 200.0], [1.0, 0.0]) == "1.00 x 100 Hz"
    assert widgets.describe([100.0], [0.0]) == "silence"


def test_mixer_static_in_batch_runs(monkeypatch, capsys):
    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    assert widgets.show_sine_mixer() is None  # a figure, no widget, nothing waits
    out = capsys.readouterr().out
    assert "static figure" in out and "220 Hz" in out
    import matplotlib.pyplot as plt

    plt.close("all")


def test_mixer_widget_structure(monkeypatch):
    """The live widget: labelled sliders, a readout that follows them, a plot Output and an Audio player."""
    import IPython.display
    import ipywidgets as W

    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: None)
    ui = widgets.show_sine_mixer(freqs=(220.0, 330.0), amps=(1.0, 0.5), static=False)
    flat = []

    def walk(w):
        flat.append(w)
        for child in getattr(w, "children", ()):
            walk(child)

    walk(ui)
    sliders = {w.description: w for w in flat if isinstance(w, W.FloatSlider)}
    assert {"freq 1 (Hz)", "freq 2 (Hz)", "amp 1", "amp 2"} <= set(sliders)
    readout = next(w for w in flat if isinstance(w, W.HTML))
    assert widgets.READOUT_CLASS in readout._dom_classes
    assert "220 Hz" in readout.value
    audio = next(w for w in flat if isinstance(w, W.Audio))
    before = bytes(audio.value)
    assert before[:4] == b"RIFF"
    assert any(isinstance(w, W.Output) for w in flat)
    sliders["freq 1 (Hz)"].value = 500.0
    assert "500 Hz" in readout.value and bytes(audio.value) != before
    import matplotlib.pyplot as plt

    plt.close("all")
