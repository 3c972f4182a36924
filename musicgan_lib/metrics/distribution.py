"""Is the generator covering the data, or copying it? NDB, nearest-neighbour ratio, entropy ratio.

Fréchet distance compares two Gaussians fitted to features; these three look at other failures:

* **NDB** (number of statistically different bins; Richardson & Weiss, 2018): cluster the
  *training* samples into K bins with k-means, then ask for every bin whether the share of
  generated samples that fall into it differs from the share of training samples (a
  two-proportion z-test, p < 0.05). A collapsed generator empties some bins and overfills
  others; a good one differs only in the ~5 % of bins that fail by chance. Chapter 7 bins the
  autoencoder's latents (standardised), K = 50.
* **nearest-neighbour ratio**: the mean distance from each generated sample to its nearest
  training sample, divided by the same mean for held-out real samples. A generator that
  memorised its training set scores ~0 (its samples sit on training points); one that draws
  fresh samples from the data distribution scores ~1; one that produces off-distribution
  samples scores > 1.
* **entropy ratio**: entropy of the histogram of a classifier's predicted classes (e.g. the
  instrument family) on generated samples over the entropy on real samples. A generator that
  only makes one family scores 0; one that covers the families like the real data scores ~1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "NDBResult",
    "class_entropy",
    "entropy_ratio",
    "fit_ndb_bins",
    "ndb",
    "nearest_neighbour_distances",
    "nn_ratio",
]


def _as_2d_float(x: Tensor | np.ndarray, name: str) -> Tensor:
    t = torch.as_tensor(x).detach().float().cpu()
    if t.ndim != 2 or t.shape[0] < 1:
        raise ValueError(f"{name} must be a 2-D array [N, dims] with N >= 1, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t


# --------------------------------------------------------------------------- NDB


@dataclass
class NDBResult:
    """NDB of one sample set against the training bins: how many of K bins differ significantly."""

    ndb: int
    k: int
    p_values: np.ndarray  # [K]
    train_proportions: np.ndarray  # [K]
    sample_proportions: np.ndarray  # [K]
    significant: np.ndarray  # [K] bool
    alpha: float

    @property
    def fraction(self) -> float:
        return self.ndb / self.k

    def summary(self) -> str:
        return f"NDB {self.ndb}/{self.k} bins differ (p < {self.alpha})"


@dataclass
class NDBBins:
    """K-means bins fitted on training samples (the reference for `ndb`)."""

    centers: Tensor  # [K, dims]
    train_proportions: np.ndarray  # [K]
    n_train: int

    @property
    def k(self) -> int:
        return self.centers.shape[0]

    def assign(self, x: Tensor | np.ndarray) -> np.ndarray:
        """Index of the nearest centre of every row of x.

        x [N, D] (D = the centres' dimension) -> indices [N] (NumPy int64, in 0..K-1).
        """
        x = _as_2d_float(x, "samples")
        if x.shape[1] != self.centers.shape[1]:
            raise ValueError(f"samples have {x.shape[1]} dims, the bins {self.centers.shape[1]}")
        return torch.cdist(x, self.centers).argmin(dim=1).numpy()


def fit_ndb_bins(train: Tensor | np.ndarray, k: int = 50, seed: int = 0) -> NDBBins:
    """K-means (scikit-learn, k-means++ init, 3 restarts, fixed seed) on the training samples.

    train [N, D] (tensor or array, N >= 2K) -> NDBBins with centres [K, D] and training proportions [K].

    Runs on one thread: at this size (thousands of points, K = 50) extra OpenMP threads only
    add synchronisation, and on a busy machine they make the fit 20x slower.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x = _as_2d_float(train, "train")
    if x.shape[0] < 2 * k:
        raise ValueError(f"need at least 2K = {2 * k} training samples to fit {k} bins, got {x.shape[0]}")
    with threadpool_limits(1):
        km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x.numpy().astype(np.float64))
    centers = torch.from_numpy(km.cluster_centers_).float()
    labels = torch.cdist(x, centers).argmin(dim=1).numpy()
    props = np.bincount(labels, minlength=k) / x.shape[0]
    return NDBBins(centers, props, x.shape[0])


def ndb(bins: NDBBins, samples: Tensor | np.ndarray, alpha: float = 0.05) -> NDBResult:
    """Number of bins whose sample share differs from the training share (two-sided z-test, p < alpha).

    samples [M, D] (tensor or array, D as the bins' centres); the result carries per-bin arrays [K].

    The two-proportion z statistic uses the pooled proportion, as in Richardson & Weiss (2018).
    Two sets from the same distribution get about alpha * K significant bins by chance.
    """
    labels = bins.assign(samples)
    n = len(labels)
    q = np.bincount(labels, minlength=bins.k) / n
    p = bins.train_proportions
    pooled = (p * bins.n_train + q * n) / (bins.n_train + n)
    se = np.sqrt(pooled * (1 - pooled) * (1.0 / bins.n_train + 1.0 / n))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p - q) / se, 0.0)
    p_values = np.array([math.erfc(abs(v) / math.sqrt(2.0)) for v in z])
    significant = p_values < alpha
    return NDBResult(int(significant.sum()), bins.k, p_values, p, q, significant, alpha)


# --------------------------------------------------------------------------- nearest neighbours


def nearest_neighbour_distances(x: Tensor | np.ndarray, reference: Tensor | np.ndarray, chunk: int = 1024) -> Tensor:
    """Euclidean distance from every row of x to its nearest row of reference [N]."""
    x = _as_2d_float(x, "x")
    ref = _as_2d_float(reference, "reference")
    if x.shape[1] != ref.shape[1]:
        raise ValueError(f"x has {x.shape[1]} dims, reference {ref.shape[1]}")
    # cdist's fast matrix-product form finds the neighbour; the distance to it is then taken
    # exactly (the fast form loses precision near 0, where copies of training samples sit)
    idx = torch.cat([torch.cdist(c, ref).argmin(dim=1) for c in x.split(chunk)])
    return (x - ref[idx]).norm(dim=1)


def nn_ratio(generated: Tensor | np.ndarray, held_out: Tensor | np.ndarray, train: Tensor | np.ndarray) -> float:
    """Mean nearest-training-sample distance of generated samples / the same for held-out real ones.

    generated [N, D], held_out [N', D] and train [M, D]: tensors or arrays of feature rows of one dimension D.

    ~0: copies of training samples; ~1: as novel as fresh real data; > 1: off the data.
    Use the same number of generated and held-out samples (the mean distance depends on N
    only through the training set, but equal N keeps the comparison plain).
    """
    d_gen = nearest_neighbour_distances(generated, train).mean()
    d_held = nearest_neighbour_distances(held_out, train).mean()
    if float(d_held) <= 0:
        raise ValueError("held-out samples coincide with training samples; nn_ratio needs a disjoint held-out set")
    return float(d_gen / d_held)


# --------------------------------------------------------------------------- entropy


def class_entropy(predictions: Tensor | np.ndarray, n_classes: int) -> float:
    """Entropy (nats) of the histogram of predicted class indices [N] (or of logits/probs [N, C], via argmax)."""
    pred = torch.as_tensor(predictions)
    if pred.ndim == 2:
        pred = pred.argmax(dim=1)
    pred = pred.long().cpu()
    if pred.ndim != 1 or pred.numel() == 0:
        raise ValueError(f"predictions must be class indices [N] or scores [N, C], got shape {tuple(pred.shape)}")
    if pred.min() < 0 or pred.max() >= n_classes:
        raise ValueError(f"class indices must lie in 0..{n_classes - 1}")
    p = torch.bincount(pred, minlength=n_classes).double() / pred.numel()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def entropy_ratio(generated: Tensor | np.ndarray, real: Tensor | np.ndarray | None, n_classes: int) -> float:
    """Entropy of the generated class histogram / entropy of the real one (log n_classes when real is None).

    generated, real: class indices [N] in 0..n_classes-1, or scores [N, C] (argmax taken); N may differ.

    1 means the generated samples spread over the classes as much as real ones; a generator
    collapsed onto one class scores 0.
    """
    h_ref = math.log(n_classes) if real is None else class_entropy(real, n_classes)
    if h_ref <= 0:
        raise ValueError("the reference histogram has zero entropy (one class only); the ratio is undefined")
    return class_entropy(generated, n_classes) / h_ref
