"""The shipped sprite attribute classifier and the coverage / KL / mode-collapse metrics on cases with known answers."""

from __future__ import annotations

import json
import math

import matplotlib
import pytest
from figure_text import smallest_text_pt
import torch

from musicgan_lib.data.sprites import (
    ATTRIBUTE_COLOURS,
    ATTRIBUTE_NAMES,
    N_COMBINATIONS,
    SPRITE_ATTRIBUTES,
    expected_coverage,
    make_sprites,
    render_sprites,
)
from musicgan_lib.viz import MIN_FONT_PT
from musicgan_lib.metrics.attributes import (
    ASSET_PATH,
    AttributeReport,
    AttributeTrack,
    SpriteAttributeClassifier,
    attribute_accuracy,
    attribute_report,
    collapse_over_training,
    load_sprite_classifier,
    mode_collapse_plot,
    save_sprite_classifier,
    seen_in_training,
    train_attribute_classifier,
)

matplotlib.use("Agg")

HAIR = ATTRIBUTE_NAMES.index("hair_colour")
N_HAIR = len(SPRITE_ATTRIBUTES["hair_colour"])


@pytest.fixture(scope="module")
def clf() -> SpriteAttributeClassifier:
    return load_sprite_classifier("cpu")


def all_combinations() -> torch.Tensor:
    grids = torch.meshgrid(*[torch.arange(len(v)) for v in SPRITE_ATTRIBUTES.values()], indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], 1)


def test_shipped_asset_is_small_and_documented(clf):
    assert ASSET_PATH.exists() and ASSET_PATH.stat().st_size < 1_000_000
    assert clf.config["feature_dim"] <= 64
    assert not clf.training and not any(p.requires_grad for p in clf.parameters())
    accs = clf.meta["held_out_accuracy"]
    assert set(accs) == set(ATTRIBUTE_NAMES) and min(accs.values()) >= 0.98
    assert clf.feature_extractor().num_features == clf.config["feature_dim"]


def test_held_out_accuracy_per_head(clf):
    x, y = make_sprites(6000, seed=424_242)
    train = clf.meta["train"]
    seen = seen_in_training(x, steps=train["steps"], batch_size=train["batch_size"], seed=train["seed"])
    assert (
        seen.sum() > 1000 and (~seen).sum() > 1000
    )  # a finite set of sprites: a fresh draw repeats many training ones
    acc = attribute_accuracy(clf, x[~seen], y[~seen])  # held out: sprites it never trained on
    assert set(acc) == set(ATTRIBUTE_NAMES)
    for k, a in acc.items():
        assert a >= 0.98, (k, a)


def test_seen_in_training_replays_the_training_stream():
    g = torch.Generator().manual_seed(5)
    first_batch, _ = make_sprites(16, g)  # train_attribute_classifier(seed=5) draws these first
    assert seen_in_training(first_batch, steps=1, batch_size=16, seed=5).all()
    assert seen_in_training(first_batch + 0.5, steps=1, batch_size=16, seed=5).sum() == 0
    later = make_sprites(16, seed=6).images
    assert seen_in_training(later, steps=1, batch_size=16, seed=5).sum() <= 1  # 16 draws from ~35,000 images


def test_missing_or_stale_asset_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_sprite_classifier.py"):
        load_sprite_classifier(path=tmp_path / "nope.safetensors")
    other = SpriteAttributeClassifier({"hair_colour": ("a", "b")}, width=4, feature_dim=8)
    save_sprite_classifier(other, tmp_path / "stale.safetensors")
    with pytest.raises(ValueError, match="make_sprite_classifier.py"):
        load_sprite_classifier(path=tmp_path / "stale.safetensors")


def test_real_sprites_cover_everything_with_no_kl(clf):
    real = make_sprites(2000, seed=31).images
    rep = attribute_report(clf, real)
    assert isinstance(rep, AttributeReport)
    assert rep.n == 2000 and rep.n_combinations == N_COMBINATIONS
    assert rep.high_quality > 0.97
    assert rep.coverage >= expected_coverage(2000) - 0.03
    assert rep.kl < 0.02
    for k, h in rep.histograms.items():
        assert h.shape == (len(SPRITE_ATTRIBUTES[k]),) and abs(float(h.sum()) - 1) < 1e-9
    assert "coverage" in rep.summary()


def test_every_combination_once_gives_full_coverage(clf):
    labels = all_combinations()
    rep = attribute_report(clf, render_sprites(labels, seed=1))
    assert rep.n_covered == N_COMBINATIONS and rep.coverage == 1.0
    assert rep.kl < 1e-3  # the histograms are exactly uniform if the classifier is right


def test_only_red_hair_is_collapse(clf):
    labels = make_sprites(1000, seed=2).labels
    labels[:, HAIR] = SPRITE_ATTRIBUTES["hair_colour"].index("red")
    rep = attribute_report(clf, render_sprites(labels, seed=3))
    assert rep.coverage <= 1 / N_HAIR
    assert rep.kl_per_attribute["hair_colour"] == pytest.approx(math.log(N_HAIR), abs=0.02)
    assert rep.kl == pytest.approx(sum(rep.kl_per_attribute.values()))
    assert rep.histograms["hair_colour"][2] > 0.99


def test_kl_of_a_half_half_histogram(clf):
    labels = make_sprites(1000, seed=4).labels
    labels[:, HAIR] = torch.arange(1000) % 2  # black / blonde only
    rep = attribute_report(clf, render_sprites(labels, seed=5))
    # KL(p || uniform over 5) with p = (1/2, 1/2, 0, 0, 0) = log(5/2)
    assert rep.kl_per_attribute["hair_colour"] == pytest.approx(math.log(N_HAIR / 2), abs=0.01)
    assert rep.kl_per_attribute["skin"] < 0.02


def test_custom_true_distribution(clf):
    labels = make_sprites(500, seed=6).labels
    labels[:, HAIR] = 0
    true = {k: torch.ones(len(v)) / len(v) for k, v in SPRITE_ATTRIBUTES.items()}
    true["hair_colour"] = torch.tensor([1.0, 0, 0, 0, 0])
    rep = attribute_report(clf, render_sprites(labels, seed=7), true_distribution=true)
    assert rep.kl_per_attribute["hair_colour"] < 1e-6


def test_noise_and_blends_are_not_high_quality(clf):
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(500, 3, 32, 32, generator=g) * 2 - 1
    assert attribute_report(clf, noise).high_quality < 0.3
    x = make_sprites(500, seed=8).images
    blend = 0.5 * (x + x.roll(1, 0))
    assert attribute_report(clf, blend).high_quality < 0.5


def test_threshold_and_range_checks(clf):
    x = make_sprites(50, seed=9).images
    assert attribute_report(clf, x, threshold=1.0).high_quality <= attribute_report(clf, x, threshold=0.5).high_quality
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        attribute_report(clf, (x + 1) * 127.5)
    with pytest.raises(ValueError, match="threshold"):
        attribute_report(clf, x, threshold=0)
    with pytest.raises(ValueError, match="shape"):
        attribute_report(clf, x[:, :, :16, :16])


def test_mode_collapse_plot(clf):
    real = attribute_report(clf, make_sprites(300, seed=10).images)
    labels = make_sprites(300, seed=11).labels
    labels[:, HAIR] = 2
    red = attribute_report(clf, render_sprites(labels, seed=12))
    for ref in (real, None, {k: torch.ones(len(v)) for k, v in SPRITE_ATTRIBUTES.items()}):
        fig = mode_collapse_plot(red, ref)
        axes = fig.get_axes()
        assert len(axes) == len(ATTRIBUTE_NAMES)
        hair_ax = axes[HAIR]
        heights = [p.get_height() for p in hair_ax.patches]
        assert len(heights) == 2 * N_HAIR and max(heights[:N_HAIR]) > 0.99  # generated: all red
        w, h = fig.get_size_inches()
        assert w <= 12 and h <= 3
        assert smallest_text_pt(fig) >= MIN_FONT_PT
        matplotlib.pyplot.close(fig)


def _red_haired_then_real(clf) -> AttributeTrack:
    labels = make_sprites(300, seed=11).labels
    labels[:, HAIR] = 2  # everyone red-haired at step 100, real sprites at step 200
    track = AttributeTrack(dict(SPRITE_ATTRIBUTES))
    track.add(100, attribute_report(clf, render_sprites(labels, seed=12)))
    track.add(200, attribute_report(clf, make_sprites(300, seed=10).images))
    return track


def test_attribute_track_finds_the_collapse_and_when_it_happened(clf):
    track = _red_haired_then_real(clf)
    assert track.steps == [100, 200] and len(track.histograms["hair_colour"]) == 2
    assert track.histograms["hair_colour"][0][2] > 0.99 and max(track.histograms["hair_colour"][1]) < 0.35
    peaks = {p.attribute: p for p in track.peak_shares()}
    assert list(peaks) == list(ATTRIBUTE_NAMES)
    hair = peaks["hair_colour"]
    assert (hair.value, hair.step, hair.uniform) == ("red", 100, 1 / N_HAIR) and hair.share > 0.99
    assert all(
        p.share < 0.75 for k, p in peaks.items() if k not in ("hair_colour", "accessory")
    )  # nothing else collapsed
    later = {p.attribute: p for p in track.peak_shares(since=150)}  # only the real sprites at step 200
    assert later["hair_colour"].step == 200 and later["hair_colour"].share < 0.35
    with pytest.raises(ValueError, match="no check at or after step 201"):
        track.peak_shares(since=201)
    same = AttributeTrack.from_meta(json.loads(json.dumps(track.to_meta())))  # survives a file's JSON metadata
    assert same == track
    early = track.until(150)
    assert early.steps == [100] and early.high_quality == track.high_quality[:1] and track.steps == [100, 200]
    with pytest.raises(ValueError, match="training order"):
        track.add(200, attribute_report(clf, make_sprites(50, seed=3).images))
    with pytest.raises(ValueError, match="attributes"):
        AttributeTrack({"hair_colour": SPRITE_ATTRIBUTES["hair_colour"]}).add(
            1, attribute_report(clf, make_sprites(50, seed=3).images)
        )


def test_collapse_over_training_stacks_the_shares(clf):
    track = _red_haired_then_real(clf)
    fig = collapse_over_training(track, title="red, then real")
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == list(ATTRIBUTE_NAMES)
    hair = axes[HAIR]
    bands = [c for c in hair.collections if c.get_label() in SPRITE_ATTRIBUTES["hair_colour"]]
    assert [c.get_label() for c in bands] == list(SPRITE_ATTRIBUTES["hair_colour"])
    red_top = bands[2].get_paths()[0].vertices[:, 1].max()
    assert red_top > 0.99  # the red band reaches the top of the panel at the collapsed check
    red_rgb = tuple(c / 255 for c in ATTRIBUTE_COLOURS["hair_colour"][2])
    assert tuple(bands[2].get_facecolor()[0][:3]) == pytest.approx(red_rgb)  # red hair is drawn red
    assert smallest_text_pt(fig) >= MIN_FONT_PT
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="no checks"):
        collapse_over_training(AttributeTrack(dict(SPRITE_ATTRIBUTES)))


def test_training_smoke():
    model = train_attribute_classifier(steps=3, batch_size=16, width=4, feature_dim=8)
    assert not model.training and set(model.heads) == set(ATTRIBUTE_NAMES)
    feats = model.features(make_sprites(64, 1).images)
    assert feats.shape == (64, 8) and torch.isfinite(feats).all()
    assert float(model.feature_scale) > 0
