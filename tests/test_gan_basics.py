"""Chapter 1's recipe: method definitions, one short training run, the summary table."""

from dataclasses import replace

import pytest
from figure_text import smallest_text_pt
import torch

from musicgan_lib.data.toy2d import grid, ring
from musicgan_lib.losses import MinimaxLoss, NonSaturatingLoss
from musicgan_lib.metrics.modes import ModeReport
from musicgan_lib.models.toy_mlp import MLPDiscriminator, MLPGenerator
from musicgan_lib.recipes import gan_basics as ch1
from musicgan_lib.viz import MIN_FONT_PT


def test_methods_are_what_the_chapter_says():
    assert isinstance(ch1.METHODS["minimax"].loss, MinimaxLoss)
    assert type(ch1.METHODS["non-saturating"].loss) is NonSaturatingLoss
    assert ch1.METHODS["pacgan4"].pack == 4
    assert ch1.METHODS["minibatch-std"].minibatch_std
    with pytest.raises(ValueError, match="unknown method 'gan'; .* or pass a MethodSpec"):
        ch1.make_toy_trainer(ring(), "gan", 0, ch1.ToyConfig(steps=1))


def test_the_vanilla_methods_use_the_unrolled_gan_papers_networks():
    trainer, _, _ = ch1.make_toy_trainer(ring(), "vanilla", 0, ch1.ToyConfig(steps=10))
    layers = list(trainer.generator.net)
    assert trainer.generator.latent_dim == 256 and sum(isinstance(m, torch.nn.Linear) for m in layers) == 3
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in layers)
    assert sum(isinstance(m, torch.nn.Linear) for m in trainer.critic.modules()) == 2  # one hidden layer
    assert isinstance(trainer.loss, MinimaxLoss) and ch1.METHODS["vanilla"].networks.final_lr_fraction == 1.0
    bn, _, _ = ch1.make_toy_trainer(ring(), "vanilla+bn", 0, ch1.ToyConfig(steps=10))
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in bn.generator.net)
    stabilised, _, _ = ch1.make_toy_trainer(ring(), "minimax", 0, ch1.ToyConfig(steps=10))
    assert stabilised.generator.latent_dim == 2


def test_profiles():
    quick = ch1.ToyConfig.for_profile("quick")
    assert quick.seeds == (0, 1, 2)
    assert quick.methods_for("ring")[:2] == ("vanilla", "vanilla+bn") and "vanilla" not in quick.methods_for("grid")
    assert len(ch1.ToyConfig.for_profile("full").seeds) >= 3
    with pytest.raises(ValueError, match="unknown PROFILE 'fast'"):
        ch1.ToyConfig.for_profile("fast")


def test_quick_is_the_defaults_and_full_a_short_list_of_overrides():
    assert ch1.ToyConfig.for_profile("quick") == ch1.ToyConfig()
    assert ch1.ToyConfig.for_profile("full") == replace(ch1.ToyConfig(), **ch1.FULL)
    quick = ch1.ToyConfig()
    assert (quick.steps_for("ring"), quick.steps_for("grid"), quick.steps_for("other")) == (1200, 4000, 3000)
    assert ch1.ToyConfig(steps=60).steps_for("ring") == 60  # an explicit `steps` holds for every mixture


def test_build_models_gives_the_networks_a_method_trains():
    g, d = ch1.build_models(ch1.ToyConfig(hidden=16), "pacgan4")
    assert g(torch.randn(8, 2)).shape == (8, 2) and d(torch.randn(8, 2)).shape == (2, 1)
    g, _ = ch1.build_models(ch1.ToyConfig(hidden=16), "vanilla")
    assert g.latent_dim == 256  # the unrolled-GAN paper's networks, whatever the config says


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


def test_tracking_measures_modes_during_training():
    config = ch1.ToyConfig(steps=60, hidden=16, layers=2, batch_size=64, seeds=(0,), track_points=3)
    run = ch1.train_toy_gan(ring(), "minimax", 0, config, quiet=True)
    assert [step for step, _ in run.track] == [20, 40, 60]
    assert all(isinstance(r, ModeReport) and sum(r.nearest_share) == pytest.approx(1) for _, r in run.track)


@pytest.mark.slow
def test_the_vanilla_game_collapses_and_batch_norm_spreads_it():
    """The chapter's claim, on one seed of the quick profile: the vanilla game piles its samples on
    few modes (and covers at most 4), batch norm in the generator reaches at least 6."""
    config = replace(ch1.ToyConfig.for_profile("quick"), snapshot_every=0, track_points=10)
    vanilla = ch1.train_toy_gan(ring(), "vanilla", 0, config, quiet=True)
    late = [r for _, r in vanilla.track[5:]]
    assert vanilla.report.modes_covered <= 4
    assert sum(max(r.nearest_share) for r in late) / len(late) > 0.4  # an even spread would be 0.125
    assert ch1.train_toy_gan(ring(), "vanilla+bn", 0, config, quiet=True).report.modes_covered >= 6


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
    table = ch1.results_table(ch1.summarise([*runs, _fake_run("ring", "vanilla", 0, 1, 0.0)]))
    assert table.splitlines()[2].startswith("blurry") and "not trained" in table.splitlines()[2]


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


def test_collapse_plots_show_every_seed_and_the_mode_shares():
    import matplotlib

    matplotlib.use("Agg")
    from musicgan_lib import toyplots

    config = ch1.ToyConfig(steps=40, hidden=16, layers=2, batch_size=64, seeds=(0, 1), track_points=4)
    runs = [ch1.train_toy_gan(ring(), "minimax", seed, config, quiet=True) for seed in config.seeds]
    fig = toyplots.mode_occupancy(runs, ring(), "minimax")
    assert smallest_text_pt(fig) >= MIN_FONT_PT
    heatmaps = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(heatmaps) == 2 and heatmaps[0].shape == (8, 4)  # modes x tracked steps, one per seed
    assert list(heatmaps[0].sum(axis=0)) == pytest.approx([1.0] * 4)  # each column: shares of all samples
    over_training = toyplots.modes_over_training(runs, ring(), ["minimax"])
    assert smallest_text_pt(over_training) >= MIN_FONT_PT
    line = over_training.axes[0].lines[0]
    assert list(line.get_xdata()) == [10, 20, 30, 40]
    last = [run.track[-1][1].modes_covered for run in runs]
    assert float(line.get_ydata()[-1]) == pytest.approx(sum(last) / 2)  # the mean over seeds
