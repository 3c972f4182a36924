"""Experiment (chapter 7, issue #28): a latent GAN whose output is a point on a learned sheet.

    python scripts/experiments/ch7_sheet_generator.py [--code-dim 3] [--sheet-steps 6000] [--steps 12000]

Why: four attempts (`docs/experiments/06_07_real_notes.md`) showed the GAN's samples sit 1.7-2.1x as far
from the training latents as a held-out note does, whatever it is told (family, program, velocity): the
real latents of one (pitch, family) lie on a thin sheet (program x velocity) and a free 3-layer MLP does
not land on it precisely. Here the generator is split in two:

1. a *sheet*: a conditional autoencoder, latent [B, Z] + (pitch, family) -> code u [B, code_dim] ->
   latent, trained first on the training latents alone (MSE on standardised latents), then frozen; its
   decoder can only write points of a `code_dim`-dimensional surface per condition;
2. the GAN's generator writes the code: noise [B, 8] + condition -> u, decoded by the frozen sheet.
   The critic, loss, schedule and evaluation are the chapter's, unchanged.

Before any GAN it prints how close the sheet passes to held-out notes (their reconstructions' NN ratio):
that is the best NN ratio the GAN can reach. Prints the chapter's table and its targets; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from musicgan_lib.data.note_sets import choose_note_data  # noqa: E402
from musicgan_lib.device import seed_everything  # noqa: E402
from musicgan_lib.losses import WassersteinLoss  # noqa: E402
from musicgan_lib.metrics.audio_classifier import load_note_classifier  # noqa: E402
from musicgan_lib.metrics.distribution import nearest_neighbour_distances  # noqa: E402
from musicgan_lib.metrics.latent_eval import Evaluator, trained_generator  # noqa: E402
from musicgan_lib.models.ddsp_autoencoder import load_autoencoder  # noqa: E402
from musicgan_lib.models.latent_gan import LatentCritic, LatentGenerator, conditional_samplers  # noqa: E402
from musicgan_lib.models.note_latents import load_chapter_data  # noqa: E402
from musicgan_lib.recipes import latent_gan as ch7  # noqa: E402
from musicgan_lib.train import GANTrainer, linear_lr_decay  # noqa: E402


class SheetGenerator(nn.Module):
    """noise [B, noise_dim] + (pitch, family) -> code u [B, code_dim] (trained) -> frozen sheet -> latent [B, Z].

    The same interface as `LatentGenerator` (forward on packed columns, `sample`, `noise_dim`), so the
    chapter's trainer and evaluator use it unchanged."""

    def __init__(self, coder: LatentGenerator, sheet: LatentGenerator) -> None:
        super().__init__()
        self.coder, self.sheet = coder, sheet.requires_grad_(False)
        self.noise_dim, self.latent_dim = coder.noise_dim, sheet.latent_dim

    def generate(self, noise: Tensor, pitch: Tensor, family: Tensor) -> Tensor:
        return self.sheet.generate(self.coder.generate(noise, pitch, family), pitch, family)

    def forward(self, packed: Tensor) -> Tensor:
        noise, pitch, family = packed[:, : self.noise_dim], packed[:, self.noise_dim], packed[:, self.noise_dim + 1]
        return torch.cat([self.generate(noise, pitch, family), packed[:, self.noise_dim :]], dim=1)

    @torch.no_grad()
    def sample(self, pitch: Tensor, family: Tensor, noise: Tensor) -> Tensor:
        was = self.training
        self.eval()
        out = self.sheet.to_autoencoder(self.generate(noise, pitch, family))
        self.train(was)
        return out


def train_sheet(x: Tensor, pitch: Tensor, family: Tensor, code_dim: int, steps: int, config, seed: int):
    """The conditional autoencoder over standardised latents x [N, Z]; returns (encoder, decoder)."""
    torch.manual_seed(seed)
    z_dim = x.shape[1]
    enc = LatentGenerator(code_dim, z_dim, config.hidden, config.layers, config.embed_dim)
    dec = LatentGenerator(z_dim, code_dim, config.hidden, config.layers, config.embed_dim)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], 1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=1e-5)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        i = torch.randint(0, len(x), (256,), generator=gen)
        u = enc.generate(x[i], pitch[i], family[i])
        loss = (dec.generate(u, pitch[i], family[i]) - x[i]).pow(2).sum(1).mean() + 1e-3 * u.pow(2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 1000 == 0:
            print(f"sheet step {step}: loss {loss.item():.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return enc.eval(), dec.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code-dim", type=int, default=3, help="dimensions of the sheet per (pitch, family)")
    parser.add_argument("--sheet-steps", type=int, default=6000)
    parser.add_argument("--steps", type=int, default=None, help="generator steps (default: the profile's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = ch7.LatentGANConfig.for_profile("quick")
    steps = args.steps or config.steps
    ae, classifier = load_autoencoder(), load_note_classifier()
    data = load_chapter_data(ae, config, cache_dir=ROOT / "runs" / "07", notes=choose_note_data("soundfont"))
    x = data.standardise(data.train.z)
    enc, dec = train_sheet(x, data.train.pitch, data.train.family, args.code_dim, args.sheet_steps, config, args.seed)
    dec.set_latent_stats(data.mean, data.std)

    held = data.standardise(data.held_out.z)
    with torch.no_grad():
        p, f = data.held_out.pitch, data.held_out.family
        recon = dec.generate(enc.generate(held, p, f), p, f)
        train_recon = dec.generate(
            enc.generate(x, data.train.pitch, data.train.family), data.train.pitch, data.train.family
        )
    held_nn = float(nearest_neighbour_distances(held, x).mean())
    print(
        f"sheet ({args.code_dim}-D): training MSE {float((train_recon - x).pow(2).sum(1).mean()):.4f}, held-out "
        f"distance to their reconstruction {float((recon - held).norm(dim=1).mean()):.3f}; NN ratio of the held-out "
        f"notes' reconstructions {float(nearest_neighbour_distances(recon, x).mean()) / held_nn:.3f} "
        f"(held-out notes' own NN distance {held_nn:.3f})",
        flush=True,
    )

    rng = seed_everything(args.seed)
    coder = LatentGenerator(args.code_dim, config.noise_dim, config.hidden, config.layers, config.embed_dim)
    g = SheetGenerator(coder, dec)
    d = LatentCritic(data.latent_dim, config.hidden, config.layers, config.embed_dim)
    sample_real, sample_latent = conditional_samplers(x, data.train.pitch, data.train.family, config.noise_dim)
    g_opt = torch.optim.Adam(coder.parameters(), config.lr, betas=config.betas)
    d_opt = torch.optim.Adam(d.parameters(), config.lr, betas=config.betas)
    trainer = GANTrainer(
        g, d, WassersteinLoss(gp_weight=config.gp_weight), g_opt, d_opt, sample_real, sample_latent,
        batch_size=config.batch_size, rng=rng, n_critic=config.n_critic, ema_decay=config.ema_decay,
        callbacks=[linear_lr_decay([g_opt, d_opt], config.lr, steps, config.final_lr_fraction)],
        description="latent WGAN-GP on a learned sheet",
    )  # fmt: skip
    t0 = time.process_time()
    trainer.run(steps)
    print(f"trained {steps} steps in {time.process_time() - t0:.0f} CPU s", flush=True)
    trained = trained_generator(trainer)
    trained.eval()
    evaluator = Evaluator(ae, classifier, data, config, seed=args.seed)
    evaluator.evaluate(trained)
    print(evaluator.table())
    for _, text, ok in evaluator.targets():
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
