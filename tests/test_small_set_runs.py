"""Chapter 2's shipped small-set runs: the plain discriminator memorises 153 real sprites, DiffAugment's does not."""

import numpy as np
import pytest

from musicgan_lib.data.sprite_sets import freeciv_installed, units_and_buildings
from musicgan_lib.metrics.sprite_eval import sample_generator
from musicgan_lib.metrics.sprite_features import generic_sprite_report
from musicgan_lib.recipes import dcgan_pixels as ch2
from musicgan_lib.spriteplots import memorising_figure


@pytest.fixture(scope="module")
def runs():
    return {recipe: ch2.load_generator(ch2.small_set_path(recipe)) for recipe in ch2.SMALL_SET_RECIPES}


def _gaps(run) -> np.ndarray:
    return np.array([e["d_prob_train"] - e["d_prob_held_out"] for e in run.meta["memorising_log"]])


def test_the_shipped_logs_show_memorising_without_augmentation_and_none_with_it(runs):
    plain, augmented = runs[ch2.PLAIN], runs["dcgan-diffaug"]
    for run in runs.values():
        log = run.meta["memorising_log"]
        assert run.meta["steps"] == 10_000 and run.meta["held_out"] == 32
        assert [e["step"] for e in log] == list(range(1000, 10_001, 1000))
    assert _gaps(plain).mean() > 0.5  # training sprites "real", unseen real sprites "fake"
    assert np.abs(_gaps(augmented)).max() < 0.1


def test_memorising_figure_draws_both_lines_per_run(runs):
    import matplotlib.pyplot as plt

    fig = memorising_figure({name: run.meta["memorising_log"] for name, run in runs.items()})
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert [ax.get_title() for ax in fig.axes] == list(runs)
    plt.close(fig)


@pytest.mark.skipif(not freeciv_installed(), reason="freeciv-data is not installed (make deps installs it)")
def test_the_augmented_generator_is_closer_to_the_real_set_and_reaches_more_of_it(runs):
    real = units_and_buildings()
    assert real.shape == (185, 3, 32, 32)
    reports = {
        name: generic_sprite_report(real, sample_generator(run.generator, 92, seed=1), n=92)
        for name, run in runs.items()
    }
    plain, augmented = reports[ch2.PLAIN], reports["dcgan-diffaug"]
    assert augmented.fd < 2 * augmented.fd_floor < plain.fd
    assert augmented.recall > 0.3 > plain.recall
