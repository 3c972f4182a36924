import math

import numpy as np
import pytest
import torch
from torch import nn

from musicgan_lib.data.sprites import make_sprites
from musicgan_lib.metrics.wgan_curves import critic_estimate, median_filter, spearman
from musicgan_lib.recipes import dcgan_pixels, wgan
from musicgan_lib.train import CurvePoint, judged


@pytest.mark.parametrize(
    "method, clip, gp_weight, optimizer, lr, betas",
    [
        ("clip", 0.01, 0.0, torch.optim.RMSprop, 5e-5, None),  # Arjovsky et al.
        ("gp", None, 10.0, torch.optim.Adam, 1e-4, (0.0, 0.9)),  # Gulrajani et al.
    ],
)
def test_recipes_are_the_papers(method, clip, gp_weight, optimizer, lr, betas):
    spec = wgan.METHODS[method]
    assert spec.loss.clip == clip and spec.loss.gp_weight == gp_weight
    assert spec.n_critic == 5
    g, c = wgan.build_models(wgan.WGANConfig(ngf=8, ndf=8, conditional=False))
    for opt in wgan.make_optimizers(spec, g, c):
        assert isinstance(opt, optimizer)
        assert opt.param_groups[0]["lr"] == pytest.approx(lr)
        if betas is not None:
            assert opt.param_groups[0]["betas"] == betas


@pytest.mark.parametrize("conditional", [True, False])
def test_critic_has_no_batch_norm_and_outputs_a_raw_score(conditional):
    config = wgan.WGANConfig.for_profile("quick")
    assert config.conditional  # the chapter's runs use chapter 2's conditional pair
    generator, critic = wgan.build_models(wgan.WGANConfig(conditional=conditional))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in critic.modules())
    assert not any(
        n.endswith("original") for n, _ in critic.named_parameters()
    )  # no spectral norm: the bound is clip / GP's
    x, y = make_sprites(6, seed=0)
    judge = judged(critic, y if conditional else None)
    # per-sample: a sample's score does not depend on the rest of the batch (no batch statistics)
    critic.train()
    alone = judged(critic, y[:1] if conditional else None)(x[:1])
    assert torch.allclose(alone, judge(x)[:1], atol=1e-5)
    # raw score: not squashed into (0, 1)
    last = critic.head if conditional else critic.net[-1]
    nn.init.constant_(last.bias, 5.0)
    if conditional:
        for e in critic.embed:
            nn.init.zeros_(e.weight)
    assert judge(x).min() > 1.0
    assert generator.latent_dim == config.latent_dim + (5 if conditional else 0)


def test_clipping_bounds_every_critic_weight_after_a_step():
    _, critic = wgan.build_models(wgan.WGANConfig(ngf=8, ndf=8, conditional=False))
    wgan.METHODS["clip"].loss.after_critic_step(critic)
    assert max(p.abs().max().item() for p in critic.parameters()) <= 0.01 + 1e-9


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("method", ["clip", "gp"])
def test_a_few_steps_of_each_method_give_finite_losses(method, conditional):
    torch.set_num_threads(1)
    config = wgan.WGANConfig(
        ngf=8,
        ndf=8,
        batch_size=8,
        probe_every=2,
        curve_n=16,
        critic_window=3,
        max_steps=3,
        budget_seconds=1e9,
        checkpoints=(0.0,),
        conditional=conditional,
    )
    data, labels = make_sprites(64, seed=0)
    calls = []

    def score(x):
        calls.append(tuple(x.shape))
        return {"fd": float(x.std())}

    run = wgan.train_for_budget(method, config, data, labels=labels if conditional else None, score=score, log=None)
    assert run.steps == 3 and calls == [(16, 3, 32, 32)] * 2  # trained and EMA generator
    assert len(run.curve) == 1 and math.isfinite(run.curve[0].fd) and math.isfinite(run.curve[0].grad_norm)
    assert math.isfinite(run.curve[0].fd_ema)
    for key in ("estimate", "seconds"):
        assert len(run.history[key]) == 3 and all(math.isfinite(v) for v in run.history[key])
    if method == "gp":
        assert all(math.isfinite(v) for v in run.history["gp"])
    else:
        assert max(p.abs().max().item() for p in run.critic.parameters()) <= 0.01 + 1e-9
    assert run.probes and all(math.isfinite(p[2]) and p[2] >= 0 for p in run.probes)
    assert run.sample(4).shape == (4, 3, 32, 32)
    # the EMA generator is kept next to the trained one and differs from it after a few steps
    assert run.generator_ema is not None and run.final_generator is run.generator_ema
    assert not torch.allclose(run.sample(4, ema=False), run.sample(4))


def test_time_budget_stops_the_run_and_checkpoints_fire():
    torch.set_num_threads(1)
    config = wgan.WGANConfig(
        ngf=8,
        ndf=8,
        batch_size=8,
        curve_n=16,
        critic_window=3,
        max_steps=200,
        checkpoints=(0.25, 0.5, 1.0),
        clock="process",
        conditional=False,
    )
    data = make_sprites(64, seed=0).images
    seen = []
    run = wgan.train_for_budget(
        "gp",
        config,
        data,
        budget_seconds=1.0,
        score=lambda x: {"fd": 1.0},
        log=None,
        on_checkpoint=lambda r: seen.append((len(r.curve), r.steps, len(r.history["estimate"]))),
    )
    assert run.steps < 200
    assert run.seconds >= 1.0
    assert [p.step for p in run.curve] == sorted(p.step for p in run.curve)
    assert len(run.curve) == 3
    # the snapshot callback sees the run as it is at each checkpoint
    assert [k for k, _, _ in seen] == [1, 2, 3]
    assert all(steps == n_hist for _, steps, n_hist in seen)
    assert [p.seconds for p in run.curve] == sorted(p.seconds for p in run.curve)
    assert run.curve[0].seconds >= 0.25 and run.curve[1].seconds >= 0.5


@pytest.mark.parametrize("conditional", [False, True])
def test_dcgan_baseline_runs_on_the_same_budget_machinery(conditional):
    torch.set_num_threads(1)
    config = wgan.WGANConfig(
        curve_n=16, critic_window=3, max_steps=2, budget_seconds=1e9, checkpoints=(0.0,), conditional=conditional
    )
    data, labels = make_sprites(256, seed=0)
    run = wgan.train_for_budget(
        "dcgan",
        config,
        data,
        labels=labels,
        score=lambda x: {"fd": 2.0},
        log=None,
        make_dcgan_run=dcgan_pixels.make_run,
    )
    assert run.steps == 2 and run.probes == [] and len(run.curve) == 1
    assert run.meta["recipe"] == ("dcgan-cond" if conditional else "dcgan")
    if conditional:
        with pytest.raises(ValueError, match="labels"):
            wgan.train_for_budget("gp", config, data, log=None)
    # for the baseline the "estimate" is minus the discriminator loss (shown for contrast only)
    assert all(v <= 0 for v in run.history["estimate"])


def test_median_filter_and_critic_estimate():
    values = [0.0, 10.0, 1.0, 2.0, 100.0, 3.0]
    filtered = median_filter(values, 3)
    # causal: entry i only sees values[i-2 : i+1]; a single outlier never passes a 3-median
    assert filtered.tolist() == [0.0, 5.0, 1.0, 2.0, 2.0, 3.0]
    assert critic_estimate(values, 3) == 3.0
    assert critic_estimate(values, 100) == pytest.approx(np.median(values))
    with pytest.raises(ValueError):
        median_filter(values, 0)


def test_spearman_on_constructed_data():
    x = np.arange(10.0)
    assert spearman(x, x**3) == pytest.approx(1.0)  # monotone, not linear: still 1
    assert spearman(x, -np.exp(x)) == pytest.approx(-1.0)
    y = np.array([1, 3, 2, 5, 4, 7, 6, 9, 8, 10], dtype=float)
    # one swap per pair: rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)) with d = +-1 for 8 of them
    assert spearman(x, y) == pytest.approx(1 - 6 * 8 / (10 * 99))
    with pytest.raises(ValueError):
        spearman([1, 2], [1, 2])


@pytest.mark.parametrize("conditional", [False, True])
def test_save_and_load_run_round_trip(tmp_path, conditional):
    config = wgan.WGANConfig(ngf=8, ndf=8, conditional=conditional)
    g, c = wgan.build_models(config)
    run = wgan.WGANRun(
        "gp",
        g,
        c,
        {"step": [1, 2], "estimate": [0.5, 0.25]},
        config=config.meta(),
        curve=[CurvePoint(step=2, seconds=1.0, critic_estimate=0.25, fd=3.0)],
        steps=2,
        seconds=1.0,
        fd_floor_curve=0.3,
    )
    run.generator_ema = wgan.build_models(config)[0]
    path = wgan.save_run(run, tmp_path / "wgan_gp_test.safetensors")
    back = wgan.load_run(path)
    assert back.generator_ema is not None and back.final_generator is back.generator_ema
    assert back.steps == 2 and back.curve[0].fd == 3.0 and back.history["estimate"] == [0.5, 0.25]
    assert type(back.generator) is type(g) and type(back.critic) is type(c)
    for (k, a), (_, b) in zip(g.state_dict().items(), back.generator.state_dict().items()):
        assert torch.allclose(a.float(), b.float(), atol=1e-3, rtol=1e-3), k


@pytest.mark.parametrize("method", wgan.RUN_NAMES)
def test_shipped_runs_load_and_sample(method):
    path = wgan.shipped_path(method, "quick")
    assert path.exists(), f"{path} is missing: run scripts/make_wgan_weights.py"
    assert path.stat().st_size < 3_000_000
    run = wgan.load_run(path)
    config = wgan.WGANConfig.for_profile("quick")
    assert run.seconds >= config.budget_seconds and len(run.curve) == len(config.checkpoints)
    assert run.generator.latent_dim == config.latent_dim + 5  # conditional, like the profile
    x = run.sample(8)
    assert x.shape == (8, 3, 32, 32) and torch.isfinite(x).all()


def test_a_stored_critic_config_rebuilds_the_critic_that_was_trained_classifier_heads_included():
    from musicgan_lib.data.sprites import ATTRIBUTE_SIZES
    from musicgan_lib.models.conditional import ProjectionDiscriminator
    from musicgan_lib.models.wgan_recipes import critic_from_config

    for heads in (False, True):
        trained = ProjectionDiscriminator(ATTRIBUTE_SIZES, 8, aux_classifier=heads)
        rebuilt = critic_from_config(trained.config)
        rebuilt.load_state_dict(trained.state_dict())  # strict: the same modules, heads or not
        assert (rebuilt.classifier is not None) == heads


def test_the_dcgan_baselines_estimate_is_its_game_loss_without_the_classifier_term():
    history = {"d_loss": [3.0, 2.0], "d_hinge": [1.5, 1.6], "w_distance": [0.2, 0.1]}
    assert wgan._estimate_series("dcgan", history) == [-1.5, -1.6]
    assert wgan._estimate_series("dcgan", {"d_loss": [3.0, 2.0]}) == [-3.0, -2.0]  # a recipe without heads
    assert wgan._estimate_series("gp", history) == [0.2, 0.1]


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_the_wgan_sizes_are_chapter_2s_of_the_same_profile(profile):
    wgan_config, dcgan_config = wgan.WGANConfig.for_profile(profile), dcgan_pixels.DCGANConfig.for_profile(profile)
    assert wgan_config.dcgan_config() == dcgan_config and wgan_config.profile == dcgan_config.profile == profile
    assert (wgan_config.latent_dim, wgan_config.ngf, wgan_config.ndf, wgan_config.eval_n) == (
        dcgan_config.latent_dim,
        dcgan_config.ngf,
        dcgan_config.ndf,
        dcgan_config.eval_samples,
    )
    assert wgan_config.channels_last == dcgan_config.channels_last and wgan_config.conditional


def test_the_shipped_runs_come_from_load_or_train_and_the_baseline_needs_chapter_2s_run_builder():
    loaded = wgan.load_or_train("quick", retrain=False)
    assert loaded.shipped and set(loaded.value) == set(wgan.RUN_NAMES) and "wgan_gp_quick" in str(loaded)
    assert all(isinstance(run, wgan.WGANRun) for run in loaded.value.values())
    with pytest.raises(ValueError, match="make_dcgan_run"):
        wgan.train_for_budget("dcgan", wgan.WGANConfig(max_steps=1), log=None)
