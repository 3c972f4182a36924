"""Chapter 2: DCGAN on 32x32 pixel-art characters, with mode collapse measured.

The chapter trains Radford et al.'s DCGAN on procedural sprites whose attributes are known
(`data/sprites.py`), reads each generated sprite's attributes with a classifier
(`metrics/attributes.py`) and so *counts* what the generator covers. Three recipes are compared
(`models/dcgan_recipes.py`, where chapters 3 and 4 find them too):

- "dcgan": the paper's networks and hyper-parameters, nothing added;
- "dcgan-pac2-ema": the same networks, but the discriminator judges *pairs* of images (PacGAN,
  Lin et al. 2018) and the samples come from an exponential moving average (EMA) of the
  generator's weights, with its batch-norm statistics re-estimated ("standing statistics");
  it needs no labels, and it helps, but not enough;
- "dcgan-cond": the remedy that does not collapse: the generator is told which attribute
  combination to draw and a projection discriminator with spectral norm checks it, hinge loss,
  plus classifier heads that must name every attribute (AC-GAN; without them four seeds of
  five missed the coverage target), EMA generator (`models/conditional.py`). It uses
  the sprites' labels.

This file is the chapter's wiring: one run (`make_run`, `DCGANRun`), its live display, and the
shipped generators (`load_or_train`). The measuring stick (`metrics/sprite_eval.py`) and the
pictures (`spriteplots.py`) are shared with chapters 3 and 4; the names the notebooks read as
`ch2.<name>` stay importable from here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .. import weights
from ..data.sprites import DATA_SEED, SPRITE_ATTRIBUTES, sprite_dataset, sprite_labels, tensor_sampler
from ..device import is_batch_run, seed_everything
from ..imaging import image_grid, label_frame, to_uint8
from ..metrics.attributes import AttributeTrack, attribute_report

# sprite evaluation, shared with chapters 3 and 4; the names the notebooks use as `ch2.<name>` stay here
from ..metrics.sprite_eval import (  # noqa: F401
    EVAL_LATENT_SEED,
    EVAL_REAL_SEED,
    REDRAW_SEED,
    TARGETS,
    FrechetOverDraws,
    SpreadDiagnosis,
    SpriteEvaluation,
    comparison_table,
    diagnose_spread,
    evaluate_generator,
    frechet_over_draws,
    reference_sprites,
    sample_generator,
    sprite_classifier,
    standing_copy,
)
from ..models.dcgan import dcgan_optimizers

# the recipes and sizes (chapters 3 and 4 train them as baselines), read here as `ch2.<name>`
from ..models.dcgan_recipes import (  # noqa: F401
    FULL,
    LOSSES,
    PLAIN,
    RECIPES,
    REMEDY,
    UNSUPERVISED_REMEDY,
    DCGANConfig,
    RecipeSpec,
    build_generator,
    build_models,
    generator_config,
    get_recipe,
    make_loss,
    with_steps,
)
from ..spriteplots import attribute_sweeps, interpolation_pairs  # noqa: F401  (notebooks 02 and 04)
from ..train import Every, GANTrainer, TrainLoop, latent_sampler

MAKE_SCRIPT = "scripts/make_dcgan_weights.py"
KIND = "dcgan_generator"  # the kind of a shipped generator file
CHAPTER_RECIPES = (PLAIN, UNSUPERVISED_REMEDY, REMEDY)  # the three the chapter compares (and ships)
GRID_LATENT_SEED = 7  # the fixed latents of sample grids and GIF frames
FRAME_SPRITES = 16  # sprites per GIF frame (a 4x4 grid)


def frame_steps(total_steps: int, n_frames: int) -> list[int]:
    """Steps at which to grab GIF frames: 0, then geometrically spaced up to total_steps.

    Most of the visible change (noise -> blobs -> characters) happens early, so a geometric
    spacing shows it, where an even spacing would spend most frames on small refinements.
    """
    if total_steps <= 0:
        return [0]
    steps = np.unique(np.round(np.geomspace(1, total_steps, max(n_frames - 1, 1))).astype(int))
    return [0] + [int(s) for s in steps]


@dataclass
class DCGANRun:
    """A trainer plus what the chapter shows about it: GIF frames and the fixed grid latents."""

    recipe: RecipeSpec
    config: DCGANConfig
    trainer: GANTrainer
    grid_latents: Tensor
    frames: list[tuple[int, np.ndarray]] = field(default_factory=list)
    #: the sampling generator's attribute histograms every `config.track_every` steps (None: not tracked)
    attribute_track: AttributeTrack | None = None
    #: what it trains on (stored with its weights)
    data: dict = field(default_factory=dict)

    @property
    def generator(self) -> nn.Module:
        """The live generator the recipe samples from: the EMA one when it keeps one (the module
        itself, updated by training; see `sampling_generator` for a copy ready to sample)."""
        return self.trainer.ema.module if self.trainer.ema is not None else self.trainer.generator

    def sampling_generator(self) -> nn.Module:
        """A copy of `generator` with standing batch-norm statistics, in eval mode (what is
        evaluated, shipped and shown)."""
        return standing_copy(self.generator)

    def train(self, steps: int) -> dict[str, list[float]]:
        """Train up to `steps` steps in total (a resumed or repeated call only does the rest)."""
        return self.trainer.run(steps)

    def sample(self, n: int, seed: int = EVAL_LATENT_SEED) -> Tensor:
        """n samples [n, 3, 32, 32] of `sampling_generator()` from seeded latents (CPU, float32, [-1, 1])."""
        return sample_generator(self.sampling_generator(), n, seed)

    def grab_frame(self, loop: TrainLoop | None = None) -> None:
        """Store the current samples of the fixed latents (raw generator: the EMA lags early on)."""
        step = self.trainer.step
        if not self.frames or self.frames[-1][0] != step:
            imgs = self.trainer.sample(len(self.grid_latents), use_ema=False, latents=self.grid_latents)
            self.frames.append((step, to_uint8(imgs)))

    def check_attributes(self, loop: TrainLoop | None = None) -> None:
        """Append the classifier's reading of `config.track_samples` samples of the sampling
        generator to `attribute_track` (fixed latents; nothing here touches the training's random streams)."""
        if self.attribute_track is None:
            self.attribute_track = AttributeTrack(dict(SPRITE_ATTRIBUTES))
        images = sample_generator(self.sampling_generator(), self.config.track_samples)
        self.attribute_track.add(self.trainer.step, attribute_report(sprite_classifier("cpu"), images))


def make_run(
    recipe: str | RecipeSpec,
    config: DCGANConfig,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    images: Tensor | None = None,
    labels: Tensor | None = None,
    total_steps: int | None = None,
    callbacks: Sequence[Every] = (),
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 0,
) -> DCGANRun:
    """Build (do not train) one DCGAN run on sprites; GIF frames are grabbed on the way to `total_steps`.

    `images` [N, 3, 32, 32] replaces the procedural training set; the conditional recipe then also
    needs their `labels` ([N, 5] in `ATTRIBUTE_NAMES` order).
    """
    spec = get_recipe(recipe)
    if spec.conditional and images is not None and labels is None:
        raise ValueError(f"recipe {spec.name!r} is conditional: pass the images' attribute labels too (labels=[N, 5]), "
                         f"or use a label-free recipe such as {UNSUPERVISED_REMEDY!r}")  # fmt: skip
    rng = seed_everything(seed)
    g, d = build_models(config, spec, device)
    g_opt, d_opt = dcgan_optimizers(g, d, lr=config.lr, betas=config.betas, d_lr=config.lr * spec.d_lr_scale)
    if images is None:
        data = {"source": "procedural sprites (data.sprites.sprite_training_set)", "seed": DATA_SEED}
        images, labels = sprite_dataset(config, device), sprite_labels(config, device)
    else:
        data = {"source": "images passed to make_run"}
    sampler = tensor_sampler(images, labels if spec.conditional else None)
    grid_latents = torch.randn(FRAME_SPRITES, g.latent_dim, generator=torch.Generator().manual_seed(GRID_LATENT_SEED))
    total = total_steps if total_steps is not None else config.steps_for(spec)
    wanted = set(frame_steps(total, config.frames))
    holder: dict[str, DCGANRun] = {}

    def maybe_frame(loop: TrainLoop) -> None:
        if loop.step in wanted:
            holder["run"].grab_frame(loop)

    tracking = (
        [Every(config.track_every, lambda loop: holder["run"].check_attributes(loop), at_end=False)]
        if config.track_every
        else []
    )

    trainer = GANTrainer(
        g, d, make_loss(spec), g_opt, d_opt, sampler, latent_sampler(g.latent_dim),
        batch_size=config.batch_size, rng=rng, device=device, ema_decay=spec.ema_decay,
        autocast=config.bf16,
        callbacks=[Every(1, maybe_frame, at_end=False), *tracking, *callbacks],
        checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
        description=f"{spec.name} seed {seed}",
    )  # fmt: skip
    run = DCGANRun(spec, config, trainer, grid_latents, data={**data, "n": len(images)})
    holder["run"] = run
    if trainer.step == 0:
        run.grab_frame()
    return run


class LiveSamples:
    """An `Every` callback body that shows the fixed-latent sample grid while training.

    Interactive: one image in the notebook is updated in place. Batch runs (course runner,
    nbval, build_notebooks) only keep the grids (`self.grids`) and show the last one at the end,
    so the committed notebook does not carry a dozen images.
    """

    def __init__(self, run: DCGANRun, scale: int = 3, show: bool | None = None) -> None:
        self.run, self.scale = run, scale
        self.show = (not is_batch_run()) if show is None else show
        self.grids: list[tuple[int, np.ndarray]] = []
        self._handle = None

    def __call__(self, loop: TrainLoop) -> None:
        imgs = self.run.trainer.sample(len(self.run.grid_latents), use_ema=False, latents=self.run.grid_latents)
        grid = label_frame(image_grid(imgs, nrow=8, scale=self.scale), f"step {loop.step}")
        self.grids.append((loop.step, grid))
        if self.show:
            self._display(grid)

    def _display(self, grid: np.ndarray) -> None:
        from IPython.display import Image, display

        from ..imaging import png_bytes

        img = Image(data=png_bytes(grid))
        if self._handle is None:
            self._handle = display(img, display_id=True)
        else:
            self._handle.update(img)

    def every(self, steps: int) -> Every:
        return Every(steps, self, at_end=True)


# ---- shipped weights (`musicgan_lib.weights`) -----------------------------------------------------
def shipped_path(recipe: str | RecipeSpec, profile: str = "quick") -> Path:
    """assets/dcgan_<recipe>_<profile>.safetensors, where `scripts/make_dcgan_weights.py` puts a recipe's generator."""
    return weights.weights_path(f"dcgan_{get_recipe(recipe).name.replace('-', '_')}", profile)


SMALL_SET_RECIPES = (PLAIN, "dcgan-diffaug")  # trained on 153 real sprites, to show memorising and its remedy


def small_set_path(recipe: str) -> Path:
    """assets/small_set_<recipe>.safetensors: a recipe's 10,000 steps on freeciv's units and buildings
    (`scripts/make_small_set_runs.py`; load with `load_generator`, the log is meta["memorising_log"])."""
    return weights.weights_path(f"small_set_{recipe.replace('-', '_')}", None)


@dataclass
class ShippedGenerator:
    """A trained generator as the notebook uses it, from a shipped file or from a run trained here:
    the generator (eval mode), its GIF frames [(step, [16, 32, 32, 3] uint8)] and its metadata
    (recipe, steps, history, attribute track)."""

    generator: nn.Module
    meta: dict
    frames: list[tuple[int, np.ndarray]]

    @property
    def attribute_track(self) -> AttributeTrack | None:
        """The attribute checks taken while it trained, or None for a file written without them."""
        track = self.meta.get("attribute_track")
        return AttributeTrack.from_meta(track) if track else None

    @classmethod
    def from_run(cls, run: DCGANRun) -> "ShippedGenerator":
        """What a run trained here gives: its sampling generator, frames, history and attribute checks."""
        meta = {"recipe": run.recipe.name, "steps": run.trainer.step, "train_seconds": run.trainer.loop.seconds,
                "history": run.trainer.history, **_track_meta(run)}  # fmt: skip
        return cls(run.sampling_generator(), meta, list(run.frames))


def _track_meta(run: DCGANRun) -> dict:
    return {"attribute_track": run.attribute_track.to_meta()} if run.attribute_track is not None else {}


def save_generator(
    path: str | Path, run: DCGANRun, extra_meta: Mapping[str, object] | None = None, half: bool = True
) -> Path:
    """Write the run's sampling generator (fp16 by default: half the size, same samples to the eye)
    plus its GIF frames (uint8) and the config/recipe/history (and attribute track, if any) as metadata."""
    g = run.sampling_generator()
    if g is run.generator:  # never modify the live module
        g = copy.deepcopy(g)
    g = g.float().to("cpu", memory_format=torch.contiguous_format)
    frames = torch.from_numpy(np.stack([f for _, f in run.frames])) if run.frames else torch.zeros(0, dtype=torch.uint8)
    meta = {
        "recipe": run.recipe.name,
        "generator": generator_config(g),
        "frame_steps": [s for s, _ in run.frames],
        "history": {k: v[:: max(1, len(v) // 400)] for k, v in run.trainer.history.items()},
        **_track_meta(run),
        **dict(extra_meta or {}),
    }
    return weights.save_weights(path, {"generator": g}, kind=KIND, config=run.config, steps=run.trainer.step,
                                train_seconds=run.trainer.loop.seconds, data=run.data, half=half,
                                tensors={"frames": frames}, meta=meta)  # fmt: skip


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> ShippedGenerator:
    """Load a generator written by `save_generator` (in float32, eval mode) with its frames and metadata."""
    meta = weights.read_weights_meta(path, kind=KIND, make_script=MAKE_SCRIPT, what="DCGAN generator")
    g = build_generator(meta["generator"])
    _, extras = weights.load_weights(path, {"generator": g}, kind=KIND, make_script=MAKE_SCRIPT, device=device)
    frames = extras.get("frames")
    steps = meta.get("frame_steps", [])
    frame_list = (
        [(int(s), frames[i].numpy()) for i, s in enumerate(steps)] if frames is not None and frames.numel() else []
    )
    return ShippedGenerator(g, meta, frame_list)


def load_or_train(
    profile: str,
    *,
    retrain: bool,
    train: Callable[[], dict[str, ShippedGenerator]],
    recipes: Sequence[str] = CHAPTER_RECIPES,
) -> weights.LoadedOrTrained[dict[str, ShippedGenerator]]:
    """{recipe: ShippedGenerator}: the shipped files when the profile ships them and `retrain` is False
    (loaded on the CPU), else what `train()` returns (`ShippedGenerator.from_run` of each run)."""
    paths = {name: shipped_path(name, profile) for name in recipes}
    return weights.load_or_train(paths.values(), load=lambda: {name: load_generator(p) for name, p in paths.items()},
                                 train=train, profile=profile, retrain=retrain, make_script=MAKE_SCRIPT, kind=KIND)  # fmt: skip
