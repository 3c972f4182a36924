"""Chapter 5's interactive sine mixer: sliders for a few sine waves, their sum redrawn and playable.

In a live notebook `show_sine_mixer()` displays ipywidgets: per wave a FloatSlider
"freq i (Hz)" and "amp i", a readout (HTML with CSS class `musicgan-readout`) that states
the current mix, an Output holding the plot and an Audio player. In batch runs (course
runner, nbval, CI) it draws the same plot as a static figure instead, so nothing waits
for a user and the saved notebook shows a picture rather than a dead widget.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..device import is_batch_run
from .synth import sine

READOUT_CLASS = "musicgan-readout"


def mix(freqs: Sequence[float], amps: Sequence[float], sr: int = 16000, duration: float = 1.0) -> torch.Tensor:
    """The sum of sines sum_i amps[i] * sin(2 pi freqs[i] t): the sound the mixer plays.

    Returns audio [T] float32, T = round(duration * sr); partials at 0 Hz or at or above sr / 2 are left out.
    """
    out = torch.zeros(int(round(duration * sr)))
    for f, a in zip(freqs, amps):
        if a != 0 and 0 < f < sr / 2:
            out += sine(float(f), duration, sr, amplitude=float(a))
    return out


def describe(freqs: Sequence[float], amps: Sequence[float]) -> str:
    """One line for the readout: the active components and the peak of their sum."""
    parts = [f"{a:.2f} x {f:.0f} Hz" for f, a in zip(freqs, amps) if a > 0]
    return " + ".join(parts) if parts else "silence"


def plot_mix(freqs: Sequence[float], amps: Sequence[float], sr: int = 16000, window_s: float = 0.02, fig=None):
    """Components and their sum over the first window_s seconds, plus the spectrum of the sum."""
    import matplotlib.pyplot as plt

    from .analysis import plot_spectrum

    duration = 1.0
    total = mix(freqs, amps, sr, duration)
    n = int(window_s * sr)
    t = np.arange(n) / sr * 1000
    if fig is None:
        fig = plt.figure(figsize=(9, 3.2))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    for i, (f, a) in enumerate(zip(freqs, amps)):
        if a > 0 and 0 < f < sr / 2:  # the same components `mix` plays (above Nyquist they would alias)
            ax1.plot(t, sine(float(f), duration, sr, amplitude=float(a))[:n], lw=0.7, alpha=0.6, label=f"{f:.0f} Hz")
    ax1.plot(t, total[:n], color="k", lw=1.4, label="sum")
    ax1.set_xlabel("time (ms)")
    ax1.set_title("sines and their sum")
    ax1.legend(loc="upper right", ncol=2, fontsize=9)
    plot_spectrum(total, sr, ax=ax2, fmax=max(max(freqs) * 1.5, 500), floor_db=-60, title="spectrum of the sum")
    return fig


def show_sine_mixer(
    freqs: Sequence[float] = (220.0, 330.0, 440.0),
    amps: Sequence[float] = (1.0, 0.5, 0.25),
    sr: int = 16000,
    *,
    static: bool | None = None,
):
    """Display the mixer (live widgets) or its static figure (batch runs); return the widget or None."""
    if len(freqs) != len(amps):
        raise ValueError(f"need one amplitude per frequency, got {len(freqs)} and {len(amps)}")
    if static is None:
        static = is_batch_run()
    if static:
        import matplotlib.pyplot as plt

        plot_mix(freqs, amps, sr)
        print("static figure (batch run): in JupyterLab this cell shows sliders to change the waves")
        print("mix:", describe(freqs, amps))
        plt.show()
        return None
    return _build_widget(freqs, amps, sr)


def _build_widget(freqs, amps, sr):
    import ipywidgets as W
    import matplotlib.pyplot as plt
    from IPython.display import display

    from .player import wav_bytes

    f_sliders = [
        W.FloatSlider(
            value=float(f),
            min=50.0,
            max=2000.0,
            step=1.0,
            description=f"freq {i + 1} (Hz)",
            continuous_update=False,
            style={"description_width": "80px"},
        )
        for i, f in enumerate(freqs)
    ]
    a_sliders = [
        W.FloatSlider(
            value=float(a),
            min=0.0,
            max=1.0,
            step=0.05,
            description=f"amp {i + 1}",
            continuous_update=False,
            style={"description_width": "80px"},
        )
        for i, a in enumerate(amps)
    ]
    readout = W.HTML()
    readout.add_class(READOUT_CLASS)
    out = W.Output()
    audio = W.Audio(format="wav", autoplay=False, loop=False)

    def redraw(_change=None):
        fs = [s.value for s in f_sliders]
        as_ = [s.value for s in a_sliders]
        readout.value = f"<b>mix:</b> {describe(fs, as_)}"
        total = mix(fs, as_, sr)
        audio.value = wav_bytes(total if total.abs().max() > 0 else torch.zeros_like(total), sr)
        with out:
            out.clear_output(wait=True)
            plot_mix(fs, as_, sr)
            plt.show()

    for s in f_sliders + a_sliders:
        s.observe(redraw, names="value")
    rows = [W.HBox([fs, as_]) for fs, as_ in zip(f_sliders, a_sliders)]
    ui = W.VBox(rows + [readout, audio, out])
    redraw()
    display(ui)
    return ui
