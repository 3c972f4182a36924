"""Chapter 8's report plumbing: distances against references, f0 agreement, baselines and rows."""

import math

import numpy as np
import pytest
import torch

from musicgan_lib.metrics.music import NoteSeq
from musicgan_lib.metrics.song_report import f0_within, frechet, kid, nn_ratio, reference_row
from musicgan_lib.models.song_gan import gaussian_frames


def test_frechet_and_kid_against_references():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 3, generator=g)
    assert frechet(a, a) == pytest.approx(0.0, abs=1e-6)
    shifted = a + torch.tensor([2.0, 0.0, 0.0])
    assert frechet(a, shifted) == pytest.approx(4.0, rel=1e-6)  # a mean shift of 2 along one axis
    scaled = a * 2  # covariance 4x: trace(C + 4C - 2 * 2C) = trace(C), plus the means' gap |mu|^2
    mu = a.double().mean(0)
    assert frechet(a, scaled) == pytest.approx(float(torch.cov(a.T.double()).trace() + mu.pow(2).sum()), rel=1e-6)
    b = torch.randn(400, 3, generator=g)
    assert abs(kid(a, b)) < 0.05 * kid(a, shifted)  # unbiased: about 0 for two draws of one distribution


def test_nn_ratio_is_one_for_new_samples_and_small_for_copies():
    g = torch.Generator().manual_seed(1)
    train, held, new = (torch.randn(200, 4, generator=g) for _ in range(3))
    assert nn_ratio(new, train, held) == pytest.approx(1.0, abs=0.1)
    assert nn_ratio(train[:50] + 1e-3, train, held) < 0.01


def test_f0_within_uses_the_nearest_tracked_frame():
    score = np.array([440.0, 440.0, 0.0, 220.0])  # 50 frames/s: centres 10, 30, 50, 70 ms
    tracked = np.zeros(8)  # 100 frames/s: centres 0, 10, ..., 70 ms
    tracked[[1, 3, 7]] = [440.0 * 2 ** (40 / 1200), 440.0 * 2 ** (60 / 1200), 220.0]
    assert f0_within(tracked, 100.0, score, 50.0) == pytest.approx((2 / 3, 1.0))  # 60 cents is out; all heard
    tracked[7] = 0.0  # the last note unheard (a decayed piano note): recall drops, accuracy counts only what is heard
    assert f0_within(tracked, 100.0, score, 50.0) == pytest.approx((1 / 2, 2 / 3))
    assert math.isnan(f0_within(tracked, 100.0, np.zeros(4), 50.0)[0])


def test_reference_row_of_a_scale():
    scale = NoteSeq(np.array([60, 62, 64, 65, 67, 69, 71, 72.0]), np.arange(8) * 0.5, np.full(8, 0.5))
    row = reference_row("corpus", [scale, scale])
    assert row.scale_consistency == 1.0 and row.step_ratio == 1.0 and row.pc_js == 0.0
    assert row.pitch_class_entropy == pytest.approx(2.75)  # C twice in 8 notes: 2/8 log 4 + 6/8 log 8 bits
    assert row.notes_per_s == pytest.approx(2.0)


def test_gaussian_frames_match_the_per_frame_statistics():
    g = torch.Generator().manual_seed(2)
    train = torch.randn(64, 3, 50, generator=g) * torch.tensor([1.0, 2.0, 0.5])[None, :, None] + 3.0
    fake = gaussian_frames(train, 64, torch.Generator().manual_seed(3))
    assert fake.shape == (64, 3, 50)
    flat = fake.transpose(1, 2).reshape(-1, 3)
    assert (
        (flat.mean(0) - 3.0).abs() < 3 * torch.tensor([1.0, 2.0, 0.5]) / len(flat) ** 0.5
    ).all()  # 3 standard errors
    assert torch.allclose(flat.std(0), torch.tensor([1.0, 2.0, 0.5]), rtol=0.05)
    assert torch.equal(fake, gaussian_frames(train, 64, torch.Generator().manual_seed(3)))
