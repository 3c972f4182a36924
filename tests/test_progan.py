"""Progressive GAN: every ingredient of Karras et al. checked on its own, then the growing loop."""

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from musicgan_lib.checkpoint import read_checkpoint_meta
from musicgan_lib.losses import WassersteinLoss
from musicgan_lib.models.progan import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStdDev,
    PixelNorm,
    CodedProGenerator,
    ProCritic,
    ProGenerator,
    ProjectionProCritic,
    channel_plan,
)
from musicgan_lib.data.progan_sprites import detailed_sprites_2x, fade_real, real_sampler, resize_real, to_eval_space
from musicgan_lib.metrics.progan_fd import growth_spikes
from musicgan_lib.models.progan_schedule import GrowthSchedule
from musicgan_lib.recipes import dcgan_pixels, wgan
from musicgan_lib.recipes.progan import (
    BaselineChapters,
    ProGANConfig,
    ProGANTrainer,
    ShippedProGAN,
    baseline_recipe,
    load_asset,
    save_asset,
    train_here,
)
from musicgan_lib.train import CurvePoint

SMALL = channel_plan(64, 16, 8)
CHAPTERS = BaselineChapters.of(dcgan_pixels, wgan)  # the chapter-2 and chapter-3 baselines, handed in


def _tiny_config(**kw) -> ProGANConfig:
    base = dict(
        max_resolution=16,
        latent_dim=16,
        fmap_base=64,
        fmap_max=16,
        fmap_min=8,
        batch_sizes=(8, 8, 8),
        stable_images=(48, 48, 48),
        fade_images=(64, 64),
        n_data=256,
        evals_per_phase=1,
        conditional=False,  # the quick profile's default is conditional; these tests start from a plain ProGAN
    )
    base.update(kw)
    return replace(ProGANConfig(), **base)


# ---- equalized learning rate -------------------------------------------------------------------
@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0)])
def test_equalized_layers_have_unit_variance_outputs_for_unit_inputs(gain):
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 64, 3, padding=1, gain=gain)
    lin = EqualizedLinear(256, 512, gain=gain)
    # stored weights are N(0, 1); the He scale is applied in forward, not folded into them
    assert abs(conv.weight.std().item() - 1.0) < 0.02 and abs(lin.weight.std().item() - 1.0) < 0.02
    assert conv.scale == pytest.approx(gain / math.sqrt(64 * 9)) and lin.scale == pytest.approx(gain / math.sqrt(256))
    x = torch.randn(64, 64, 8, 8)
    y = conv(x)[:, :, 1:-1, 1:-1]  # interior pixels: no zero padding in the receptive field
    assert y.var().item() == pytest.approx(gain**2, rel=0.05)
    assert lin(torch.randn(2048, 256)).var().item() == pytest.approx(gain**2, rel=0.05)


def test_equalized_bias_is_not_scaled():
    conv = EqualizedConv2d(4, 3, 1, gain=1.0)
    lin = EqualizedLinear(5, 2)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
        lin.weight.zero_()
        lin.bias.fill_(7.0)
    assert torch.equal(conv(torch.randn(2, 4, 3, 3))[:, :, 0, 0], torch.tensor([[1.0, 2.0, 3.0]] * 2))
    assert torch.equal(lin(torch.randn(3, 5)), torch.full((3, 2), 7.0))


def test_equalized_scale_reaches_the_gradient():
    # d out / d w = scale * x: the same relative step for every layer under Adam
    conv = EqualizedConv2d(2, 1, 1, gain=1.0, bias=False)
    x = torch.ones(1, 2, 1, 1)
    conv(x).sum().backward()
    assert torch.allclose(conv.weight.grad.flatten(), torch.full((2,), 1 / math.sqrt(2)))


# ---- pixel norm, minibatch stddev ----------------------------------------------------------------
def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(4, 16, 5, 5) * torch.rand(4, 1, 5, 5) * 10
    y = PixelNorm()(x)
    assert torch.allclose(y.pow(2).mean(dim=1), torch.ones(4, 5, 5), atol=1e-5)
    assert torch.allclose(y / y.norm(dim=1, keepdim=True), x / x.norm(dim=1, keepdim=True), atol=1e-6)  # direction kept


def test_minibatch_stddev_appends_the_group_std_on_a_constructed_batch():
    # batch of 4, group 2 -> groups {0, 2} and {1, 3} (the paper's reshape [G, B/G, ...])
    x = torch.zeros(4, 2, 1, 2)
    x[0] = 1.0
    x[2] = 3.0  # group {0, 2}: every feature differs by 2 -> biased std 1
    x[1] = 5.0
    x[3] = 5.0  # group {1, 3}: identical -> std sqrt(1e-8)
    y = MinibatchStdDev(group_size=2)(x)
    assert y.shape == (4, 3, 1, 2)
    assert torch.equal(y[:, :2], x)
    expected = torch.tensor([1.0, 1e-4, 1.0, 1e-4])
    assert torch.allclose(y[:, 2], expected[:, None, None].expand(4, 1, 2), rtol=1e-4)
    # a different spread per feature: the channel is the mean over features of the per-feature std
    z = torch.zeros(2, 2, 1, 1)
    z[1, 0] = 2.0  # feature 0: std 1, feature 1: std ~0
    assert MinibatchStdDev(2)(z)[:, 2].flatten().tolist() == pytest.approx([0.5, 0.5], rel=1e-3)


def test_minibatch_stddev_needs_a_dividing_group_and_never_gives_nan():
    with pytest.raises(ValueError, match="does not divide"):
        MinibatchStdDev(4)(torch.randn(6, 3, 4, 4))
    one = MinibatchStdDev(4)(torch.randn(1, 3, 4, 4))  # a group of one: finite, not NaN
    assert torch.isfinite(one).all()


# ---- growing -------------------------------------------------------------------------------------
def test_at_alpha_zero_the_grown_generator_draws_the_upsampled_old_output():
    torch.manual_seed(0)
    g = ProGenerator(16, 32, SMALL, resolution=8)
    z = torch.randn(5, 16)
    with torch.no_grad():
        before = g(z)
        g.grow()
        assert g.resolution == 16 and float(g.alpha) == 0.0
        after = g(z)
    assert after.shape == (5, 3, 16, 16)
    assert torch.allclose(after, F.interpolate(before, scale_factor=2, mode="nearest"), atol=1e-6)
    g.set_alpha(1.0)
    with torch.no_grad():
        assert not torch.allclose(g(z), after, atol=1e-3)  # the new block takes over at alpha = 1


def test_at_alpha_zero_the_grown_critic_scores_the_pooled_image_like_before():
    torch.manual_seed(0)
    d = ProCritic(32, SMALL, resolution=8, mbstd_group=4)
    x = torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        before = d(F.avg_pool2d(x, 2))
        d.grow()
        after = d(x)
    assert torch.allclose(after, before, atol=1e-5)


@pytest.mark.parametrize("net", ["generator", "critic"])
def test_growing_keeps_the_old_layers_weights(net):
    torch.manual_seed(0)
    m = ProGenerator(16, 32, SMALL, resolution=4) if net == "generator" else ProCritic(32, SMALL, resolution=4)
    old = {k: v.clone() for k, v in m.state_dict().items() if k != "alpha"}
    m.grow()
    m.grow()
    new = m.state_dict()
    for k, v in old.items():
        assert torch.equal(new[k], v), k
    assert len(new) > len(old) + 1
    assert m.resolution == 16
    with pytest.raises(ValueError, match="max_resolution"):
        m.grow_to(64)


def test_fading_real_images_matches_the_generator_blend():
    x = torch.randn(3, 3, 8, 8)
    low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    assert torch.equal(fade_real(x, 0.0), low)
    assert torch.equal(fade_real(x, 1.0), x)
    assert torch.allclose(fade_real(x, 0.25), 0.75 * low + 0.25 * x, atol=1e-6)
    assert torch.allclose(resize_real(x, 2), F.avg_pool2d(x, 4))


# ---- schedule ------------------------------------------------------------------------------------
def test_schedule_phases_and_alpha():
    s = GrowthSchedule.build(4, 16, stable_images=100, fade_images=200, batch_size={4: 10, 8: 10, 16: 20})
    kinds = [(p.resolution, p.kind, p.steps) for p in s.phases]
    assert kinds == [(4, "stable", 10), (8, "fade", 20), (8, "stable", 10), (16, "fade", 10), (16, "stable", 5)]
    assert s.growth_steps == [10, 40] and s.total_steps == 55 and s.final_resolution == 16
    assert s.at(0) == (s.phases[0], 1.0)
    assert s.at(10)[1] == 0.0 and s.at(20)[1] == pytest.approx(0.5) and s.at(29)[1] == pytest.approx(0.95)
    assert s.at(30) == (s.phases[2], 1.0)
    assert s.at(1000)[0].resolution == 16 and s.at(1000)[1] == 1.0
    assert s.images_at(40) == 100 + 200 + 100 and s.images_at(45) == 400 + 5 * 20
    assert GrowthSchedule.from_meta(s.to_meta()) == s


def test_config_profiles_build_schedules():
    quick, full = ProGANConfig.for_profile("quick"), ProGANConfig.for_profile("full")
    assert quick.schedule().final_resolution == 32 and full.schedule().final_resolution == 64
    assert quick.lr == 1e-3 and quick.betas == (0.0, 0.99) and quick.drift == 0.001 and quick.gp_weight == 10
    assert quick.live().schedule().final_resolution == 8
    assert all(b % quick.mbstd_group == 0 for b in quick.batch_sizes + full.batch_sizes)
    assert ProGANConfig.from_meta(quick.meta()) == quick
    with pytest.raises(ValueError):
        ProGANConfig.for_profile("huge")


def test_growth_spike_ratio():
    s = GrowthSchedule.build(4, 8, stable_images=10, fade_images=10, batch_size=1)
    curve = [
        CurvePoint(st, 0, 4, 1.0, "stable", 0.0, fd)
        for st, fd in [(0, 50.0), (10, 20.0), (15, 35.0), (20, 10.0), (30, 5.0)]
    ]
    (g,) = growth_spikes(curve, s)
    assert g["fd_before"] == 20.0 and g["fd_max_fade"] == 35.0 and g["ratio"] == pytest.approx(1.75)


# ---- sprite sources and evaluation space ---------------------------------------------------------
def test_detailed_2x_sprites_pool_back_to_the_originals():
    from musicgan_lib.data.sprites import make_sprites

    x = make_sprites(16, seed=3).images
    big = detailed_sprites_2x(x)
    assert big.shape == (16, 3, 64, 64) and big.min() >= -1 and big.max() <= 1
    assert torch.allclose(F.avg_pool2d(big, 2), x, atol=1e-6)
    assert not torch.equal(big, F.interpolate(x, scale_factor=2, mode="nearest"))  # it has sub-pixel detail
    assert torch.allclose(to_eval_space(big), x, atol=1e-6)
    small = torch.rand(2, 3, 4, 4) * 4 - 2
    up = to_eval_space(small)
    assert up.shape == (2, 3, 32, 32) and up.max() <= 1 and torch.equal(up[:, :, ::8, ::8], small.clamp(-1, 1))


# ---- the trainer ---------------------------------------------------------------------------------
def _weights(trainer):
    out = {}
    for name, m in trainer.loop.modules.items():
        out.update({f"{name}.{k}": v.clone() for k, v in m.state_dict().items()})
    return out


def test_training_grows_resets_adam_and_keeps_an_ema(tmp_path):
    cfg = _tiny_config()
    t = ProGANTrainer(cfg, seed=0)
    s = t.schedule
    opt_before = t.loop.optimizers["generator"]
    t.run(s.growth_steps[0])
    assert t.generator.resolution == 4 and len(opt_before.state) > 0
    t.run(s.growth_steps[0] + 1)  # the first step of the fade grows everything
    assert t.generator.resolution == t.critic.resolution == t.generator_ema.resolution == 8
    opt = t.loop.optimizers["generator"]
    assert opt is not opt_before
    assert opt.param_groups[0]["lr"] == 1e-3 and opt.param_groups[0]["betas"] == (0.0, 0.99)
    n_params = sum(1 for _ in t.generator.parameters())
    assert sum(len(g["params"]) for g in opt.param_groups) == n_params  # the new layers are optimised
    assert all(v["step"] == 1 for v in opt.state.values())  # fresh state, one step old
    assert float(t.generator.alpha) == 0.0 and t.loop.meta["resolution"] == 8
    t.run()
    assert t.generator.resolution == 16 and float(t.generator.alpha) == 1.0
    # the EMA generator is an average, not a copy, of the trained one
    diffs = [(a - b).abs().max().item() for a, b in zip(t.generator.parameters(), t.generator_ema.parameters())]
    assert max(diffs) > 0
    assert t.sample(4).shape == (4, 3, 16, 16)
    assert {"d_loss", "g_loss", "gp", "w_distance"} <= set(t.history)
    assert t.seconds > 0


@pytest.mark.parametrize("conditional", [False, True])
def test_checkpoint_resume_mid_fade_equals_an_uninterrupted_run(tmp_path, conditional):
    cfg = _tiny_config(conditional=conditional)
    straight = ProGANTrainer(cfg, seed=0)
    total = straight.schedule.total_steps
    straight.run()
    path = tmp_path / "progan.safetensors"
    first = ProGANTrainer(cfg, seed=0, checkpoint_path=path)
    fade = straight.schedule.phases[3]  # the 16x16 fade
    assert fade.kind == "fade"
    mid = fade.start_step + fade.steps // 2
    first.run(mid)
    first.save()
    meta = read_checkpoint_meta(path)
    assert meta["resolution"] == 16 and 0 < meta["alpha"] < 1 and meta["phase"] == fade.index and meta["step"] == mid
    # a fresh process builds 4x4 networks with another seed, then resumes
    resumed = ProGANTrainer(cfg, seed=123, checkpoint_path=path)
    assert resumed.generator.resolution == 4
    assert resumed.resume() and resumed.step == mid and resumed.generator.resolution == 16
    assert float(resumed.generator.alpha) == pytest.approx(meta["alpha"])
    resumed.run(total)
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert straight.loop.history["g_loss"] == resumed.loop.history["g_loss"]


def test_checkpoint_from_another_schedule_is_refused(tmp_path):
    path = tmp_path / "a.safetensors"
    t = ProGANTrainer(_tiny_config(), checkpoint_path=path)
    t.run(3)
    t.save()
    other = ProGANTrainer(_tiny_config(stable_images=(40, 48, 48)), checkpoint_path=path)
    with pytest.raises(ValueError, match="schedule"):
        other.resume()
    conditional = ProGANTrainer(_tiny_config(conditional=True), checkpoint_path=path)
    with pytest.raises(ValueError, match="holds an unconditional ProGAN and this run is conditional"):
        conditional.resume()


@pytest.mark.parametrize("conditional", [False, True])
def test_asset_round_trip(tmp_path, conditional):
    cfg = _tiny_config(
        max_resolution=8, batch_sizes=(8, 8), stable_images=(16, 16), fade_images=(16,), conditional=conditional
    )
    t = ProGANTrainer(cfg, seed=0)
    t.run()
    path = save_asset(t, tmp_path / "progan_test.safetensors", {"note": "x"})
    shipped = load_asset(path)
    assert isinstance(shipped.generator, CodedProGenerator) == conditional
    assert shipped.generator.resolution == 8 and shipped.meta["note"] == "x"
    assert len(shipped.snapshots) == len(t.snapshots) and shipped.snapshots[-1].images.shape == (16, 3, 8, 8)
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(12345))
    assert torch.allclose(shipped.sample(3), t.sample(latents=z), atol=2e-2)  # fp16 storage


def test_training_here_gives_what_loading_gives(tmp_path):
    """`load_or_train`'s two ways return the same kind of object: a run trained here saves and loads back as one."""

    class MeanTracker:  # stands in for FDTracker: any images -> a number, with .n
        n = 16

        def __call__(self, images):
            return float(images.float().mean())

    cfg = _tiny_config(max_resolution=8, batch_sizes=(8, 8), stable_images=(16, 16), fade_images=(16,))
    trained = train_here(cfg, MeanTracker(), chapters=None)
    assert isinstance(trained, ShippedProGAN) and trained.meta["baselines"] == {}
    assert (
        set(trained.meta["resolution_floors"]) == {"4", "8"} and trained.meta["steps"] == trained.schedule.total_steps
    )
    loaded = load_asset(save_asset(trained, tmp_path / "progan_test.safetensors"))
    assert type(loaded) is type(trained) and loaded.config == trained.config and loaded.schedule == trained.schedule
    assert loaded.curve == trained.curve and loaded.meta["resolution_floors"] == trained.meta["resolution_floors"]
    assert torch.allclose(loaded.sample(4), trained.sample(4), atol=2e-2)  # fp16 storage


def test_full_profile_builds_64px_networks_and_trains_a_few_steps():
    full = ProGANConfig.for_profile("full")
    # the full profile's architecture at a test-sized width and a schedule of a few steps per phase
    cfg = replace(
        full,
        fmap_base=128,
        fmap_max=16,
        fmap_min=8,
        latent_dim=32,
        batch_sizes=(8,) * 5,
        stable_images=(8,) * 5,
        fade_images=(8,) * 4,
        n_data=64,
    )
    t = ProGANTrainer(cfg, seed=0)
    assert t.schedule.final_resolution == 64
    assert full.conditional and isinstance(t.generator, CodedProGenerator)
    real, labels = t.sample_real(4, torch.Generator().manual_seed(0))
    assert real.shape == (4, 3, 64, 64) and labels.shape == (4, 5)
    t.run()
    assert t.generator.resolution == t.critic.resolution == 64
    x = t.sample(8)
    assert x.shape == (8, 3, 64, 64) and torch.isfinite(x).all()
    assert t.critic(x, torch.zeros(8, 5, dtype=torch.long)).shape == (8, 1)
    assert torch.isfinite(torch.tensor(t.loop.history["d_loss"])).all()


def test_drift_term_is_in_the_critic_loss():
    torch.manual_seed(0)
    d = ProCritic(8, SMALL, resolution=8)
    real, fake = torch.randn(8, 3, 8, 8), torch.randn(8, 3, 8, 8)
    base, _ = WassersteinLoss(gp_weight=0.0).critic_loss(d, real, fake)
    drifted, _ = WassersteinLoss(gp_weight=0.0, drift=0.001).critic_loss(d, real, fake)
    with torch.no_grad():
        expected = 0.001 * d(real).pow(2).mean()
    assert (drifted - base).item() == pytest.approx(expected.item(), rel=1e-4)


def test_a_time_budget_stops_training_and_takes_a_last_snapshot():
    cfg = _tiny_config(stable_images=(48, 48, 10_000))
    t = ProGANTrainer(cfg, seed=0, clock="process")
    t.run(budget_seconds=0.05)
    assert 0 < t.step < t.schedule.total_steps
    assert t.seconds >= 0.05
    assert t.snapshots[-1].step == t.step


# ---- the conditional ProGAN ----------------------------------------------------------------------
SIZES = (9, 6, 4, 4, 5)


def test_coded_generator_draws_what_its_codes_request_and_grows_like_the_plain_one():
    torch.manual_seed(0)
    g = CodedProGenerator(SIZES, 16, 32, SMALL, resolution=8)
    assert g.noise_dim == 11 and g.first.dense.weight.shape[1] == 11 + sum(SIZES)
    z = torch.randn(6, 16)
    labels = torch.tensor(
        [[0, 0, 0, 0, 0], [8, 5, 3, 3, 4], [1, 2, 1, 2, 3], [4, 1, 0, 3, 1], [7, 3, 2, 1, 0], [2, 4, 3, 0, 2]]
    )
    z = g.with_labels(z, labels)
    assert torch.equal(g.labels_of(z), labels)
    nudged = z.clone()
    nudged[:, g.noise_dim :] += 0.01  # a code moved inside its value's slice: the same request, the same sprite
    other = g.with_labels(z, labels.roll(1, 0))
    with torch.no_grad():
        out = g(z)
        assert torch.equal(g(nudged), out)
        assert not torch.allclose(g(other), out, atol=1e-4)  # other attributes, same noise: another sprite
        g.grow()
        assert torch.allclose(g(z), F.interpolate(out, scale_factor=2, mode="nearest"), atol=1e-6)
    with pytest.raises(ValueError, match="no noise"):
        CodedProGenerator(SIZES, 5)


def test_projection_critic_adds_the_requested_attributes_inner_product():
    torch.manual_seed(0)
    d = ProjectionProCritic(SIZES, 32, SMALL, resolution=8, mbstd_group=4)
    x = torch.randn(4, 3, 8, 8)
    y = torch.tensor([[0, 1, 2, 3, 4], [8, 5, 3, 3, 4], [1, 0, 0, 0, 0], [2, 2, 2, 2, 2]])
    with torch.no_grad():
        f = d.last.features(d.trunk(x))
        offsets = torch.tensor([0, 9, 15, 19, 23])
        e = torch.stack([d.embed[offsets + row].sum(0) for row in y]) / math.sqrt(d.channels(4))
        expected = d.last.out(f) + (e * f).sum(1, keepdim=True)
        assert torch.allclose(d(x, y), expected, atol=1e-5)
        assert not torch.allclose(d(x, y), d(x, y.flip(0)), atol=1e-4)
        d.grow()
        assert torch.allclose(
            d(F.interpolate(x, scale_factor=2, mode="nearest"), y), expected, atol=1e-4
        )  # alpha 0: as before
    with pytest.raises(ValueError, match="labels must have shape"):
        d(x, y[:, :3])
    with pytest.raises(ValueError, match="out of range"):
        d(x, y + torch.tensor([9, 0, 0, 0, 0]))  # attribute 0 has 9 values: 9 would read attribute 1's row


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_out_of_range_labels_are_clamped_not_checked():
    """On an accelerator the range check would wait for the device every step: labels are clamped instead."""
    torch.manual_seed(0)
    d = ProjectionProCritic(SIZES, 32, SMALL, resolution=8, mbstd_group=4).cuda()
    g = CodedProGenerator(SIZES, 16, 32, SMALL).cuda()
    x = torch.randn(4, 3, 8, 8, device="cuda")
    y = torch.tensor([[0, 1, 2, 3, 4], [8, 5, 3, 3, 4], [1, 0, 0, 0, 0], [2, 2, 2, 2, 2]], device="cuda")
    wild = y + torch.tensor([20, 0, 0, 0, -7], device="cuda")  # too large in attribute 0, negative in attribute 4
    clamped = wild.clamp(min=0).minimum(torch.tensor(SIZES, device="cuda") - 1)
    with torch.no_grad():
        assert torch.equal(d(x, wild), d(x, clamped))
        z = torch.randn(4, g.latent_dim, device="cuda")
        assert torch.equal(g.labels_of(g.with_labels(z, wild)), clamped)


def _record_labels(module, method: str, labels_of) -> list:
    """Wrap module.method so every call's labels are recorded (returned list), then call through."""
    calls, original = [], getattr(module, method)

    def wrapper(*args, **kwargs):
        calls.append(labels_of(*args, **kwargs).clone())
        return original(*args, **kwargs)

    setattr(module, method, wrapper)
    return calls


def test_conditional_step_fakes_request_the_real_labels_and_the_critic_is_told_them():
    cfg = _tiny_config(conditional=True)
    t = ProGANTrainer(cfg, seed=0)
    assert isinstance(t.generator, CodedProGenerator) and isinstance(t.critic, ProjectionProCritic)
    seen = _record_labels(t.critic, "forward", lambda x, labels: labels)
    requested = _record_labels(t.generator, "with_labels", lambda z, labels: labels)
    drawn = _record_labels(t.generator, "forward", lambda z: t.generator.labels_of(z))
    replay = torch.Generator()
    replay.set_state(t.loop.rng.get_state())
    _, real_labels = t.sample_real(t.schedule.phases[0].batch_size, replay)  # the batch the step will draw
    t.run(1)
    # critic step: the fakes are drawn with the real batch's labels, and real, fake and the
    # gradient-penalty mix are all judged with them
    assert len(requested) == 1 and torch.equal(requested[0], real_labels)
    assert torch.equal(drawn[0], real_labels)
    assert len(seen) >= 3
    for labels in seen[:3]:
        assert torch.equal(labels, real_labels)
    # generator step: the critic is told the labels the generator's random codes request
    assert torch.equal(seen[-1], drawn[-1]) and not torch.equal(drawn[-1], real_labels)


def test_conditional_sampler_needs_labels_with_custom_images():
    cfg = _tiny_config(conditional=True)
    images, labels = real_sampler(cfg)(4, torch.Generator().manual_seed(0))
    assert images.shape == (4, 3, 32, 32) and labels.shape == (4, 5)
    with pytest.raises(ValueError, match="labels"):
        real_sampler(cfg, torch.zeros(8, 3, 32, 32))
    big = real_sampler(replace(cfg, max_resolution=64))(4, torch.Generator().manual_seed(0))
    assert big[0].shape == (4, 3, 64, 64) and torch.equal(big[1], labels)


# ---- the weights script: which baselines a ProGAN-only retrain keeps ----------------------------
def _weights_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "make_progan_weights.py"
    spec = importlib.util.spec_from_file_location("make_progan_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_progan_only_retrain_keeps_only_baselines_trained_the_same_way(tmp_path):
    import argparse

    from musicgan_lib.checkpoint import save_checkpoint

    script = _weights_script()
    config = ProGANConfig.for_profile("quick")
    path = tmp_path / "progan_quick.safetensors"
    recipe = {name: baseline_recipe(name, CHAPTERS) for name in ("dcgan-cond", "wgan-gp-cond", "dcgan")}
    old_dcgan = {
        **recipe["dcgan"],
        "recipe": {**recipe["dcgan"]["recipe"], "ema_decay": 0.9},
    }  # trained before a recipe change
    meta = {
        "budget_seconds": config.budget_seconds,
        "clock": config.clock,
        "profile": "quick",
        "seed": 0,
        "threads": 1,
        "device": "cpu",
        "baselines": {
            "dcgan-cond": {"fd": 1.0, "recipe": recipe["dcgan-cond"]},
            "wgan-gp-cond": {"fd": 2.0, "seed": 3, "recipe": recipe["wgan-gp-cond"]},
            "dcgan": {"fd": 4.0, "recipe": old_dcgan},
            "dcgan-pac2-ema": {"fd": 5.0},
            "retired-recipe": {"fd": 3.0},
        },
    }
    save_checkpoint(path, {"generator_ema": torch.nn.Linear(2, 2)}, meta=meta)
    same = argparse.Namespace(seed=0, threads=1, device="cpu")
    # inherits the file's seed 0; a changed or unrecorded recipe is not kept
    assert script._kept_baselines(path, config, same) == {"dcgan-cond": {"fd": 1.0, "recipe": recipe["dcgan-cond"]}}
    assert set(script._kept_baselines(path, config, argparse.Namespace(seed=3, threads=1, device="cpu"))) == {
        "wgan-gp-cond"
    }
    assert script._kept_baselines(path, config, argparse.Namespace(seed=0, threads=2, device="cpu")) == {}
    assert script._kept_baselines(path, replace(config, budget_seconds=1440.0), same) == {}  # another budget
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    assert script._kept_baselines(junk, config, same) == {}


def test_the_weights_script_runs_jobs_side_by_side_only_on_a_cpu_with_several_workers(monkeypatch):
    import argparse

    script = _weights_script()
    ran: list[str] = []
    monkeypatch.setattr(script, "_job", lambda job: (ran.append(job[0]) or job[0], {"budget": job[2]}))
    pools: list[int] = []

    class InProcessPool:  # stands in for a spawn pool: records its size, runs the jobs here
        def __init__(self, n):
            pools.append(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def imap_unordered(self, fn, jobs):
            return map(fn, jobs)

    monkeypatch.setattr(script.mp, "get_context", lambda method: argparse.Namespace(Pool=InProcessPool))
    jobs = [("progan", None, None), ("dcgan-cond", None, 720.0), ("wgan-gp", None, 720.0)]
    want = {"progan": {"budget": None}, "dcgan-cond": {"budget": 720.0}, "wgan-gp": {"budget": 720.0}}

    assert script._run_jobs(jobs, argparse.Namespace(workers=4, device="cpu")) == want
    assert pools == [3]  # no more processes than jobs
    for sequential in (argparse.Namespace(workers=1, device="cpu"), argparse.Namespace(workers=4, device="cuda")):
        ran.clear()
        assert script._run_jobs(jobs, sequential) == want
        assert ran == ["progan", "dcgan-cond", "wgan-gp"] and pools == [3]  # in order, no new pool


def test_a_baselines_recipe_record_changes_with_its_recipe_and_survives_a_json_round_trip():
    import json

    recipe = baseline_recipe("dcgan-cond", CHAPTERS)
    assert json.loads(json.dumps(recipe)) == recipe  # what comes back from a file's metadata compares equal
    assert recipe["recipe"]["aux_classifier"] == 1.0 and recipe["config"]["profile"] == "quick"
    assert (
        baseline_recipe("wgan-gp-cond", CHAPTERS)["config"]["conditional"]
        and not baseline_recipe("wgan-gp", CHAPTERS)["config"]["conditional"]
    )
    assert baseline_recipe("dcgan-cond", CHAPTERS, "full") != recipe
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_recipe("dcgan-mbstd", CHAPTERS)
