"""NDB, nearest-neighbour ratio and entropy ratio: the cases where the right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from musicgan_lib.metrics.distribution import (
    class_entropy,
    entropy_ratio,
    fit_ndb_bins,
    ndb,
    nearest_neighbour_distances,
    nn_ratio,
)


def gaussian(n: int, dim: int = 8, seed: int = 0, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) + shift


@pytest.fixture(scope="module")
def bins():
    return fit_ndb_bins(gaussian(4000, seed=1), k=50, seed=0)


def test_ndb_bins_are_a_partition_of_the_training_set(bins):
    assert bins.k == 50 and bins.n_train == 4000
    assert bins.train_proportions.sum() == pytest.approx(1.0)
    assert (bins.train_proportions > 0).all()


def test_ndb_same_distribution_is_near_chance_level(bins):
    # a fresh sample of the training distribution: only ~alpha * K = 2.5 bins by chance
    counts = [ndb(bins, gaussian(1000, seed=s)).ndb for s in range(10, 15)]
    assert max(counts) <= 8
    assert np.mean(counts) <= 5


def test_ndb_counts_a_shifted_or_collapsed_distribution(bins):
    shifted = ndb(bins, gaussian(1000, seed=20, shift=0.7))
    assert shifted.ndb >= 20
    collapsed = ndb(bins, gaussian(1000, seed=21) * 0.2)  # all mass near the centre
    assert collapsed.ndb >= 20
    assert collapsed.fraction == collapsed.ndb / 50
    assert "NDB" in collapsed.summary()


def test_ndb_a_copy_of_the_training_set_has_no_significant_bin():
    train = gaussian(2000, seed=3)
    b = fit_ndb_bins(train, k=20, seed=0)
    res = ndb(b, train)
    assert res.ndb == 0
    np.testing.assert_allclose(res.sample_proportions, res.train_proportions)


def test_ndb_rejects_too_few_training_samples_and_wrong_dims(bins):
    with pytest.raises(ValueError, match="at least"):
        fit_ndb_bins(gaussian(60), k=50)
    with pytest.raises(ValueError, match="dims"):
        ndb(bins, torch.zeros(10, 3))
    with pytest.raises(ValueError, match="NaN"):
        ndb(bins, torch.full((10, 8), float("nan")))


def test_nearest_neighbour_distances_by_hand():
    ref = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    x = torch.tensor([[0.0, 1.0], [3.0, 4.0], [6.0, 8.0]])
    assert nearest_neighbour_distances(x, ref).tolist() == pytest.approx([1.0, 0.0, 5.0])


def test_nn_ratio_copies_are_zero_fresh_samples_are_one_far_samples_are_more():
    train = gaussian(3000, seed=4)
    held = gaussian(500, seed=5)
    assert nn_ratio(train[:500], held, train) == pytest.approx(0.0, abs=1e-6)
    fresh = nn_ratio(gaussian(500, seed=6), held, train)
    assert 0.9 <= fresh <= 1.1
    assert nn_ratio(gaussian(500, seed=7, shift=2.0), held, train) > 1.5
    # a memoriser with a little noise on its copies is still far below 1
    assert nn_ratio(train[:500] + 0.05 * gaussian(500, seed=8), held, train) < 0.2


def test_nn_ratio_needs_a_disjoint_held_out_set():
    train = gaussian(100, seed=9)
    with pytest.raises(ValueError, match="disjoint"):
        nn_ratio(gaussian(10, seed=10), train[:10], train)


def test_entropy_ratio_uniform_vs_collapsed():
    uniform = torch.arange(800) % 8
    assert class_entropy(uniform, 8) == pytest.approx(math.log(8))
    assert entropy_ratio(uniform, None, 8) == pytest.approx(1.0)
    assert entropy_ratio(torch.zeros(800, dtype=torch.long), uniform, 8) == 0.0
    half = torch.arange(800) % 4  # four of eight classes, evenly
    assert entropy_ratio(half, uniform, 8) == pytest.approx(math.log(4) / math.log(8))
    # logits work too (argmax), and a reference with the same spread gives 1
    logits = torch.nn.functional.one_hot(uniform, 8).float()
    assert entropy_ratio(logits, uniform.flip(0), 8) == pytest.approx(1.0)


def test_entropy_ratio_rejects_bad_inputs():
    with pytest.raises(ValueError, match="0..7"):
        class_entropy(torch.tensor([0, 9]), 8)
    with pytest.raises(ValueError, match="zero entropy"):
        entropy_ratio(torch.tensor([0, 1]), torch.zeros(5, dtype=torch.long), 8)
