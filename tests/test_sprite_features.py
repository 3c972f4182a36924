"""The generic sprite feature network: its loss, its independence of the batch, save/load, the
freeciv sets it learns from, and the validation the issue asks for (it ranks chapter 2's shipped
generators as the attribute-based FD does)."""

import math

import pytest
import torch

from musicgan_lib.data import sprite_sets
from musicgan_lib.data.sprites import make_sprites
from musicgan_lib.metrics.sprite_eval import evaluate_generator, reference_sprites, sample_generator
from musicgan_lib.metrics.sprite_features import (
    ASSET_PATH,
    SpriteFeatureNet,
    augment,
    generic_sprite_report,
    load_sprite_features,
    nt_xent,
    save_sprite_features,
    train_sprite_features,
)


def test_nt_xent_matches_its_definition_and_prefers_matched_pairs():
    torch.manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    b = torch.nn.functional.normalize(a + 0.1 * torch.randn(4, 8), dim=1)
    z = torch.cat([a, b])
    sim = z @ z.T / 0.2
    expected = 0.0
    for i in range(8):  # -log softmax of the partner over the 7 others
        partner = (i + 4) % 8
        others = [sim[i, j] for j in range(8) if j != i]
        expected += -(sim[i, partner] - torch.logsumexp(torch.stack(others), 0))
    torch.testing.assert_close(nt_xent(a, b), expected / 8)
    assert nt_xent(a, b) < nt_xent(a, b[torch.tensor([1, 2, 3, 0])])  # matched views beat shuffled ones


def test_features_have_their_shapes_do_not_depend_on_the_batch_and_augment_keeps_shape():
    torch.manual_seed(0)
    net = SpriteFeatureNet().eval()
    x = make_sprites(6, seed=1).images
    assert net(x).shape == (6, 128) and net.project(x).shape == (6, 64)
    torch.testing.assert_close(net.project(x).norm(dim=1), torch.ones(6))
    torch.testing.assert_close(net(x[:1]), net(x)[:1], atol=1e-5, rtol=1e-5)  # GroupNorm: per sprite
    views = augment(x)
    assert views.shape == x.shape and not torch.equal(views, x)


def test_a_short_training_lowers_the_loss_and_survives_save_and_load(tmp_path):
    sets = {"a": make_sprites(64, seed=1).images, "b": make_sprites(64, seed=2).images.flip(2)}
    run = train_sprite_features(sets, steps=30, batch=32, lr=3e-3, log=None)
    assert sum(run.losses[-5:]) / 5 < sum(run.losses[:5]) / 5
    path = save_sprite_features(run, {"sets": {"a": 64, "b": 64}}, tmp_path / "f.safetensors")
    loaded = load_sprite_features(path=path)
    x = make_sprites(8, seed=3).images
    torch.testing.assert_close(loaded(x), run.model(x), atol=2e-2, rtol=2e-2)  # fp16 on disk
    assert loaded.meta["steps"] == 30 and loaded.meta["data"]["sets"] == {"a": 64, "b": 64}


def test_a_missing_file_names_the_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_sprite_features.py"):
        load_sprite_features(path=tmp_path / "none.safetensors")


@pytest.mark.skipif(not sprite_sets.freeciv_installed(), reason="freeciv-data is not installed")
def test_the_freeciv_sets_are_real_sprites_of_the_models_size():
    sets = sprite_sets.freeciv_sets()
    assert set(sets) == {"flags", "shields", "buildings", "units"}
    for name, images in sets.items():
        assert images.shape[1:] == (3, 32, 32) and len(images) >= 50, name
        assert images.min() >= -1 and images.max() <= 1
        assert len(torch.unique(images.flatten(1), dim=0)) == len(images), f"{name} holds duplicates"
    with pytest.raises(ValueError, match="unknown freeciv set"):
        sprite_sets.freeciv_sets(("tanks",))


def test_without_freeciv_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(sprite_sets, "FREECIV", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="apt-get install freeciv-data"):
        sprite_sets.freeciv_sets()


def test_the_report_puts_real_sprites_at_their_floor_and_noise_far_above():
    features = load_sprite_features()
    real = reference_sprites(1000)
    same = generic_sprite_report(real, make_sprites(500, seed=31).images, n=500, features=features)
    assert same.fd < 3 * same.fd_floor and same.precision > 0.5 and same.recall > 0.5
    noise = generic_sprite_report(real, torch.rand(500, 3, 32, 32) * 2 - 1, n=500, features=features)
    assert noise.fd > 10 * same.fd and noise.precision < 0.1
    assert all(math.isfinite(v) for v in noise.metrics().values())


@pytest.mark.slow
def test_the_shipped_features_rank_chapter_2s_generators_as_the_attribute_fd_does():
    from musicgan_lib.recipes import dcgan_pixels as ch2

    assert ASSET_PATH.exists()
    features, n = load_sprite_features(), 1000
    real = reference_sprites(2 * n)
    generic, attribute = {}, {}
    for name in ch2.CHAPTER_RECIPES:
        g = ch2.load_generator(ch2.shipped_path(name)).generator
        generic[name] = generic_sprite_report(real, sample_generator(g, n), n, features).fd
        attribute[name] = evaluate_generator(g, n=n).metrics()["fd"]
    assert sorted(generic, key=generic.get) == sorted(attribute, key=attribute.get), (generic, attribute)
