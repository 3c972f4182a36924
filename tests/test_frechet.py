"""Fréchet distance / KID: closed-form Gaussian cases, floors, collapse, determinism and generic inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from musicgan_lib.data.sprites import make_sprites
from musicgan_lib.metrics.attributes import load_sprite_classifier
from musicgan_lib.metrics.frechet import FrechetReport, frechet_distance, frechet_report, spread_by_direction


def exact_gaussian(n: int, mean: torch.Tensor, cov: torch.Tensor, seed: int) -> torch.Tensor:
    """n samples whose *sample* mean and (n-1)-normalised covariance are exactly mean and cov."""
    d = mean.numel()
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    z = z - z.mean(0)
    c = z.T @ z / (n - 1)
    z = z @ torch.linalg.inv(torch.linalg.cholesky(c)).T  # now sample cov = I exactly
    return mean + z @ torch.linalg.cholesky(cov).T


def closed_form(mu1, s1, mu2, s2) -> float:
    mu1, s1, mu2, s2 = (np.asarray(t, dtype=np.float64) for t in (mu1, s1, mu2, s2))
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def linear(weight: torch.Tensor) -> nn.Linear:
    lin = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        lin.weight.copy_(weight)
        lin.bias.fill_(0.7)  # a shift cancels in the Fréchet distance
    return lin


def test_diagonal_case_by_hand():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    a, b = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 4.0, 1.0])
    x = exact_gaussian(400, mu1.double(), torch.diag(a).double(), 0).float()
    y = exact_gaussian(400, mu2.double(), torch.diag(b).double(), 1).float()
    # features = 2x (+ bias): FD = 4 * (|mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2) = 4 * (5 + (1 + 0 + 4)) = 40
    fd = frechet_distance(linear(2 * torch.eye(3)), x, y)
    assert fd == pytest.approx(40.0, rel=1e-4)


def test_general_case_matches_scipy_closed_form():
    g = torch.Generator().manual_seed(3)
    d = 4
    m1, m2 = torch.randn(d, generator=g).double(), torch.randn(d, generator=g).double()
    r1, r2 = torch.randn(d, d, generator=g).double(), torch.randn(d, d, generator=g).double()
    s1, s2 = r1 @ r1.T + 0.5 * torch.eye(d), r2 @ r2.T + 0.5 * torch.eye(d)
    w = torch.randn(3, d, generator=g)  # a linear feature map to 3 dims
    x, y = exact_gaussian(1000, m1, s1, 4).float(), exact_gaussian(1000, m2, s2, 5).float()
    wd = w.double()
    expect = closed_form(wd @ m1, wd @ s1 @ wd.T, wd @ m2, wd @ s2 @ wd.T)
    assert frechet_distance(linear(w), x, y) == pytest.approx(expect, rel=1e-3)


@pytest.fixture(scope="module")
def sprite_features() -> nn.Module:
    return load_sprite_classifier("cpu").feature_extractor()


@pytest.fixture(scope="module")
def real() -> torch.Tensor:
    return make_sprites(2000, seed=77).images


def test_real_vs_real_is_near_floor_and_collapse_is_far(sprite_features, real):
    fake_real = make_sprites(1000, seed=78).images
    rep = frechet_report(sprite_features, real, fake_real, n=1000)
    assert isinstance(rep, FrechetReport) and rep.n == 1000
    assert 0 < rep.fd_floor < 1.0 and rep.fd < 3 * rep.fd_floor
    assert abs(rep.kid) < 0.02 and abs(rep.kid_floor) < 0.02
    collapsed = fake_real[:1].repeat(1000, 1, 1, 1)
    bad = frechet_report(sprite_features, real, collapsed, n=1000)
    assert bad.fd > 50 * rep.fd_floor and bad.kid > 0.5
    assert bad.fd_floor == rep.fd_floor  # the floor depends only on the real sets
    assert "floor" in bad.summary()


def test_report_is_deterministic_and_leaves_global_rng_alone(sprite_features, real):
    fake = make_sprites(500, seed=79).images
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = frechet_report(sprite_features, real[:1000], fake, n=500, kid_subsets=20)
    assert torch.equal(torch.get_rng_state(), before)
    b = frechet_report(sprite_features, real[:1000], fake, n=500, kid_subsets=20)
    assert a == b


def test_generic_inputs_and_parameter_free_modules():
    """Chapter 7 reuses this on audio features: any tensors, any module (even one without weights)."""
    g = torch.Generator().manual_seed(0)
    real = torch.randn(600, 1, 4, 4, generator=g)
    same = torch.randn(300, 1, 4, 4, generator=g)
    shifted = same + 1.0
    flat = nn.Flatten()
    near = frechet_report(flat, real, same, n=300, kid_subset_size=100)
    far = frechet_report(flat, real, shifted, n=300, kid_subset_size=100)
    assert far.fd == pytest.approx(16.0, rel=0.25)  # mean shift of 1 in 16 dims, plus a little bias
    assert near.fd < 2.0 and far.kid > 10 * abs(near.kid)
    # the mean part is exactly the squared distance of the feature means; a pure shift leaves the spread part ~0
    assert far.fd_mean_part == pytest.approx(float(((real[:300].mean(0) - shifted.mean(0)) ** 2).sum()), rel=1e-5)
    assert far.fd_mean_part == pytest.approx(16.0, rel=0.25) and abs(far.fd - far.fd_mean_part) < 2.0
    wider = frechet_report(flat, real, 3.0 * same, n=300, kid_subset_size=100)  # same mean, 3x the spread
    assert wider.fd_mean_part < 1.5 and wider.fd - wider.fd_mean_part == pytest.approx(16 * (3 - 1) ** 2, rel=0.2)


def test_errors_are_clear(sprite_features, real):
    fake = make_sprites(100, seed=80).images
    with pytest.raises(ValueError, match="2n = 4000 real samples"):
        frechet_report(sprite_features, real, fake)
    with pytest.raises(ValueError, match="generated samples"):
        frechet_report(sprite_features, real, fake, n=200)
    nan = fake.clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        frechet_report(sprite_features, real, nan, n=100)
    classifier = load_sprite_classifier("cpu")
    with pytest.raises(TypeError, match="feature_extractor"):
        frechet_report(classifier, real, fake, n=100)
    with pytest.raises(ValueError, match="kid_subset_size"):
        frechet_report(sprite_features, real, fake, n=100, kid_subset_size=500)


def test_spread_by_direction_finds_the_widened_direction_and_sums_to_fd_when_axes_are_shared():
    d = 6
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    real_var = torch.tensor([8.0, 4.0, 2.0, 1.0, 0.5, 0.25], dtype=torch.float64)
    gen_var = real_var.clone()
    gen_var[3] = 9.0  # the fourth direction is three times as wide (std 3 instead of 1)
    shift = torch.zeros(d, dtype=torch.float64)
    shift[1] = 0.5
    real = exact_gaussian(
        4000, torch.zeros(d, dtype=torch.float64), rotation @ torch.diag(real_var) @ rotation.T, seed=1
    )
    gen = exact_gaussian(4000, rotation @ shift, rotation @ torch.diag(gen_var) @ rotation.T, seed=2)
    s = spread_by_direction(real, gen)
    torch.testing.assert_close(s.real_variance, real_var)
    torch.testing.assert_close(s.generated_variance, gen_var)
    torch.testing.assert_close(s.mean_gap_sq, shift**2)
    assert s.worst(2) == [3, 1]
    torch.testing.assert_close(s.contribution[3], torch.tensor((3.0 - 1.0) ** 2, dtype=torch.float64))
    fd = frechet_distance(nn.Identity(), real.float(), gen.float())
    assert s.contribution.sum().item() == pytest.approx(fd, rel=1e-3)
    torch.testing.assert_close(s.project(gen, 3).var(), torch.tensor(9.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="same d"):
        spread_by_direction(real, gen[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        spread_by_direction(real, gen * float("nan"))
