"""Experiment (chapter 7, issue #28): the latent GAN told each note's velocity as well as its pitch and family.

    python scripts/experiments/ch7_velocity_condition.py [--steps 12000] [--threads 1]

Why: held-out real notes differ from training notes by velocity only (`docs/experiments/06_07_real_notes.md`),
so the NN-ratio bar asks the generator to land between two training notes of one program; with the
velocity given, the generator has only to interpolate in it. Not the chapter's recipe: the
velocity goes in as the generator's first noise coordinate (standardised) and as one extra column
the critic reads beside the latent, so the shipped models and the evaluator are used unchanged.
The GAN row is generated for the held-out notes' own velocities. Prints the chapter's table and
its targets; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import Tensor

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from musicgan_lib.data.note_sets import choose_note_data  # noqa: E402
from musicgan_lib.device import seed_everything  # noqa: E402
from musicgan_lib.losses import WassersteinLoss  # noqa: E402
from musicgan_lib.metrics.audio_classifier import load_note_classifier  # noqa: E402
from musicgan_lib.metrics.latent_eval import Evaluator, trained_generator  # noqa: E402
from musicgan_lib.models.ddsp_autoencoder import load_autoencoder  # noqa: E402
from musicgan_lib.models.latent_gan import LatentCritic, LatentGenerator, pack_conditions  # noqa: E402
from musicgan_lib.models.note_latents import load_chapter_data  # noqa: E402
from musicgan_lib.recipes import latent_gan as ch7  # noqa: E402
from musicgan_lib.train import GANTrainer, linear_lr_decay  # noqa: E402


class VelocityGenerator(LatentGenerator):
    """noise[:, 0] is the note's standardised velocity; forward writes it back as a column the critic reads:
    packed [B, noise_dim + 2] -> [latent | velocity | pitch | family] [B, latent_dim + 3]."""

    def forward(self, packed: Tensor) -> Tensor:
        out = super().forward(packed)
        return torch.cat([out[:, : self.latent_dim], packed[:, :1], out[:, self.latent_dim :]], dim=1)


class AtVelocities:
    """The evaluator's view of the generator: its noise's first coordinate set to the held-out notes' velocities."""

    def __init__(self, generator: VelocityGenerator, velocity: Tensor) -> None:
        self.generator, self.velocity, self.noise_dim = generator, velocity, generator.noise_dim

    def sample(self, pitch: Tensor, family: Tensor, noise: Tensor) -> Tensor:
        noise = noise.clone()
        noise[:, 0] = self.velocity
        return self.generator.sample(pitch, family, noise)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="generator steps (default: the profile's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = ch7.LatentGANConfig.for_profile("quick")
    steps = args.steps or config.steps
    ae, classifier = load_autoencoder(), load_note_classifier()
    data = load_chapter_data(ae, config, cache_dir=ROOT / "runs" / "07", notes=choose_note_data("soundfont"))
    v_mean, v_std = data.train.velocity.float().mean(), data.train.velocity.float().std()

    def standard_velocity(v: Tensor) -> Tensor:
        return (v.float() - v_mean) / v_std

    rng = seed_everything(args.seed)
    g = VelocityGenerator(data.latent_dim, 1 + config.noise_dim, config.hidden, config.layers, config.embed_dim)
    g.set_latent_stats(data.mean, data.std)
    d = LatentCritic(data.latent_dim + 1, config.hidden, config.layers, config.embed_dim)
    rows = pack_conditions(
        torch.cat([g.from_autoencoder(data.train.z), standard_velocity(data.train.velocity)[:, None]], dim=1),
        data.train.pitch,
        data.train.family,
    )  # [N, Z + 3]: latent, velocity, pitch, family
    last: dict[str, Tensor] = {}

    def sample_real(batch: int, gen: torch.Generator) -> Tensor:
        picked = rows[torch.randint(0, len(rows), (batch,), generator=gen)]
        last["cond"] = picked[:, -3:]
        return picked

    def sample_latent(batch: int, gen: torch.Generator) -> Tensor:
        cond = last.pop("cond", None)
        if cond is None or len(cond) != batch:
            cond = rows[torch.randint(0, len(rows), (batch,), generator=gen), -3:]
        noise = torch.randn(batch, config.noise_dim, generator=gen)
        return torch.cat([cond[:, :1], noise, cond[:, 1:]], dim=1)

    g_opt = torch.optim.Adam(g.parameters(), config.lr, betas=config.betas)
    d_opt = torch.optim.Adam(d.parameters(), config.lr, betas=config.betas)
    trainer = GANTrainer(
        g, d, WassersteinLoss(gp_weight=config.gp_weight), g_opt, d_opt, sample_real, sample_latent,
        batch_size=config.batch_size, rng=rng, n_critic=config.n_critic, ema_decay=config.ema_decay,
        callbacks=[linear_lr_decay([g_opt, d_opt], config.lr, steps, config.final_lr_fraction)],
        description="latent WGAN-GP, velocity given",
    )  # fmt: skip
    t0 = time.process_time()
    trainer.run(steps)
    print(f"trained {steps} steps in {time.process_time() - t0:.0f} CPU s", flush=True)
    trained = trained_generator(trainer)
    trained.eval()
    evaluator = Evaluator(ae, classifier, data, config, seed=args.seed)
    evaluator.evaluate(AtVelocities(trained, standard_velocity(data.held_out.velocity)))
    print(evaluator.table())
    for _, text, ok in evaluator.targets():
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
