"""Improved precision and recall (k-NN manifolds): hand-checked cases, and collapse vs blur."""

import pytest
import torch

from musicgan_lib.metrics.precision_recall import inside_manifold, kth_neighbour_radius, precision_recall


def test_radius_is_the_distance_to_the_kth_other_point():
    points = torch.tensor([[0.0], [1.0], [3.0], [6.0]])
    assert kth_neighbour_radius(points, 1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert kth_neighbour_radius(points, 2).tolist() == [3.0, 2.0, 3.0, 5.0]
    with pytest.raises(ValueError, match="k must be between 1 and N - 1 = 3"):
        kth_neighbour_radius(points, 4)


def test_inside_manifold_by_hand():
    support, radius = torch.tensor([[0.0], [10.0]]), torch.tensor([1.0, 2.0])
    points = torch.tensor([[0.5], [1.5], [8.0], [12.5]])
    assert inside_manifold(points, support, radius).tolist() == [True, False, True, False]


def test_a_collapsed_generator_has_precision_but_no_recall_and_noise_the_reverse():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(600, 8, generator=g)
    same = precision_recall(real, torch.randn(600, 8, generator=g))
    assert same.precision > 0.85 and same.recall > 0.85
    collapsed = precision_recall(real, real[:1] + 0.01 * torch.randn(600, 8, generator=g))  # one mode
    assert collapsed.precision > 0.95 and collapsed.recall < 0.05
    blurry = precision_recall(real, 4.0 * torch.randn(600, 8, generator=g))  # covers, but off the data
    assert blurry.precision < 0.3 and blurry.recall > 0.9
    assert str(same).startswith("precision 0.")
    with pytest.raises(ValueError, match="same D"):
        precision_recall(real, torch.randn(5, 3))
