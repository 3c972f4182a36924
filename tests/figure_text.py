"""The smallest text a matplotlib figure shows, for the "no text under 9 pt" rule (viz.MIN_FONT_PT)."""

from matplotlib.text import Text


def smallest_text_pt(fig) -> float:
    """The smallest font size (points) of any visible, non-empty text in `fig` (titles, labels,
    tick labels, legends, annotations), after a draw so tick labels exist."""
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes)
