"""Plotting helpers shared by the chapters: figures readable at 100 % zoom, and spectrogram grids.

Figures end up inside committed notebooks. They stay readable (`readable_figures()`: 100 dpi,
column-wide, no text under 9 pt) and the files stay small because `scripts/build_notebooks.py`
stores them as palette PNGs, not because the figures are shrunk.
"""

from __future__ import annotations

from collections.abc import Sequence

MIN_FONT_PT = 9  # the smallest text any figure of the book may show (tests/test_figure_text.py)


def readable_figures(dpi: int = 100, size: tuple[float, float] = (9.0, 3.0), font_size: float = 10.0) -> None:
    """Figures that read at 100 % zoom in JupyterLab: as wide as the text column (9 in at 100 dpi =
    900 px), no text below 9 pt. Notebooks stay small through PNG compression, not tiny figures."""
    if font_size - 1 < MIN_FONT_PT:
        raise ValueError(
            f"font_size {font_size} would put tick labels under {MIN_FONT_PT} pt; use at least {MIN_FONT_PT + 1}"
        )
    import matplotlib as mpl
    import matplotlib.pyplot as plt  # noqa: F401  (activates the notebook backend first, so it cannot undo this)

    mpl.rcParams.update(
        {
            "figure.dpi": dpi,
            "savefig.dpi": dpi,
            "figure.figsize": size,
            "font.size": font_size,
            "axes.titlesize": font_size + 1,
            "axes.labelsize": font_size,
            "xtick.labelsize": font_size - 1,
            "ytick.labelsize": font_size - 1,
            "legend.fontsize": font_size - 1,
            "figure.constrained_layout.use": True,
        }
    )


def spectrogram_grid(
    audios: Sequence,
    sr: int,
    *,
    ncols: int,
    titles: Sequence[str] | None = None,
    row_labels: Sequence[str] | None = None,
    log_freq: bool = True,
    cell: tuple[float, float] = (1.3, 1.0),
    n_fft: int = 512,
    hop: int = 128,
    colors: int | None = 12,
):
    """A grid of small spectrograms (one per sound), e.g. instrument families x pitches.

    The colour map is quantised to `colors` levels by default: the PNG stays small in a
    committed notebook and the picture barely changes."""
    import matplotlib.pyplot as plt

    from .audio.analysis import plot_spectrogram

    n = len(audios)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(cell[0] * ncols + 0.8, cell[1] * nrows + 0.3),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="none",
    )  # constrained layout is slow for big grids
    fig.subplots_adjust(
        left=0.75 / (cell[0] * ncols + 0.8),
        right=0.98,
        bottom=0.3 / (cell[1] * nrows + 0.3),
        top=1 - 0.25 / (cell[1] * nrows + 0.3),
        wspace=0.08,
        hspace=0.35,
    )
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        plot_spectrogram(
            audios[i],
            sr,
            ax=ax,
            log_freq=log_freq,
            n_fft=n_fft,
            hop=hop,
            labels=False,
            title=titles[i] if titles else None,
            colors=colors,
        )
        ax.tick_params(labelsize=9)
        if row_labels is not None and i % ncols == 0:
            ax.set_ylabel(row_labels[i // ncols], fontsize=9)
    return fig
