"""A conditional GAN whose samples are not sounds but *encodings* of sounds.

Chapter 6's autoencoder squeezes a one-second note into a small per-note latent z (timbre,
envelope, loudness) plus the pitch curve f0. Its decoder turns any (z, f0) back into audio. So
a GAN that learns the distribution of z, given the pitch and instrument family we ask for,
is a note generator: sample z, decode it at the pitch's frequency, and you have a new note.
The GAN's job is tiny (16 numbers instead of 16,000 samples), which is why it trains in
minutes on a CPU, and the decoder guarantees that every sample is at least a plausible sound.

Both networks see the condition (pitch, family):
* the generator maps noise + pitch embedding + family embedding to a latent through an MLP;
* the critic scores (latent, condition) with an MLP plus a *projection* term
  <embed(condition), features(latent)> (Miyato & Koyama, 2018), which makes "is this a
  plausible latent *for this pitch and family*" easy to express.

GANTrainer passes one tensor around, so conditions travel with the data as extra columns:
generator input [noise | pitch | family] -> output [latent | pitch | family], the critic reads
the same layout. The critic turns the condition columns into embeddings through integer
indices, so no gradient flows into them and the gradient penalty constrains the critic in the
latent only. `conditional_samplers` gives the fakes of every critic step the *same*
conditions as the real batch, so the penalty's interpolates stay inside one condition.

The GAN works on standardised latents (zero mean, unit variance per coordinate of the training
set); the generator stores that affine map and `to_autoencoder` undoes it. (Full PCA whitening,
which also scales the directions the autoencoder barely uses up to unit variance, was tried and
is much worse: the real latents lie on a curved surface of 3-4 dimensions, and whitening
stretches its slight curvature across the thin directions into structure the GAN cannot match.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from torch import Tensor, nn

from ..data.notes import FAMILIES, PITCH_RANGE
from ..songs import Tune, fit_to_range, render_song
from .note_latents import decode_latents

__all__ = [
    "GaussianBaseline",
    "LatentCritic",
    "LatentGenerator",
    "LatentSheet",
    "conditional_samplers",
    "generate_notes",
    "generate_song",
    "interpolate",
    "pack_conditions",
    "pitch_height",
    "slerp",
    "straight_through_one_hot",
    "timbre_morph",
    "timbre_noise",
]

PITCH_LO, PITCH_HI = 48, 84  # the notes data set's range (chapter 5)
N_FAMILIES = 8


def pack_conditions(x: Tensor, pitch: Tensor, family: Tensor) -> Tensor:
    """[x | pitch | family] as one float tensor: the layout GANTrainer passes to G and the critic.

    x [B, D], pitch [B] (MIDI), family [B] (index) -> [B, D + 2] in x's dtype and device.
    """
    return torch.cat([x, pitch.to(x).reshape(-1, 1), family.to(x).reshape(-1, 1)], dim=1)


class _Conditioner(nn.Module):
    """Pitch (embedding + a scalar for "how high") and family (embedding of a one-hot or soft mix)."""

    def __init__(self, embed_dim: int, pitch_range: tuple[int, int], n_families: int) -> None:
        super().__init__()
        self.pitch_lo, self.pitch_hi = pitch_range
        self.n_pitches = self.pitch_hi - self.pitch_lo + 1
        self.n_families = n_families
        self.pitch = nn.Embedding(self.n_pitches, embed_dim)
        self.family = nn.Linear(n_families, embed_dim, bias=False)
        self.out_dim = 2 * embed_dim + 1

    def forward(self, pitch: Tensor, family: Tensor) -> Tensor:
        p = pitch.round().long().reshape(-1)
        if p.numel() and (p.min() < self.pitch_lo or p.max() > self.pitch_hi):
            raise ValueError(f"pitch outside the model's MIDI range {self.pitch_lo}..{self.pitch_hi}")
        if family.ndim == 2 and family.shape[1] == self.n_families:
            fam = family.float()  # a soft mix of families (timbre morphs)
        else:
            f = family.round().long().reshape(-1)
            if f.numel() and (f.min() < 0 or f.max() >= self.n_families):
                raise ValueError(f"family index outside 0..{self.n_families - 1}")
            fam = F.one_hot(f, self.n_families).float()
        height = ((p.float() - (self.pitch_lo + self.pitch_hi) / 2) / (self.pitch_hi - self.pitch_lo) * 2).unsqueeze(1)
        return torch.cat(
            [self.pitch(p - self.pitch_lo), self.family(fam.to(self.family.weight)), height.to(fam)], dim=1
        )


def _mlp(d_in: int, hidden: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.LeakyReLU(0.2)]
    return nn.Sequential(*mods)


class LatentSheet(nn.Module):
    """code [B, sheet_dim] + (pitch, family) -> standardised latent [B, latent_dim]: the surface real latents lie on.

    For one pitch and family the real latents are a thin sheet (two instruments x velocity): a free
    MLP generator lands near it but not on it. This decoder can write nothing *but* points of a
    `sheet_dim`-dimensional surface per condition. It is fitted first, as the decoder of a small
    conditional autoencoder of the training latents (`LatentGenerator.fit_sheet`), and then frozen,
    so the GAN only chooses where on the sheet a note sits.

    With `branches` K > 1 the sheet is K separate pieces per condition, one per instrument of the
    family: a one-hot branch [B, K] joins the code, so a point is "piece k, place c on it", and
    nothing is written in the gaps between the instruments, which one curve through all of them
    must cross.
    """

    def __init__(
        self,
        latent_dim: int,
        sheet_dim: int,
        hidden: int,
        layers: int,
        embed_dim: int,
        pitch_range,
        n_families: int,
        branches: int = 1,
    ) -> None:
        super().__init__()
        self.branches = branches
        self.cond = _Conditioner(embed_dim, pitch_range, n_families)
        self.body = _mlp(sheet_dim + (branches if branches > 1 else 0) + self.cond.out_dim, hidden, layers)
        self.head = nn.Linear(hidden, latent_dim)
        self.requires_grad_(False)  # frozen, except while `fit_sheet` fits it

    def forward(self, code: Tensor, pitch: Tensor, family: Tensor, branch: Tensor | None = None) -> Tensor:
        """code [B, sheet_dim], pitch [B], family [B] or [B, n_families], branch [B, K] one-hot -> [B, latent_dim]."""
        parts = [code, self.cond(pitch, family)]
        if self.branches > 1:
            if branch is None:
                raise ValueError(f"this sheet has {self.branches} branches: pass a one-hot branch [B, {self.branches}]")
            parts.insert(1, branch.to(code))
        return self.head(self.body(torch.cat(parts, dim=1)))


def straight_through_one_hot(logits: Tensor) -> Tensor:
    """logits [B, K] -> the one-hot of their argmax [B, K], with the softmax's gradient (straight-through).

    The forward value is exactly one branch, so a generated note always lies on one piece of the
    sheet; the backward pass lets the generator learn which piece to choose.
    """
    soft = logits.softmax(dim=1)
    hard = F.one_hot(logits.argmax(dim=1), logits.shape[1]).to(soft)
    return hard + soft - soft.detach()


class LatentGenerator(nn.Module):
    """noise [B, noise_dim] + (pitch, family) -> standardised autoencoder latent [B, latent_dim].

    With `sheet_dim` > 0 the MLP writes a code [B, sheet_dim] that a frozen `LatentSheet` decodes; with
    `sheet_branches` K > 1 it also writes K logits, and the argmax picks the sheet's piece."""

    def __init__(
        self,
        latent_dim: int,
        noise_dim: int = 32,
        hidden: int = 256,
        layers: int = 3,
        embed_dim: int = 16,
        pitch_range: tuple[int, int] = (PITCH_LO, PITCH_HI),
        n_families: int = N_FAMILIES,
        sheet_dim: int = 0,
        sheet_branches: int = 1,
    ) -> None:
        super().__init__()
        self.latent_dim, self.noise_dim, self.sheet_dim = latent_dim, noise_dim, sheet_dim
        self.branches = sheet_branches if sheet_dim else 1
        self.cond = _Conditioner(embed_dim, pitch_range, n_families)
        self.body = _mlp(noise_dim + self.cond.out_dim, hidden, layers)
        piece_logits = self.branches if self.branches > 1 else 0  # a branched sheet: which piece, as K logits
        self.head = nn.Linear(hidden, sheet_dim + piece_logits if sheet_dim else latent_dim)
        sizes = (latent_dim, sheet_dim, hidden, layers, embed_dim, pitch_range, n_families, self.branches)
        self.sheet = LatentSheet(*sizes) if sheet_dim else None  # built only when used: the RNG stream stays as it was
        # the affine map between the GAN's (whitened) latents x and the autoencoder's z:
        # z = x @ unwhiten + mean,  x = (z - mean) @ whiten
        self.register_buffer("z_mean", torch.zeros(latent_dim))
        self.register_buffer("z_whiten", torch.eye(latent_dim))
        self.register_buffer("z_unwhiten", torch.eye(latent_dim))

    def set_latent_stats(self, mean: Tensor, std: Tensor) -> None:
        """Per-coordinate standardisation (a diagonal whitening).

        mean, std: [Z] (or [1, Z]) per-coordinate statistics of the autoencoder latents, Z = latent_dim.
        """
        std = std.reshape(-1).clamp(min=1e-6)
        self.set_latent_transform(mean, torch.diag(1.0 / std), torch.diag(std))

    def set_latent_transform(self, mean: Tensor, whiten: Tensor, unwhiten: Tensor) -> None:
        """Any affine map: x = (z - mean) @ whiten, z = x @ unwhiten + mean.

        mean [Z] (or [1, Z]), whiten [Z, Z], unwhiten [Z, Z] with Z = latent_dim.
        """
        self.z_mean.copy_(mean.reshape(-1))
        self.z_whiten.copy_(whiten)
        self.z_unwhiten.copy_(unwhiten)

    def generate(self, noise: Tensor, pitch: Tensor, family: Tensor) -> Tensor:
        """Standardised latents [B, latent_dim] for noise [B, noise_dim], pitch [B] (MIDI), family [B] or [B, n_families]."""
        out = self.head(self.body(torch.cat([noise, self.cond(pitch, family)], dim=1)))
        if self.sheet is None:
            return out
        code, logits = out[:, : self.sheet_dim], out[:, self.sheet_dim :]
        branch = straight_through_one_hot(logits) if self.branches > 1 else None
        return self.sheet(code, pitch, family, branch)

    def fit_sheet(
        self,
        x: Tensor,
        pitch: Tensor,
        family: Tensor,
        steps: int,
        seed: int = 0,
        batch: int = 256,
        progress: bool = True,
        branch: Tensor | None = None,
    ) -> float:
        """Fit the sheet to standardised training latents x [N, latent_dim] (with their pitch, family [N]).

        A conditional autoencoder: an encoder MLP (latent + condition -> code [B, sheet_dim], thrown
        away afterwards) and the sheet as its decoder, `steps` Adam steps (lr 1e-3, cosine decay) on the
        squared error, with a small pull of the codes towards 0 so they stay in the range the GAN
        writes. Then the sheet is frozen again. Returns the final mean squared error per latent.

        A branched sheet (K pieces) needs each note's piece, `branch` [N] in 0..K-1 (e.g. which of its
        family's instruments played it). The pieces cannot be left to find themselves: a piece is an
        MLP of the code, and fitted unlabelled, each piece stretches over all the instruments and
        jumps across the gaps between them where no note sits (see docs/experiments/06_07_real_notes.md).
        """
        if self.sheet is None:
            raise ValueError("this generator has no sheet (sheet_dim = 0)")
        k = self.branches
        if (branch is None) != (k == 1):
            raise ValueError(
                f"a sheet of {k} pieces needs `branch` [N] in 0..{k - 1}"
                if k > 1
                else "a sheet of one piece takes no `branch` labels"
            )
        if branch is not None and (branch.shape != pitch.shape or branch.min() < 0 or branch.max() >= k):
            raise ValueError(f"branch must be [N] = {tuple(pitch.shape)} with values in 0..{k - 1}")
        cond, body = self.sheet.cond, self.sheet.body
        with torch.random.fork_rng(devices=[]):  # the caller's random stream is left as it was
            torch.manual_seed(seed)
            encoder = LatentGenerator(
                self.sheet_dim, self.latent_dim + (k if k > 1 else 0), body[0].out_features, len(body) // 2,
                cond.pitch.embedding_dim, (cond.pitch_lo, cond.pitch_hi), cond.n_families,
            ).to(x.device)  # fmt: skip
        self.sheet.requires_grad_(True)
        params = [*encoder.parameters(), *self.sheet.parameters()]
        opt = torch.optim.Adam(params, 1e-3)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=1e-5)
        rng = torch.Generator().manual_seed(seed)
        pitch, family = pitch.to(x.device), family.to(x.device)
        one_hot = F.one_hot(branch.to(x.device), k).float() if branch is not None else None

        def reconstruct(i: Tensor) -> tuple[Tensor, Tensor]:
            b = one_hot[i] if one_hot is not None else None
            seen = x[i] if b is None else torch.cat([x[i], b], dim=1)  # the encoder knows the piece too
            code = encoder.generate(seen, pitch[i], family[i])
            return self.sheet(code, pitch[i], family[i], b), code

        for _ in tqdm(range(steps), desc="fitting the sheet", disable=not progress, mininterval=1.0):
            i = torch.randint(0, len(x), (min(batch, len(x)),), generator=rng)
            point, code = reconstruct(i)
            error = (point - x[i]).pow(2).sum(1).mean()
            opt.zero_grad()
            (error + 1e-3 * code.pow(2).sum(1).mean()).backward()
            opt.step()
            schedule.step()
        self.sheet.requires_grad_(False)
        with torch.no_grad():
            return float((reconstruct(torch.arange(len(x), device=x.device))[0] - x).pow(2).mean())

    def forward(self, packed: Tensor) -> Tensor:
        """GANTrainer's view: [noise | pitch | family] -> [latent | pitch | family].

        packed [B, noise_dim + 2] -> [B, latent_dim + 2] (pitch and family columns passed through).
        """
        noise, pitch, family = packed[:, : self.noise_dim], packed[:, self.noise_dim], packed[:, self.noise_dim + 1]
        return pack_conditions(self.generate(noise, pitch, family), pitch, family)

    def to_autoencoder(self, x: Tensor) -> Tensor:
        """Undo the standardisation: the latent the chapter-6 decoder expects.

        x [B, Z] standardised -> z [B, Z] (Z = latent_dim).
        """
        return x @ self.z_unwhiten + self.z_mean

    def from_autoencoder(self, z: Tensor) -> Tensor:
        """The standardisation: autoencoder latents z [B, Z] -> the GAN's latents x [B, Z] (Z = latent_dim)."""
        return (z - self.z_mean) @ self.z_whiten

    @torch.no_grad()
    def sample(
        self, pitch: Tensor, family: Tensor, noise: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Autoencoder latents [B, latent_dim] for the given conditions (eval mode, no grad)."""
        device = self.head.weight.device
        if noise is None:
            noise = torch.randn(len(pitch), self.noise_dim, generator=generator)
        was = self.training
        self.eval()
        out = self.to_autoencoder(self.generate(noise.to(device), pitch.to(device), family.to(device)))
        self.train(was)
        return out


class LatentCritic(nn.Module):
    """(standardised latent, pitch, family) -> one score; MLP + projection of the condition embedding.

    No normalisation layers: the gradient penalty needs each sample's score to depend on that
    sample only.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden: int = 256,
        layers: int = 3,
        embed_dim: int = 16,
        pitch_range: tuple[int, int] = (PITCH_LO, PITCH_HI),
        n_families: int = N_FAMILIES,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.cond = _Conditioner(embed_dim, pitch_range, n_families)
        self.body = _mlp(latent_dim + self.cond.out_dim, hidden, layers)
        self.head = nn.Linear(hidden, 1)
        self.project = nn.Linear(self.cond.out_dim, hidden, bias=False)

    def score(self, z: Tensor, pitch: Tensor, family: Tensor) -> Tensor:
        """One score per row: z [B, Z] standardised latents, pitch [B] (MIDI), family [B] (index) or [B, n_families]
        (a soft mix) -> raw scores [B, 1].
        """
        c = self.cond(pitch, family)
        h = self.body(torch.cat([z, c], dim=1))
        return self.head(h) + (self.project(c) * h).sum(dim=1, keepdim=True) / math.sqrt(h.shape[1])

    def forward(self, packed: Tensor) -> Tensor:
        """GANTrainer's view: packed [B, latent_dim + 2] = [latent | pitch | family] -> raw scores [B, 1]."""
        d = self.latent_dim
        return self.score(packed[:, :d], packed[:, d], packed[:, d + 1])


def conditional_samplers(
    latents: Tensor, pitch: Tensor, family: Tensor, noise_dim: int
) -> tuple[Callable[[int, torch.Generator], Tensor], Callable[[int, torch.Generator], Tensor]]:
    """(sample_real, sample_latent) for GANTrainer over standardised latents with their labels.

    latents [N, Z], pitch [N], family [N] -> sample_real(B, rng) [B, Z + 2] and sample_latent(B, rng)
    [B, noise_dim + 2], both laid out as `pack_conditions` (on the CPU).

    sample_real draws a batch of training rows; the next sample_latent call of the same size
    reuses that batch's (pitch, family), so each critic step compares real and fake latents
    for identical conditions (the usual conditional-GAN practice) and the penalty's interpolates
    keep a valid condition. Any other call draws conditions from the training rows. All draws
    come from the loop's generator, so a resumed run sees the same stream.
    """
    n = latents.shape[0]
    data = pack_conditions(latents.float(), pitch, family)
    last: dict[str, Tensor] = {}

    def sample_real(batch: int, rng: torch.Generator) -> Tensor:
        idx = torch.randint(0, n, (batch,), generator=rng)
        last["cond"] = data[idx, -2:]
        return data[idx]

    def sample_latent(batch: int, rng: torch.Generator) -> Tensor:
        cond = last.pop("cond", None)
        if cond is None or cond.shape[0] != batch:
            cond = data[torch.randint(0, n, (batch,), generator=rng), -2:]
        return torch.cat([torch.randn(batch, noise_dim, generator=rng), cond], dim=1)

    return sample_real, sample_latent


def slerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Spherical interpolation between rows of a and b (the path Gaussian noise vectors prefer).

    a, b [N, D]; t: a float or weights [N] in [0, 1], one per row -> [N, D]. With a, b [D], weights [K] give
    the path [K, D].

    A straight line between two Gaussian noise vectors passes through vectors of unusually
    small norm (the middle of the line is closer to the origin), which the generator rarely
    saw; the great circle keeps the norm typical.
    """
    t = torch.as_tensor(t, dtype=a.dtype).reshape(-1, 1)
    an, bn = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


def interpolate(a: Tensor, b: Tensor, steps: int, mode: str = "slerp") -> Tensor:
    """`steps` points from a [D] to b [D] inclusive: "slerp" (for noise) or "linear" (for latents)."""
    if steps < 2:
        raise ValueError("an interpolation needs at least 2 steps")
    t = torch.linspace(0, 1, steps)
    if mode == "linear":
        return a.unsqueeze(0) * (1 - t).unsqueeze(1) + b.unsqueeze(0) * t.unsqueeze(1)
    if mode == "slerp":
        return slerp(a.unsqueeze(0).expand(steps, -1), b.unsqueeze(0).expand(steps, -1), t)
    raise ValueError(f"unknown interpolation mode {mode!r}: use 'slerp' or 'linear'")


# --------------------------------------------------------------------------- the trivial baseline
PITCH_HEIGHT_CENTRE, PITCH_HEIGHT_SCALE = 66.0, 18.0  # MIDI: h(p) = (p - 66) / 18 spans about -1..1 over 48..84


class GaussianBaseline:
    """The trivial sampler a latent GAN must beat: z | (pitch p, family f) ~ N(a_f + b_f * h(p), Sigma).

    Fitted on standardised training latents z_std [N, Z] with their pitch [N] (MIDI) and family
    [N]: a mean linear in the pitch height h(p) = (p - 66) / 18 for each family (least squares),
    and one full covariance Sigma [Z, Z] shared by all conditions (the pooled residuals). A GAN
    that cannot beat this has learnt nothing a mean and a covariance do not already say.
    """

    def __init__(self, z_std: Tensor, pitch: Tensor, family: Tensor, n_families: int = len(FAMILIES)) -> None:
        z = z_std.double()
        h = pitch_height(pitch).double()
        dim = z.shape[1]
        self.coef = torch.zeros(n_families, 2, dim, dtype=torch.float64)
        residuals = []
        for f in range(n_families):
            m = family == f
            if int(m.sum()) < 3:
                raise ValueError(f"family {FAMILIES[f]} has fewer than 3 training notes; cannot fit the baseline")
            x = torch.stack([torch.ones_like(h[m]), h[m]], dim=1)
            sol = torch.linalg.lstsq(x, z[m]).solution  # [2, dim]
            self.coef[f] = sol
            residuals.append(z[m] - x @ sol)
        r = torch.cat(residuals)
        self.cov = (r.T @ r) / (r.shape[0] - 2 * n_families)
        self.chol = torch.linalg.cholesky(self.cov + 1e-6 * torch.eye(dim, dtype=torch.float64))

    def mean(self, pitch: Tensor, family: Tensor) -> Tensor:
        """pitch [N], family [N] -> the conditional means [N, Z] (float32)."""
        c = self.coef[family.long()]  # [N, 2, dim]
        return (c[:, 0] + pitch_height(pitch).double().unsqueeze(1) * c[:, 1]).float()

    def sample(self, pitch: Tensor, family: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """pitch [N], family [N] -> standardised latents [N, Z] drawn from the fitted model."""
        eps = torch.randn(len(pitch), self.chol.shape[0], generator=generator, dtype=torch.float64)
        return self.mean(pitch, family) + (eps @ self.chol.T).float()


def pitch_height(pitch: Tensor) -> Tensor:
    """MIDI pitch [N] -> "how high" [N]: (pitch - 66) / 18, about -1..1 over the notes' range."""
    return (pitch.float() - PITCH_HEIGHT_CENTRE) / PITCH_HEIGHT_SCALE


# --------------------------------------------------------------------------- notes and songs


def generate_notes(
    generator: LatentGenerator,
    autoencoder: Any,
    pitch: Tensor,
    family: Tensor,
    noise: Tensor | None = None,
    seed: int = 0,
) -> Tensor:
    """Audio [N, S] of generated notes for pitch [N] (MIDI) and family [N]; noise [N, noise_dim] or
    drawn from `seed`. The latents are decoded at a constant f0 (`note_latents.decode_latents`)."""
    g = torch.Generator().manual_seed(seed)
    z = generator.sample(pitch, family, noise, generator=g).cpu()
    return decode_latents(autoencoder, z, pitch)


def _family_index(family: int | str) -> int:
    """A family by name ("flute") or index -> its index in FAMILIES."""
    return FAMILIES.index(family) if isinstance(family, str) else int(family)


def timbre_noise(noise_dim: int, seed: int) -> Tensor:
    """One noise vector [D] (D = noise_dim, N(0, 1)): with a family, it names a timbre (an instrument) the GAN
    invents."""
    return torch.randn(noise_dim, generator=torch.Generator().manual_seed(seed))


def generate_song(
    generator: LatentGenerator,
    autoencoder: Any,
    song: Tune,
    family: int | str,
    *,
    seed: int = 0,
    same_timbre: bool = True,
    **render_kw: Any,
) -> tuple[Tensor, Tune]:
    """Render a tune with one generated instrument (same_timbre) or a fresh timbre per note.

    Notes outside the GAN's pitch range are moved by octaves first (with a warning). Returns
    (audio [T] at the autoencoder's sample rate, the tune as played).
    """
    song = fit_to_range(song, *PITCH_RANGE)
    pitch = song.pitches
    fam = torch.full_like(pitch, _family_index(family))
    if same_timbre:
        noise = timbre_noise(generator.noise_dim, seed).expand(len(pitch), -1)
    else:
        noise = torch.randn(len(pitch), generator.noise_dim, generator=torch.Generator().manual_seed(seed))
    notes = generate_notes(generator, autoencoder, pitch, fam, noise)
    return render_song(song, notes, autoencoder.sample_rate, **render_kw), song


def timbre_morph(
    generator: LatentGenerator,
    autoencoder: Any,
    song: Tune,
    timbre_a: tuple[int | str, int],
    timbre_b: tuple[int | str, int],
    *,
    space: str = "latent",
    **render_kw: Any,
) -> tuple[Tensor, Tensor, Tune]:
    """A phrase whose notes slide from timbre A = (family, seed) to timbre B, note by note.

    audio is [T] at the autoencoder's sample rate; t [N] lies in [0, 1], one weight per note.

    space="latent": each note's two endpoint latents are generated at the note's own pitch and
    mixed linearly in the (standardised) autoencoder latent space, so A and B may be of
    different families. space="noise": the GAN's noise is slerped and its family input mixed
    (soft one-hot), so the GAN itself produces every in-between timbre.
    Returns (audio [samples], the interpolation weights t [n_notes], the tune as played).
    """
    song = fit_to_range(song, *PITCH_RANGE)
    pitch = song.pitches
    n = len(pitch)
    t = torch.linspace(0, 1, n) if n > 1 else torch.zeros(1)
    fa, fb = _family_index(timbre_a[0]), _family_index(timbre_b[0])
    na, nb = timbre_noise(generator.noise_dim, timbre_a[1]), timbre_noise(generator.noise_dim, timbre_b[1])
    dev = generator.head.weight.device
    with torch.no_grad():
        generator.eval()
        if space == "latent":
            za = generator.generate(na.expand(n, -1).to(dev), pitch.to(dev), torch.full_like(pitch, fa).to(dev))
            zb = generator.generate(nb.expand(n, -1).to(dev), pitch.to(dev), torch.full_like(pitch, fb).to(dev))
            w = t.to(dev).unsqueeze(1)
            z = generator.to_autoencoder((1 - w) * za + w * zb)
        elif space == "noise":
            noise = slerp(na.expand(n, -1), nb.expand(n, -1), t)
            onehot = torch.zeros(n, len(FAMILIES))
            onehot[:, fa] += 1 - t
            onehot[:, fb] += t
            z = generator.to_autoencoder(generator.generate(noise.to(dev), pitch.to(dev), onehot.to(dev)))
        else:
            raise ValueError(f"unknown space {space!r}: use 'latent' or 'noise'")
    audio = render_song(song, decode_latents(autoencoder, z.cpu(), pitch), autoencoder.sample_rate, **render_kw)
    return audio, t, song
