"""Chapter 7's numbers: every sampler of note latents scored the same way, next to three floors.

Every row uses the same N notes and the same conditions, those of a held-out real set:

* ``real``: held-out real audio vs the real reference set - what "indistinguishable" scores;
* ``reconstruction``: the held-out notes encoded and decoded (at constant f0) - the best any
  GAN over these latents can reach, because it is what a *perfect* latent sampler produces;
* ``gaussian``: the trivial baseline (`models.latent_gan.GaussianBaseline`): a mean linear in
  the pitch height per family and one shared covariance, fitted to the standardised latents.

Metrics: Frechet distance and KID on the note classifier's 64-d features; pitch accuracy of the
frozen classifier against the requested pitch; family entropy ratio (entropy of the predicted
family histogram over that of the real reference set); NDB over K k-means bins of the
standardised *training latents*; the nearest-neighbour ratio in standardised latent space
(generated-to-train over held-out-to-train). `LatentFDTracker` is the cheap progress measure
during training (FD in latent space, no decoding).

`config` below is any object with the chapter's sizes (the recipe's LatentGANConfig): n_eval,
n_train, ndb_k, data_seed, encode_batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..data.note_sets import note_set
from ..data.notes import FAMILIES, PITCH_RANGE
from ..models.latent_gan import GaussianBaseline, LatentGenerator
from ..models.note_latents import SET_OFFSET, ChapterData, decode_latents, module_device, note_duration
from ..train import Every, GANTrainer, TrainLoop
from .distribution import NDBBins, entropy_ratio, fit_ndb_bins, ndb, nearest_neighbour_distances
from .frechet import frechet_report

__all__ = [
    "ROW_LABELS",
    "ROW_NAMES",
    "Evaluator",
    "LatentFDTracker",
    "RowMetrics",
    "gaussian_fd",
    "judge",
    "trained_generator",
]

ROW_NAMES = ("real", "reconstruction", "gaussian", "gan")
ROW_LABELS = {
    "real": "held-out real (floor)",
    "reconstruction": "AE reconstructions (floor)",
    "gaussian": "Gaussian baseline",
    "gan": "latent GAN",
}


@dataclass
class RowMetrics:
    """All metrics of one sample set (one row of the table)."""

    name: str
    fd: float
    kid: float
    kid_std: float
    pitch_accuracy: float
    family_entropy_ratio: float
    ndb: int
    nn_ratio: float


@torch.no_grad()
def judge(classifier: Any, audio: Tensor, batch: int = 250) -> tuple[Tensor, Tensor, Tensor]:
    """(features [N, <=64], pitch_logits [N, 37], family_logits [N, 8]) of the frozen note classifier.

    The chapter-6 NoteClassifier computes features and both heads from one penultimate layer,
    so one forward pass gives all three; any other classifier with `features` and `predict`
    works too (two passes).
    """
    dev = module_device(classifier)
    fused = all(
        hasattr(classifier, a) for a in ("_raw_features", "feature_mean", "feature_scale", "pitch_head", "family_head")
    )
    if not fused:
        feats = torch.cat([classifier.features(a.to(dev)).float().cpu() for a in audio.split(batch)])
        p, f = classifier.predict(audio, batch)
        return feats, p.float().cpu(), f.float().cpu()
    was = classifier.training
    classifier.eval()
    feats, ps, fs = [], [], []
    try:
        for a in audio.split(batch):
            raw = classifier._raw_features(a.to(dev))
            h = torch.relu(raw)
            feats.append(((raw - classifier.feature_mean) / classifier.feature_scale).float().cpu())
            ps.append(classifier.pitch_head(h).float().cpu())
            fs.append(classifier.family_head(h).float().cpu())
    finally:
        classifier.train(was)
    return torch.cat(feats), torch.cat(ps), torch.cat(fs)


class Evaluator:
    """Computes the floors once (real, reconstruction, Gaussian) and then scores any generator the same way.

    Every row uses N = config.n_eval notes with the held-out set's conditions (pitch, family),
    the same fixed noise seed, and the real reference set as the other side of FD / KID.
    """

    def __init__(
        self,
        autoencoder: Any,
        classifier: Any,
        data: ChapterData,
        config: Any,
        seed: int = 0,
        verbose: bool = True,
        real_draws: int = 3,
    ) -> None:
        t0 = time.process_time()
        self.autoencoder, self.classifier, self.data, self.config, self.seed = (
            autoencoder,
            classifier,
            data,
            config,
            seed,
        )
        self.n = config.n_eval
        held = data.held_out
        self.pitch, self.family = held.pitch, held.family
        self.train_std = data.standardise(data.train.z)
        self.bins: NDBBins = fit_ndb_bins(self.train_std, config.ndb_k, seed=0)
        self.held_std = data.standardise(held.z)
        self.held_nn = float(nearest_neighbour_distances(self.held_std, self.train_std).mean())
        self.ref_feats, _, ref_fam = judge(classifier, data.reference.audio)
        self.ref_family_pred = ref_fam.argmax(1)
        self.rows: dict[str, RowMetrics] = {}
        self.audio: dict[str, Tensor] = {}
        self.latents: dict[str, Tensor] = {}
        held_feats, hp, hf = judge(classifier, held.audio)
        self.held_feats = held_feats
        self.rows["real"] = self._row(
            "real", held.audio, data.standardise(data.reference.z), judged=(held_feats, hp, hf)
        )
        recon = decode_latents(autoencoder, held.z, held.pitch, config.encode_batch)
        self.rows["reconstruction"] = self._row("reconstruction", recon, self.held_std)
        self.baseline = GaussianBaseline(self.train_std, data.train.pitch, data.train.family)
        g_std = self.baseline.sample(self.pitch, self.family, torch.Generator().manual_seed(10_000 + seed))
        audio = decode_latents(autoencoder, g_std * data.std + data.mean, self.pitch, config.encode_batch)
        self.rows["gaussian"] = self._row("gaussian", audio, g_std)
        self.fd_real_spread = self._real_floor_spread(real_draws)
        self.floor_seconds = time.process_time() - t0
        if verbose:
            print(f"floors measured in {self.floor_seconds:.0f} CPU s")

    def _real_floor_spread(self, draws: int) -> float:
        """Standard deviation of the real-vs-real FD over the held-out set and `draws` further real
        sets (same size, fresh notes): how much FD moves from one draw of real notes to the next.
        A GAN "beats" the Gaussian baseline only when it is lower by more than this."""
        fds = [self.rows["real"].fd]
        duration, sr = note_duration(self.autoencoder), self.autoencoder.sample_rate
        for k in range(draws):
            batch = note_set(
                self.data.notes,
                self.n,
                seed=self.config.data_seed,
                index_offset=(3 + k) * SET_OFFSET,
                unseen_by=self.config.n_train,
                duration=duration,
                sr=sr,
                frame_rate=self.autoencoder.frame_rate,
            )
            feats = judge(self.classifier, batch.audio)[0]
            fds.append(
                frechet_report(
                    nn.Identity(), torch.cat([self.ref_feats, feats]), feats, self.n, seed=self.seed
                ).fd_floor
            )
        return float(torch.tensor(fds).std()) if len(fds) > 1 else float("nan")

    def _row(
        self, name: str, audio: Tensor, latents_std: Tensor, judged: tuple[Tensor, Tensor, Tensor] | None = None
    ) -> RowMetrics:
        feats, p_logits, f_logits = judged if judged is not None else judge(self.classifier, audio)
        rep = frechet_report(nn.Identity(), torch.cat([self.ref_feats, self.held_feats]), feats, self.n, seed=self.seed)
        if name == "real":  # the real row *is* the floor: FD of held-out vs reference
            fd, kid, kid_std = rep.fd_floor, rep.kid_floor, float("nan")
        else:
            fd, kid, kid_std = rep.fd, rep.kid, rep.kid_std
        pitch_acc = float((p_logits.argmax(1) + PITCH_RANGE[0] == self.pitch).float().mean())
        ent = entropy_ratio(f_logits.argmax(1), self.ref_family_pred, len(FAMILIES))
        nd = ndb(self.bins, latents_std).ndb
        nn_r = float(nearest_neighbour_distances(latents_std, self.train_std).mean()) / self.held_nn
        self.audio[name] = audio
        self.latents[name] = latents_std
        return RowMetrics(name, fd, kid, kid_std, pitch_acc, ent, nd, nn_r)

    @torch.no_grad()
    def evaluate(self, generator: LatentGenerator, name: str = "gan") -> RowMetrics:
        """Sample N latents for the held-out conditions (fixed noise), decode, and score them."""
        noise = torch.randn(self.n, generator.noise_dim, generator=torch.Generator().manual_seed(20_000 + self.seed))
        z = generator.sample(self.pitch, self.family, noise).cpu()
        audio = decode_latents(self.autoencoder, z, self.pitch, self.config.encode_batch)
        row = self._row(name, audio, self.data.standardise(z))
        self.rows[name] = row
        return row

    def table(self, names: tuple[str, ...] | None = None) -> str:
        """The metric table, floors first."""
        names = names or tuple(n for n in ROW_NAMES if n in self.rows) + tuple(
            n for n in self.rows if n not in ROW_NAMES
        )
        head = f"{'N = ' + str(self.n):28s} {'FD':>8s} {'KID':>8s} {'pitch acc':>9s} {'fam. H ratio':>12s} {'NDB/' + str(self.config.ndb_k):>7s} {'NN ratio':>8s}"
        lines = [head, "-" * len(head)]
        for n in names:
            r = self.rows[n]
            lines.append(
                f"{ROW_LABELS.get(n, n):28s} {r.fd:8.3f} {r.kid:8.4f} {r.pitch_accuracy:9.3f} "
                f"{r.family_entropy_ratio:12.3f} {r.ndb:7d} {r.nn_ratio:8.3f}"
            )
        return "\n".join(lines)

    def records(self, name: str = "gan") -> dict[str, float]:
        """The chapter's recorded numbers for the row `name`."""
        r = self.rows[name]
        return {
            "fd": r.fd,
            "fd_recon_floor": self.rows["reconstruction"].fd,
            "fd_real_floor": self.rows["real"].fd,
            "fd_gaussian_baseline": self.rows["gaussian"].fd,
            "fd_real_floor_spread": self.fd_real_spread,
            "kid": r.kid,
            "pitch_accuracy": r.pitch_accuracy,
            "family_entropy_ratio": r.family_entropy_ratio,
            "ndb": float(r.ndb),
            "nn_ratio": r.nn_ratio,
        }

    def targets(self, name: str = "gan") -> list[tuple[str, str, bool]]:
        """(target name, description with the numbers, passed) for each of the chapter's targets."""
        rec = self.records(name)
        k = self.config.ndb_k
        return [
            (
                "fd <= 2 x fd_recon_floor",
                f"fd {rec['fd']:.2f} <= 2 x fd_recon_floor ({2 * rec['fd_recon_floor']:.2f})",
                rec["fd"] <= 2 * rec["fd_recon_floor"],
            ),
            (
                "fd < fd_gaussian_baseline",
                f"fd {rec['fd']:.2f} < fd_gaussian_baseline ({rec['fd_gaussian_baseline']:.2f})",
                rec["fd"] < rec["fd_gaussian_baseline"],
            ),
            (
                "gaussian - fd > real floor's seed spread",
                f"fd_gaussian_baseline - fd = {rec['fd_gaussian_baseline'] - rec['fd']:.3f} > "
                f"fd_real_floor_spread ({rec['fd_real_floor_spread']:.3f})",
                rec["fd_gaussian_baseline"] - rec["fd"] > rec["fd_real_floor_spread"],
            ),
            (
                "pitch_accuracy >= 0.90",
                f"pitch_accuracy {rec['pitch_accuracy']:.3f} >= 0.90",
                rec["pitch_accuracy"] >= 0.90,
            ),
            (
                "family_entropy_ratio >= 0.95",
                f"family_entropy_ratio {rec['family_entropy_ratio']:.3f} >= 0.95",
                rec["family_entropy_ratio"] >= 0.95,
            ),
            (f"ndb <= 10 of {k}", f"ndb {int(rec['ndb'])} <= 10 of {k}", rec["ndb"] <= 10),
            ("0.8 <= nn_ratio <= 1.2", f"0.8 <= nn_ratio {rec['nn_ratio']:.3f} <= 1.2", 0.8 <= rec["nn_ratio"] <= 1.2),
        ]


# --------------------------------------------------------------------------- during training


def trained_generator(trainer: GANTrainer) -> LatentGenerator:
    """The generator to sample from: the EMA copy when the trainer keeps one (buffers included)."""
    g = trainer.ema.module if trainer.ema is not None else trainer.generator
    return g


class LatentFDTracker:
    """A cheap progress measure during training: FD between generated and held-out latents (standardised).

    Latent FD needs no decoding or classifier, so it can be taken every few hundred steps; the
    audio metrics come at the end.
    """

    def __init__(self, data: ChapterData, n: int | None = None, seed: int = 1) -> None:
        held = data.held_out
        n = n or len(held)
        self.data = data
        self.pitch, self.family = held.pitch[:n], held.family[:n]
        self.real = data.standardise(held.z[:n])
        self.noise_seed = seed
        self.steps: list[int] = []
        self.values: list[float] = []

    def __call__(self, generator: LatentGenerator) -> float:
        """Latent FD of `generator`'s samples [n, Z] for the held-out conditions (fixed noise)."""
        noise = torch.randn(
            len(self.pitch), generator.noise_dim, generator=torch.Generator().manual_seed(self.noise_seed)
        )
        fake = self.data.standardise(generator.sample(self.pitch, self.family, noise).cpu())
        return gaussian_fd(self.real, fake)

    def callback(self, trainer_ref: dict, every: int) -> Every:
        """A TrainLoop callback recording the FD every `every` steps (trainer_ref["trainer"]: the GANTrainer)."""

        def fn(loop: TrainLoop) -> None:
            self.steps.append(loop.step)
            self.values.append(self(trained_generator(trainer_ref["trainer"])))

        return Every(every, fn)


def gaussian_fd(x: Tensor, y: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two sample sets x [N, D] and y [M, D] (float64, via eigenvalues)."""
    x, y = x.double(), y.double()
    mu = x.mean(0) - y.mean(0)
    cx, cy = torch.cov(x.T), torch.cov(y.T)
    # tr sqrt(cx cy) = sum sqrt(eig(sqrt(cx) cy sqrt(cx)))
    ex, vx = torch.linalg.eigh(cx)
    sx = (vx * ex.clamp(min=0).sqrt()) @ vx.T
    m = sx @ cy @ sx
    tr = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    return float(mu @ mu + torch.trace(cx) + torch.trace(cy) - 2 * tr)
