import pytest
import torch

from musicgan_lib.data.toy2d import grid, ring
from musicgan_lib.metrics.modes import mode_report


def test_ring_has_eight_distinct_modes_on_radius_two():
    r = ring()
    assert r.modes.shape == (8, 2) and r.std == 0.02
    assert torch.allclose(r.modes.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    assert torch.cdist(r.modes, r.modes).add(torch.eye(8) * 10).min() > 1.5  # no duplicated angle


def test_grid_has_25_modes_spacing_two():
    g = grid()
    assert g.modes.shape == (25, 2) and g.std == 0.05
    assert sorted(set(g.modes[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_real_samples_cover_every_mode_with_high_quality():
    for mix in (ring(), grid()):
        report = mode_report(mix.sample(2500, torch.Generator().manual_seed(0)), mix)
        assert report.modes_covered == len(mix.modes)
        assert report.high_quality > 0.975  # 3 sigma in 2-D keeps 1 - exp(-4.5) = 98.9%


def test_collapsed_samples_count_one_mode():
    mix = ring()
    samples = mix.modes[3].repeat(100, 1)
    report = mode_report(samples, mix)
    assert report.modes_covered == 1 and report.high_quality == 1.0 and report.counts[3] == 100


def test_far_samples_are_low_quality_and_cover_nothing():
    mix = ring()
    samples = torch.tensor([[0.0, 0.0], [2.0 + 3.5 * 0.02, 0.0]])
    report = mode_report(samples, mix)
    assert report.modes_covered == 0 and report.high_quality == 0.0


def test_nearest_share_sees_a_collapse_that_misses_every_mode():
    mix = ring()  # a blurry collapse: every sample 0.3 off mode 2, so no mode is covered
    samples = mix.modes[2] * 0.85 + 0.01 * torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    report = mode_report(samples, mix)
    assert report.modes_covered == 0 and report.nearest_share[2] == 1.0 and sum(report.nearest_share) == 1.0


def test_constructed_mix_of_good_and_bad_samples():
    mix = grid()
    good = mix.modes[:10] + 0.1  # within 3 * 0.05 * ... distance 0.141 < 0.15
    bad = mix.modes[10:20] + 0.2  # distance 0.28 > 0.15
    report = mode_report(torch.cat([good, bad]), mix)
    assert report.modes_covered == 10 and report.high_quality == pytest.approx(0.5)
    assert str(report).startswith("10/25 modes, 50.0%")


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        mode_report(torch.zeros(5, 3), ring())
