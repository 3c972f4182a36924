"""No figure the library draws shows text under 9 pt (viz.MIN_FONT_PT): the rule "readable at 100 %"."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from figure_text import smallest_text_pt  # noqa: E402

from musicgan_lib.models.progan_schedule import GrowthSchedule  # noqa: E402
from musicgan_lib.spriteplots import plot_fd_curve, plot_schedule  # noqa: E402
from musicgan_lib.train import CurvePoint  # noqa: E402
from musicgan_lib.viz import MIN_FONT_PT, readable_figures, spectrogram_grid  # noqa: E402


@pytest.fixture(autouse=True)
def _readable():
    with plt.rc_context():
        readable_figures()
        yield
        plt.close("all")


def test_the_helper_sees_small_text():
    fig, ax = plt.subplots()
    ax.set_title("tiny", fontsize=6)
    assert smallest_text_pt(fig) == 6


def test_progan_plots_and_spectrogram_grids_are_readable():
    schedule = GrowthSchedule.build(4, 16, stable_images=100, fade_images=200, batch_size=10)
    assert smallest_text_pt(plot_schedule(schedule).figure) >= MIN_FONT_PT
    curve = [CurvePoint(st, st * 10, 4, 1.0, "stable", float(st), 10.0 / (1 + st)) for st in range(0, 80, 10)]
    fig = plot_fd_curve(curve, schedule, floors={4: 0.1, 8: 0.1, 16: 0.1}).figure
    assert smallest_text_pt(fig) >= MIN_FONT_PT
    sounds = [torch.sin(torch.arange(4000) * 0.05 * (i + 1)) for i in range(4)]
    assert smallest_text_pt(spectrogram_grid(sounds, 16000, ncols=2, titles=list("abcd"))) >= MIN_FONT_PT


def test_readable_figures_refuses_a_font_that_makes_ticks_too_small():
    with pytest.raises(ValueError, match="tick labels under 9 pt"):
        readable_figures(font_size=9)
