"""Chapter 1's recipe: method definitions, one short training run, the summary table."""

from dataclasses import replace

import pytest
import torch

from musicgan_lib.data.toy2d import grid, ring
from musicgan_lib.losses import MinimaxLoss, NonSaturatingLoss
from musicgan_lib.metrics.modes import ModeReport
from musicgan_lib.models.toy_mlp import MLPDiscriminator, MLPGenerator
from musicgan_lib.recipes import gan_basics as ch1


def test_methods_are_what_the_chapter_says():
    assert isinstance(ch1.METHODS["minimax"].loss, MinimaxLoss)
    assert type(ch1.METHODS["non-saturating"].loss) is NonSaturatingLoss
    assert ch1.METHODS["pacgan4"].pack == 4
    assert ch1.METHODS["minibatch-std"].minibatch_std
    with pytest.raises(ValueError, match="unknown method 'gan'"):
        ch1.make_toy_trainer(ring(), "gan", 0, ch1.ToyConfig(steps=1))


def test_profiles():
    assert ch1.ToyConfig.for_profile("quick").seeds == (0, 1, 2)
    assert len(ch1.ToyConfig.for_profile("full").seeds) >= 3
    with pytest.raises(ValueError, match="unknown PROFILE 'fast'"):
        ch1.ToyConfig.for_profile("fast")


def test_packed_and_minibatch_std_discriminators():
    x = torch.randn(8, 2)
    assert MLPDiscriminator(16, 2, pack=4)(x).shape == (2, 1)
    with pytest.raises(ValueError, match="cannot be packed in groups of 3"):
        MLPDiscriminator(16, 2, pack=3)(x)
    d = MLPDiscriminator(16, 2, minibatch_std=True)
    # the appended feature depends on the whole batch: identical points give a different score
    same = x[:1].repeat(8, 1)
    assert not torch.allclose(d(same)[0], d(torch.cat([x[:1], x[1:]]))[0])


def test_lr_decay_is_a_function_of_the_step():
    g = MLPGenerator(2, 8, 1)
    opt = torch.optim.Adam(g.parameters(), lr=1.0)
    cb = ch1.linear_lr_decay([opt], 1.0, 100, 0.1)

    class Loop:
        step = 50

    cb.fn(Loop)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.55)
    Loop.step = 100
    cb.fn(Loop)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


def test_short_run_trains_measures_and_snapshots():
    config = replace(ch1.ToyConfig(steps=60, hidden=16, layers=2, batch_size=64, seeds=(0,)), snapshot_every=20)
    run = ch1.train_toy_gan(ring(), "non-saturating", 0, config, quiet=True)
    assert isinstance(run.report, ModeReport) and run.report.n_modes == 8
    assert [s for s, _ in run.snapshots] == [20, 40, 60]
    assert run.snapshots[0][1].shape == (1000, 2)
    assert len(run.history["g_loss"]) == 60
    again = ch1.train_toy_gan(ring(), "non-saturating", 0, config, quiet=True)
    assert torch.equal(run.snapshots[-1][1], again.snapshots[-1][1])  # seeded runs repeat


def _fake_run(mixture, method, seed, modes, hq, n=8):
    report = ModeReport(modes, n, hq, (0,) * n)
    return ch1.ToyRun(mixture, method, seed, report, MLPGenerator(2, 4, 1), MLPDiscriminator(4, 1), {})


def test_summary_best_method_and_table():
    runs = [
        _fake_run("ring", "minimax", 0, 6, 0.9),
        _fake_run("ring", "minimax", 1, 8, 0.7),
        _fake_run("ring", "pacgan4", 0, 8, 0.5),
        _fake_run("ring", "pacgan4", 1, 8, 0.6),
        _fake_run("ring", "non-saturating", 0, 8, 0.8),
        _fake_run("ring", "non-saturating", 1, 8, 0.9),
    ]
    summaries = ch1.summarise(runs)
    mm = next(s for s in summaries if s.method == "minimax")
    assert (mm.modes_mean, mm.modes_min, mm.modes_max, mm.seeds) == (7.0, 6, 8, 2)
    assert mm.high_quality_mean == pytest.approx(0.8)
    assert ch1.best_method(summaries, "ring").method == "non-saturating"
    # harmonic mean of coverage (7/8) and quality (0.8)
    assert ch1.balance_score(mm) == pytest.approx(2 * 0.875 * 0.8 / (0.875 + 0.8))
    table = ch1.results_table(summaries)
    assert "minimax" in table and "7.00/8  (6-8)" in table and "85.0%" in table and "0.836" in table


def test_best_method_prefers_balance_over_coverage_alone():
    runs = [
        _fake_run("grid", "blurry", 0, 25, 0.30, n=25),
        _fake_run("grid", "sharp", 0, 23, 0.60, n=25),
        _fake_run("grid", "collapsed", 0, 3, 1.0, n=25),
    ]
    assert ch1.best_method(ch1.summarise(runs), "grid").method == "sharp"


@pytest.mark.slow
def test_compare_methods_in_worker_processes_matches_in_process():
    config = ch1.ToyConfig(steps=30, hidden=16, layers=2, batch_size=64, seeds=(0, 1))
    parallel = ch1.compare_methods([grid()], ["minimax"], config, workers=2)
    serial = ch1.compare_methods([grid()], ["minimax"], config, workers=1)
    assert [r.report for r in parallel] == [r.report for r in serial]


def test_plots_draw_from_a_short_run():
    import matplotlib

    matplotlib.use("Agg")
    from musicgan_lib import toyplots

    config = replace(ch1.ToyConfig(steps=20, hidden=16, layers=2, batch_size=64, seeds=(0,)), snapshot_every=10)
    for method in ("non-saturating", "minibatch-std", "pacgan4"):
        run = ch1.train_toy_gan(grid(), method, 0, config, quiet=True)
        assert len(toyplots.scatter_over_training(grid(), run.snapshots).axes) == 2
        fig = toyplots.decision_surface(run.critic, grid(), run.snapshots[-1][1], resolution=20)
        assert fig.axes[0].images[0].get_array().shape == (20, 20)
    assert toyplots.loss_curves(run.history, smooth=5).axes[0].lines
    assert len(toyplots.samples_by_method([run], "grid").axes) == 1
