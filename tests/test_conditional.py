"""The conditional DCGAN: attribute codes in the latent, the projection discriminator, the hinge
loss, and the training loop's conditional mode."""

import pytest
import torch
from torch import nn

from musicgan_lib.data.sprites import make_sprites, tensor_sampler
from musicgan_lib.losses import HingeLoss
from musicgan_lib.models.conditional import CodedGenerator, ProjectionDiscriminator
from musicgan_lib.recipes import dcgan_pixels as ch2
from musicgan_lib.train import GANTrainer, latent_sampler

SIZES = (5, 4, 3, 4, 2)


def test_codes_pick_every_value_equally_often_and_with_labels_round_trips():
    g = CodedGenerator(SIZES, noise_dim=8, ngf=4)
    assert g.latent_dim == 8 + len(SIZES)
    z = torch.randn(60_000, g.latent_dim, generator=torch.Generator().manual_seed(0))
    labels = g.labels_of(z)
    for j, n in enumerate(SIZES):
        freq = torch.bincount(labels[:, j], minlength=n).double() / len(z)
        assert torch.allclose(freq, torch.full((n,), 1 / n, dtype=torch.float64), atol=0.01)
    every = torch.cartesian_prod(*[torch.arange(n) for n in SIZES])  # all 480 combinations
    z = g.with_labels(torch.randn(len(every), g.latent_dim), every)
    assert torch.equal(g.labels_of(z), every)
    with pytest.raises(ValueError, match="out of range"):
        g.with_labels(torch.randn(1, g.latent_dim), torch.tensor([[5, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="shape"):
        g.with_labels(torch.randn(2, g.latent_dim), every[:3])


def test_generator_reads_only_the_value_a_code_picks():
    torch.manual_seed(0)
    g = CodedGenerator(SIZES, noise_dim=8, ngf=4).eval()
    noise = torch.randn(1, 8)
    labels = torch.tensor([[2, 1, 0, 3, 1]])
    z = g.with_labels(torch.cat([noise, torch.zeros(1, 5)], 1), labels)
    nudged = z.clone()
    nudged[:, 8:] += 0.01  # still inside every value's slice of the code line
    other = g.with_labels(z, torch.tensor([[4, 1, 0, 3, 1]]))  # another hair colour
    assert torch.equal(g(z), g(nudged))
    assert not torch.allclose(g(z), g(other))
    assert g(z).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="noise"):
        g(torch.randn(2, 8))


def test_projection_discriminator_scores_depend_on_labels_and_on_nothing_else_in_the_batch():
    torch.manual_seed(0)
    d = ProjectionDiscriminator(SIZES, ndf=8)
    x, y = make_sprites(6, seed=1)
    with torch.no_grad():  # make the projection term matter
        for e in d.embed:
            e.parametrizations.weight.original.normal_(0, 1)
    s = d(x, y)
    assert s.shape == (6, 1)
    flipped = y.clone()
    flipped[:, 0] = (flipped[:, 0] + 1) % SIZES[0]
    assert not torch.allclose(s, d(x, flipped))
    d.eval()  # (in train mode every call also takes a spectral-norm power-iteration step)
    assert torch.allclose(d(x[:1], y[:1]), d(x, y)[:1], atol=1e-5)  # no batch norm: each image on its own
    d.train()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    s.sum().backward()
    assert all(e.parametrizations.weight.original.grad.abs().sum() > 0 for e in d.embed)
    with pytest.raises(ValueError, match="labels"):
        d(x, y[:, :4])


def test_hinge_loss_matches_hand_computation():
    scores = {"real": torch.tensor([2.0, 0.5, -1.0]), "fake": torch.tensor([-3.0, 0.0, 1.0])}

    def critic(x):
        return scores[x]

    loss, logs = HingeLoss().critic_loss(critic, "real", "fake")
    # real: max(0, 1 - s) = 0, 0.5, 2 -> mean 2.5/3; fake: max(0, 1 + s) = 0, 1, 2 -> mean 1
    assert loss.item() == pytest.approx(2.5 / 3 + 1.0)
    assert logs["score_real"].item() == pytest.approx(0.5) and logs["score_fake"].item() == pytest.approx(-2 / 3)
    assert HingeLoss().generator_loss(critic, "fake").item() == pytest.approx(2 / 3)


def test_tensor_sampler_keeps_images_and_labels_together():
    x, y = make_sprites(50, seed=2)
    sample = tensor_sampler(x, y)
    images, labels = sample(20, torch.Generator().manual_seed(0))
    rows = [int(torch.nonzero((x == img).flatten(1).all(1))[0]) for img in images]
    assert torch.equal(labels, y[rows])
    with pytest.raises(ValueError, match="one row per image"):
        tensor_sampler(x, y[:10])


class _SpyCritic(nn.Module):
    """Records the labels it is asked about, and checks the fakes show them (via a generator probe)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x, labels):
        self.seen.append(labels.clone())
        return self.inner(x, labels)


def test_trainer_conditional_step_asks_fakes_for_the_real_batch_labels():
    torch.manual_seed(0)
    x, y = make_sprites(64, seed=3)
    g = CodedGenerator(SIZES, noise_dim=8, ngf=4)
    d = _SpyCritic(ProjectionDiscriminator(SIZES, ndf=4))
    requested = []
    forward = g.forward
    g.forward = lambda z: (requested.append(g.labels_of(z)), forward(z))[1]
    rng = torch.Generator().manual_seed(0)
    trainer = GANTrainer(g, d, HingeLoss(), torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters()),
                         tensor_sampler(x, y), latent_sampler(g.latent_dim), batch_size=8, rng=rng)  # fmt: skip
    assert trainer.conditional
    trainer.run(2)
    # per step: critic sees the real batch and its fakes with the real labels, then the generator's own request
    real_labels, fake_labels, g_labels = d.seen[0], d.seen[1], d.seen[2]
    assert torch.equal(real_labels, fake_labels)
    assert torch.equal(requested[0], real_labels)  # the fakes were generated for exactly those labels
    assert torch.equal(requested[1], g_labels)  # the generator step's critic judges what G was asked for


def test_trainer_refuses_unlabelled_data_for_a_conditional_generator():
    x, _ = make_sprites(16, seed=4)
    g = CodedGenerator(SIZES, noise_dim=8, ngf=4)
    d = ProjectionDiscriminator(SIZES, ndf=4)
    trainer = GANTrainer(g, d, HingeLoss(), torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters()),
                         tensor_sampler(x), latent_sampler(g.latent_dim), batch_size=4, rng=torch.Generator().manual_seed(0))  # fmt: skip
    with pytest.raises(TypeError, match=r"\(images, labels\)"):
        trainer.run(1)


def test_conditional_recipe_trains_samples_and_round_trips(tmp_path):
    cfg = ch2.with_steps(
        ch2.DCGANConfig.for_profile("quick"), batch_size=16, ngf=8, ndf=8, latent_dim=16, dataset_size=64, frames=3
    )
    run = ch2.make_run(ch2.REMEDY, cfg, seed=0, total_steps=3)
    assert isinstance(run.generator, CodedGenerator) and isinstance(run.trainer.critic, ProjectionDiscriminator)
    run.train(3)
    assert torch.isfinite(torch.tensor(run.trainer.history["d_loss"])).all()
    path = ch2.save_generator(tmp_path / "cond.safetensors", run)
    shipped = ch2.load_generator(path)
    assert isinstance(shipped.generator, CodedGenerator) and shipped.generator.latent_dim == 16 + 5
    assert (ch2.sample_generator(shipped.generator, 8) - run.sample(8)).abs().max() < 0.02
    x, _ = make_sprites(8, seed=0)
    with pytest.raises(ValueError, match="labels"):
        ch2.make_run(ch2.REMEDY, cfg, images=x)


def test_attribute_sweeps_change_one_attribute_per_row():
    torch.manual_seed(0)
    g = CodedGenerator(SIZES, noise_dim=100, ngf=4)
    images, names = ch2.attribute_sweeps(g)
    assert images.shape == (len(SIZES) * max(SIZES), 3, 32, 32) and len(names) == len(SIZES)
    assert names[0].startswith("hair_colour")
    assert torch.equal(images[-1], torch.ones(3, 32, 32))  # the accessory row has 2 values: blank padding after
    assert not torch.allclose(images[0], images[1])  # black vs blonde hair: different pictures
    with pytest.raises(TypeError, match="conditional"):
        ch2.attribute_sweeps(nn.Linear(2, 2))


def test_conditional_run_resumes_exactly(tmp_path):
    cfg = ch2.with_steps(
        ch2.DCGANConfig.for_profile("quick"), batch_size=8, ngf=4, ndf=4, latent_dim=8, dataset_size=32, frames=2
    )
    straight = ch2.make_run(ch2.REMEDY, cfg, seed=1, total_steps=4)
    straight.train(4)
    ck = tmp_path / "cond.safetensors"
    first = ch2.make_run(ch2.REMEDY, cfg, seed=1, total_steps=4, checkpoint_path=ck, checkpoint_every=2)
    first.train(2)
    resumed = ch2.make_run(ch2.REMEDY, cfg, seed=99, total_steps=4, checkpoint_path=ck, checkpoint_every=2)
    assert resumed.trainer.loop.resume() and resumed.trainer.step == 2
    resumed.train(4)
    for (k, a), b in zip(straight.trainer.critic.state_dict().items(), resumed.trainer.critic.state_dict().values()):
        assert torch.equal(a, b), k
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)


def test_classifier_heads_return_each_images_cross_entropy_of_its_labels():
    torch.manual_seed(0)
    d = ProjectionDiscriminator(
        SIZES, ndf=8, aux_classifier=True
    ).eval()  # eval: spectral norm's power iteration stands still
    x = torch.randn(4, 3, 32, 32)
    y = torch.tensor([[0, 1, 2, 3, 1], [4, 3, 0, 0, 0], [2, 2, 2, 2, 1], [1, 0, 1, 1, 0]])
    scores, class_loss = d(x, y, with_class_loss=True)
    assert torch.equal(scores, d(x, y)) and class_loss.shape == (4,)
    mean = d.body(x).mean(dim=(2, 3))
    expected = sum(
        nn.functional.cross_entropy(head(mean), y[:, j], reduction="none") for j, head in enumerate(d.classifier)
    )
    assert torch.allclose(class_loss, expected, atol=1e-5)
    with pytest.raises(TypeError, match="aux_classifier=True"):
        ProjectionDiscriminator(SIZES, ndf=8)(x, y, with_class_loss=True)


def test_aux_classifier_loss_teaches_the_critic_on_real_images_only_and_rewards_the_generator():
    from functools import partial

    from musicgan_lib.losses import AuxClassifierHingeLoss

    torch.manual_seed(0)
    d = ProjectionDiscriminator(
        SIZES, ndf=8, aux_classifier=True
    ).eval()  # eval: spectral norm's power iteration stands still
    batch = make_sprites(32, seed=0)
    labels = batch.labels % torch.tensor(SIZES)
    critic = partial(d, labels=labels)
    loss = AuxClassifierHingeLoss(weight=2.0)
    fake = torch.rand(32, 3, 32, 32) * 2 - 1
    d_loss, logs = loss.critic_loss(critic, batch.images, fake)
    _, logs_other_fake = loss.critic_loss(critic, batch.images, -fake)
    assert torch.equal(logs["class_real"], logs_other_fake["class_real"])  # the class term reads real images only
    real_scores, real_class = d(batch.images, labels, with_class_loss=True)
    hinge = nn.functional.relu(1 - real_scores).mean() + nn.functional.relu(1 + d(fake, labels)).mean()
    assert torch.allclose(logs["d_hinge"], hinge) and torch.allclose(
        d_loss, hinge + 2.0 * real_class.mean()
    )  # no class term on fakes
    scores, class_loss = d(fake, labels, with_class_loss=True)
    assert torch.allclose(loss.generator_loss(critic, fake), -scores.mean() + 2.0 * class_loss.mean())
    # the heads learn to name real attributes at the GAN's own learning rate (the layer norm's job)
    d.train()
    opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    first = float(logs["class_real"])
    for _ in range(40):
        d_loss, logs = loss.critic_loss(critic, batch.images, fake)
        opt.zero_grad()
        d_loss.backward()
        opt.step()
    assert float(logs["class_real"]) < 0.5 * first


def test_the_remedy_recipe_trains_with_the_aux_classifier_and_only_conditional_hinge_recipes_may():
    from dataclasses import replace

    from musicgan_lib.losses import AuxClassifierHingeLoss

    assert isinstance(ch2.make_loss("dcgan-cond"), AuxClassifierHingeLoss)
    with pytest.raises(ValueError, match="auxiliary classifier"):
        ch2.make_loss(replace(ch2.RECIPES["dcgan"], aux_classifier=1.0))
    with pytest.raises(ValueError, match="weight >= 0"):
        replace(ch2.RECIPES["dcgan-cond"], aux_classifier=-1.0)


def test_projection_discriminator_with_minibatch_std_sees_the_spread_of_its_group():
    torch.manual_seed(0)
    d = ProjectionDiscriminator(SIZES, ndf=8, minibatch_std=True, aux_classifier=True).eval()
    x, y = make_sprites(8, seed=1)
    assert d.head.in_channels == 4 * 8 + 1 and d.config["minibatch_std"]
    with torch.no_grad():
        scores, ce = d(x, y, with_class_loss=True)
        assert scores.shape == (8, 1) and ce.shape == (8,)
        # a group of identical images has no spread, so the score of image 0 changes when its
        # group-mates (images 2, 4, 6 with group size 4 and batch 8) become copies of it
        same = x.clone()
        same[2::2] = x[:1]
        assert not torch.allclose(d(same, y)[0], d(x, y)[0])
        assert torch.allclose(d(same, y)[1], d(x, y)[1])  # image 1's group (1, 3, 5, 7) is unchanged


def test_trainer_reusing_fakes_judges_them_with_the_labels_they_were_made_for():
    torch.manual_seed(0)
    x, y = make_sprites(64, seed=3)
    g = CodedGenerator(SIZES, noise_dim=8, ngf=4)
    d = _SpyCritic(ProjectionDiscriminator(SIZES, ndf=4))
    rng = torch.Generator().manual_seed(0)
    trainer = GANTrainer(g, d, HingeLoss(), torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters()),
                         tensor_sampler(x, y), latent_sampler(g.latent_dim), batch_size=8, rng=rng, reuse_fakes=True)  # fmt: skip
    trainer.run(1)
    real_labels, fake_labels, g_labels = d.seen
    assert torch.equal(real_labels, fake_labels) and torch.equal(g_labels, real_labels)
