import math

import numpy as np
import pytest
import torch
from torch import nn

from musicgan_lib.data.sprites import make_sprites
from musicgan_lib.models.dcgan import (
    DCGANDiscriminator,
    DCGANGenerator,
    MinibatchStdDev,
    count_parameters,
    dcgan_init,
    dcgan_optimizers,
)
from musicgan_lib.recipes import dcgan_pixels as ch2


def _tiny_config(**changes):
    cfg = ch2.DCGANConfig.for_profile("quick")
    base = dict(batch_size=16, ngf=8, ndf=8, latent_dim=16, dataset_size=64, frames=4, eval_samples=200)
    return ch2.with_steps(cfg, **{**base, **changes})


# ---- architecture ---------------------------------------------------------------------------
def test_generator_and_discriminator_shapes_and_output_range():
    g, d = DCGANGenerator(100, 32), DCGANDiscriminator(32)
    x = g(torch.randn(5, 100))
    assert x.shape == (5, 3, 32, 32)
    assert x.min() >= -1 and x.max() <= 1
    assert g(torch.randn(5, 100, 1, 1)).shape == (5, 3, 32, 32)
    assert d(x).shape == (5, 1)
    g64, d64 = DCGANGenerator(16, 8, image_size=64), DCGANDiscriminator(8, image_size=64)
    assert d64(g64(torch.randn(2, 16))).shape == (2, 1)
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(16, 8, image_size=48)
    with pytest.raises(ValueError, match="latents"):
        g(torch.randn(5, 99))


def _layers(module):
    return [m for m in module.net]


def test_batch_norm_everywhere_except_generator_output_and_discriminator_input():
    g = _layers(DCGANGenerator(100, 32))
    convs = [i for i, m in enumerate(g) if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == 4
    for i in convs[:-1]:  # ConvT -> BN -> ReLU
        assert isinstance(g[i + 1], nn.BatchNorm2d) and isinstance(g[i + 2], nn.ReLU)
    assert isinstance(g[convs[-1] + 1], nn.Tanh) and g[-1] is g[convs[-1] + 1]
    assert all(m.stride == (2, 2) for m in (g[i] for i in convs[1:]))

    d = _layers(DCGANDiscriminator(32))
    convs = [i for i, m in enumerate(d) if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    assert isinstance(d[convs[0] + 1], nn.LeakyReLU)  # input layer: no BN
    for i in convs[1:-1]:
        assert isinstance(d[i + 1], nn.BatchNorm2d) and isinstance(d[i + 2], nn.LeakyReLU)
        assert d[i + 2].negative_slope == pytest.approx(0.2)
    assert convs[-1] == len(d) - 1  # the last conv gives the logit: no BN, no sigmoid
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in d + g)  # all-convolutional


def test_weights_are_initialised_from_normal_0_002():
    torch.manual_seed(0)
    g, d = DCGANGenerator(100, 64), DCGANDiscriminator(64)
    w = torch.cat(
        [
            m.weight.flatten()
            for m in list(g.modules()) + list(d.modules())
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
        ]
    )
    assert w.numel() > 1_000_000
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.02)
    bn = torch.cat([m.weight for m in list(g.modules()) + list(d.modules()) if isinstance(m, nn.BatchNorm2d)])
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01) and bn.std().item() == pytest.approx(0.02, rel=0.3)
    biases = [m.bias for m in d.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) and m.bias is not None]
    assert all((b == 0).all() for b in biases)
    # spectral-normalised convs are initialised through weight_orig
    sn = DCGANDiscriminator(16, spectral_norm=True)
    conv = sn.net[0]
    conv.apply(dcgan_init)
    assert conv.parametrizations.weight.original.std().item() == pytest.approx(0.02, rel=0.3)


def test_optimizers_follow_the_paper():
    g, d = DCGANGenerator(16, 8), DCGANDiscriminator(8)
    g_opt, d_opt = dcgan_optimizers(g, d, d_lr=4e-4)
    for opt, lr in ((g_opt, 2e-4), (d_opt, 4e-4)):
        group = opt.param_groups[0]
        assert isinstance(opt, torch.optim.Adam) and group["lr"] == lr and group["betas"] == (0.5, 0.999)


def test_minibatch_stddev_sees_a_collapsed_batch_and_packing_groups_samples():
    layer = MinibatchStdDev(group_size=4)
    varied = torch.randn(8, 5, 4, 4)
    same = torch.randn(1, 5, 4, 4).expand(8, -1, -1, -1)
    assert layer(varied).shape == (8, 6, 4, 4)
    assert layer(varied)[:, -1].min() > 0.5
    assert layer(same)[:, -1].abs().max() < 1e-3
    assert torch.isfinite(layer(torch.randn(1, 5, 4, 4))).all()  # a batch of one gives no NaN
    d = DCGANDiscriminator(8, minibatch_std=True)
    assert d(torch.randn(6, 3, 32, 32)).shape == (6, 1)  # 6 is not a multiple of 4: one group
    packed = DCGANDiscriminator(8, pack=2)
    assert packed(torch.randn(6, 3, 32, 32)).shape == (3, 1)
    with pytest.raises(ValueError, match="packed"):
        packed(torch.randn(5, 3, 32, 32))


def test_parameter_counts_are_small_enough_to_ship():
    assert count_parameters(DCGANGenerator(100, 32)) < 400_000  # < 0.8 MB in fp16


# ---- training -------------------------------------------------------------------------------
def test_discriminator_steps_lower_its_loss_and_a_few_gan_steps_move_both_nets():
    torch.manual_seed(0)
    cfg = _tiny_config()
    run = ch2.make_run("dcgan", cfg, seed=0, total_steps=6)
    g, d = run.trainer.generator, run.trainer.critic
    loss = run.trainer.loss
    real = ch2.sprite_dataset(cfg)[:32]
    with torch.no_grad():
        fake = g(torch.randn(32, cfg.latent_dim))
    opt = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    losses = []
    for _ in range(15):  # D alone against a fixed generator: it must learn to tell them apart
        critic_loss, _ = loss.critic_loss(d, real, fake)
        opt.zero_grad()
        critic_loss.backward()
        opt.step()
        losses.append(critic_loss.item())
    assert losses[-1] < losses[0] - 0.1

    run = ch2.make_run("dcgan", cfg, seed=0, total_steps=6)
    before = {k: v.clone() for k, v in run.trainer.generator.state_dict().items()}
    d_before = [p.clone() for p in run.trainer.critic.parameters()]
    hist = run.train(6)
    assert len(hist["d_loss"]) == 6 and all(math.isfinite(v) for v in hist["d_loss"] + hist["g_loss"])
    assert any(not torch.equal(before[k], v) for k, v in run.trainer.generator.state_dict().items())
    assert any(not torch.equal(a, b) for a, b in zip(d_before, run.trainer.critic.parameters()))
    assert [s for s, _ in run.frames] == ch2.frame_steps(6, cfg.frames)
    assert run.frames[-1][1].shape == (ch2.FRAME_SPRITES, 32, 32, 3)


def test_same_seed_same_run_bit_for_bit():
    cfg = _tiny_config()
    a = ch2.make_run(ch2.REMEDY, cfg, seed=3, total_steps=3)
    a.train(3)
    b = ch2.make_run(ch2.REMEDY, cfg, seed=3, total_steps=3)
    b.train(3)
    for x, y in zip(a.generator.state_dict().values(), b.generator.state_dict().values()):
        assert torch.equal(x, y)
    assert a.trainer.history["d_loss"] == b.trainer.history["d_loss"]
    assert torch.equal(a.sample(8), b.sample(8))
    assert torch.equal(ch2.sample_generator(a.generator, 4, seed=1), ch2.sample_generator(a.generator, 4, seed=1))


def test_attribute_checks_during_training_are_recorded_shipped_and_change_nothing(tmp_path):
    untracked = ch2.make_run(ch2.PLAIN, _tiny_config(track_every=0), seed=1, total_steps=6)
    untracked.train(6)
    tracked = ch2.make_run(ch2.PLAIN, _tiny_config(track_every=2, track_samples=40), seed=1, total_steps=6)
    tracked.train(6)
    assert untracked.attribute_track is None
    track = tracked.attribute_track
    assert track.steps == [2, 4, 6] and all(len(track.histograms[k]) == 3 for k in track.attributes)
    assert all(abs(sum(row) - 1) < 1e-9 for rows in track.histograms.values() for row in rows)
    # the checks sample with their own fixed latents: training is the same to the bit
    for x, y in zip(untracked.generator.state_dict().values(), tracked.generator.state_dict().values()):
        assert torch.equal(x, y)
    assert untracked.trainer.history == tracked.trainer.history
    assert ch2.load_generator(ch2.save_generator(tmp_path / "t.safetensors", tracked)).attribute_track == track
    assert ch2.load_generator(ch2.save_generator(tmp_path / "u.safetensors", untracked)).attribute_track is None


def test_frame_steps_start_at_zero_and_end_at_the_last_step():
    s = ch2.frame_steps(4000, 20)
    assert s[0] == 0 and s[-1] == 4000 and s == sorted(set(s)) and len(s) <= 20
    assert s[5] < 4000 / 20  # geometric: early steps are sampled densely


def test_profiles():
    q, f = ch2.DCGANConfig.for_profile("quick"), ch2.DCGANConfig.for_profile("full")
    assert q.live_steps < q.steps and not q.retrain
    assert f.retrain and f.live_steps == f.steps and f.ngf >= q.ngf
    assert (
        q.steps_for(ch2.REMEDY)
        == q.remedy_steps
        > q.steps
        == q.steps_for(ch2.PLAIN)
        == q.steps_for(ch2.UNSUPERVISED_REMEDY)
    )
    assert f.steps_for(ch2.REMEDY) == f.remedy_steps >= f.steps
    for recipe, steps in ((ch2.REMEDY, 6), (ch2.PLAIN, 3)):  # a run's frames are spread over that recipe's complete run
        run = ch2.make_run(recipe, _tiny_config(steps=3, remedy_steps=6), seed=0)
        run.train(steps)
        assert [s for s, _ in run.frames] == ch2.frame_steps(steps, 4)
    with pytest.raises(ValueError, match="PROFILE"):
        ch2.DCGANConfig.for_profile("huge")


# ---- checkpoints ----------------------------------------------------------------------------
def test_generator_round_trip_through_save_and_load(tmp_path):
    cfg = _tiny_config()
    run = ch2.make_run(ch2.REMEDY, cfg, seed=0, total_steps=2)
    run.train(2)
    path = ch2.save_generator(tmp_path / "g.safetensors", run, extra_meta={"note": "test"})
    shipped = ch2.load_generator(path)
    assert shipped.meta["recipe"] == ch2.REMEDY and shipped.meta["note"] == "test" and shipped.meta["steps"] == 2
    assert [s for s, _ in shipped.frames] == [s for s, _ in run.frames]
    assert np.array_equal(shipped.frames[-1][1], run.frames[-1][1])
    a, b = run.sample(16), ch2.sample_generator(shipped.generator, 16)
    assert (a - b).abs().max() < 0.02  # fp16 storage: same pictures
    full = ch2.save_generator(tmp_path / "g32.safetensors", run, half=False)
    # fp32 storage loses nothing (up to float rounding: the live module is channels_last, the loaded one is not)
    assert torch.allclose(ch2.sample_generator(ch2.load_generator(full).generator, 16), a, rtol=0, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="make_dcgan_weights"):
        ch2.load_generator(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("recipe", [ch2.PLAIN, ch2.UNSUPERVISED_REMEDY, ch2.REMEDY])
def test_shipped_weights_load_and_generate(recipe):
    path = ch2.shipped_path(recipe, "quick")
    assert path.exists(), f"{path} is missing: run scripts/make_dcgan_weights.py"
    assert path.stat().st_size < 2_000_000
    shipped = ch2.load_generator(path)
    assert shipped.meta["recipe"] == recipe and shipped.meta["steps"] == ch2.DCGANConfig.for_profile("quick").steps_for(
        recipe
    )
    x = ch2.sample_generator(shipped.generator, 8)
    assert x.shape == (8, 3, 32, 32) and torch.isfinite(x).all() and x.abs().max() <= 1
    assert len(shipped.frames) >= 10 and shipped.frames[0][0] == 0


# ---- evaluation -----------------------------------------------------------------------------
def test_evaluate_generator_on_real_and_collapsed_sprites():
    real = ch2.reference_sprites(500)
    fresh = make_sprites(500, seed=4321).images
    good = ch2.evaluate_generator(fresh, n=500, real=real)
    m = good.metrics()
    assert set(m) == {"combo_coverage", "high_quality", "attribute_kl", "fd", "fd_floor", "kid"}
    assert m["high_quality"] > 0.9 and m["attribute_kl"] < 0.1
    assert m["fd"] < 3 * m["fd_floor"] + 0.5
    collapsed = ch2.evaluate_generator(fresh[:1].expand(500, -1, -1, -1), n=500, real=real)
    assert collapsed.attributes.n_covered == 1 and collapsed.metrics()["attribute_kl"] > 3
    assert collapsed.frechet.fd > 10 * good.frechet.fd
    assert not collapsed.checks()["combo_coverage"]
    table = ch2.comparison_table({"real": good, "one sprite": collapsed})
    assert "real" in table and "one sprite" in table and "target" in table


def test_frechet_over_draws_redraws_latents_and_real_sprites():
    g = DCGANGenerator(16, 8)
    spread = ch2.frechet_over_draws(g, draws=2, n=200, first_seed=77)
    assert len(spread.reports) == 2 and spread.reports[0].n == 200
    # draw k is evaluate_generator's FD with latent seed first_seed + k and real sprites of that seed
    alone = ch2.evaluate_generator(g, n=200, seed=78, real=make_sprites(400, seed=78).images).frechet
    assert math.isclose(spread.fd[1], alone.fd, rel_tol=1e-5) and spread.floor[1] == alone.fd_floor
    assert spread.fd[0] != spread.fd[1] and spread.floor[0] != spread.floor[1]  # two different draws
    np.testing.assert_allclose(spread.ratio, spread.fd / spread.floor)
    assert math.isclose(spread.kid[1], alone.kid, rel_tol=1e-5) and spread.kid_floor[1] == alone.kid_floor
    assert (spread.kid > 10 * np.abs(spread.kid_floor)).all()  # the KID floor sits near 0, the untrained G far above
    assert (spread.ratio > 3).all()  # an untrained generator is far from real sprites in every draw
    assert "over 2 draws of N = 200" in spread.summary() and f"KID {spread.kid.min():.4f}-" in spread.summary()
    with pytest.raises(TypeError, match="latent_dim"):
        ch2.frechet_over_draws(lambda n: torch.zeros(n, 3, 32, 32))
    with pytest.raises(ValueError, match="draws must be >= 1"):
        ch2.frechet_over_draws(g, draws=0)


def test_diagnose_spread_points_at_what_noisy_sprites_add():
    fresh = make_sprites(500, seed=4321).images
    speckled = fresh.clone()
    speckled[:250] += 0.4 * torch.randn(250, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    speckled = speckled.clamp(-1, 1)
    clean, noisy = ch2.diagnose_spread(fresh, n=500), ch2.diagnose_spread(speckled, n=500)
    assert clean.real_features.shape == (500, 64) and clean.generated_images.shape == (500, 3, 32, 32)
    assert noisy.directions.contribution.sum() > 3 * clean.directions.contribution.sum()
    # along the worst direction the speckled half sits further from the real mean than the clean half
    worst = noisy.directions.worst(1)[0]
    coord = noisy.directions.project(noisy.generated_features, worst)
    assert coord[:250].mean().abs() > 2 * coord[250:].mean().abs()
    real_ends, generated_ends = noisy.extremes(worst, k=6)
    assert real_ends.shape == generated_ends.shape == (6, 3, 32, 32)
    ends = noisy.directions.project(noisy.generated_features, worst).argsort()
    torch.testing.assert_close(generated_ends[0], speckled[ends[0]])
    torch.testing.assert_close(generated_ends[-1], speckled[ends[-1]])


def test_evaluate_generator_accepts_a_module_or_a_sample_function():
    g = DCGANGenerator(16, 8)
    before = {k: v.clone() for k, v in g.state_dict().items()}
    by_module = ch2.evaluate_generator(g, n=200)  # samples a copy with standing batch-norm statistics
    by_fn = ch2.evaluate_generator(lambda n: ch2.sample_generator(ch2.standing_copy(g), n), n=200)
    assert by_module.metrics() == by_fn.metrics()
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())  # the caller's module is untouched
    assert by_module.attributes.high_quality < 0.2  # an untrained generator makes no characters
    with pytest.raises(ValueError, match="needs n"):
        ch2.evaluate_generator(torch.zeros(10, 3, 32, 32), n=200)


def test_sprite_evaluation_and_training_sprites_have_one_home_that_chapters_2_to_4_share():
    from musicgan_lib import train
    from musicgan_lib.data import sprites
    from musicgan_lib.metrics import sprite_eval
    from musicgan_lib.recipes import progan, wgan

    # one definition each, below the recipes; chapter 2 keeps the names its notebook uses
    for name in ("evaluate_generator", "reference_sprites", "sample_generator", "standing_copy", "comparison_table"):
        assert getattr(ch2, name) is getattr(sprite_eval, name)
    assert wgan.reference_sprites is sprite_eval.reference_sprites
    assert wgan.CLOCKS is train.CLOCKS and not hasattr(progan, "CLOCKS")  # no copy of the clocks
    # the same seeds as before the move: every recorded number depends on them
    assert (sprite_eval.EVAL_LATENT_SEED, sprite_eval.EVAL_REAL_SEED, sprite_eval.REDRAW_SEED) == (5, 999, 20_000)
    assert ch2.DATA_SEED == sprites.DATA_SEED == progan.ProGANConfig().data_seed == 1234
    cfg = _tiny_config()
    assert torch.equal(ch2.sprite_dataset(cfg), make_sprites(cfg.dataset_size, seed=1234).images)
    assert torch.equal(ch2.sprite_labels(cfg), make_sprites(cfg.dataset_size, seed=1234).labels)


def test_a_run_trained_here_gives_what_its_shipped_file_gives(tmp_path):
    run = ch2.make_run(ch2.PLAIN, _tiny_config(track_every=2, track_samples=40), seed=1, total_steps=4)
    run.train(4)
    here = ch2.ShippedGenerator.from_run(run)
    shipped = ch2.load_generator(ch2.save_generator(tmp_path / "g.safetensors", run, half=False))
    assert here.meta["steps"] == shipped.meta["steps"] == 4 and here.meta["recipe"] == shipped.meta["recipe"]
    assert [s for s, _ in here.frames] == [s for s, _ in shipped.frames]
    assert here.attribute_track == shipped.attribute_track
    a, b = ch2.sample_generator(here.generator, 8), ch2.sample_generator(shipped.generator, 8)
    assert torch.allclose(a, b, rtol=0, atol=1e-6)
    assert shipped.meta["data"]["source"].startswith("procedural") and shipped.meta["data"]["n"] == 64
    assert shipped.meta["kind"] == "dcgan_generator" and shipped.meta["train_seconds"] > 0
