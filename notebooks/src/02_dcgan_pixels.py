# %% [markdown]
# # Chapter 2 — DCGAN on pixel-art characters, with mode collapse measured
#
# Chapter 1 played the GAN game on points in the plane. Now the samples are **images**: 32×32
# pixel-art characters. The networks become convolutional, following the recipe of
# Radford, Metz & Chintala (2016), *Unsupervised Representation Learning with Deep Convolutional
# GANs* — **DCGAN**, the first GAN recipe that trained reliably on images.
#
# The characters are drawn by a small procedural generator (`musicgan_lib.data.sprites`), so every
# real sprite comes with exact labels: hair colour (5), hair style (4), skin (3), shirt (4) and
# hat or no hat (2) — **480 combinations**, all equally likely. That is what lets us *measure*
# mode collapse on images, as we counted modes on the ring in chapter 1: a classifier reads the
# attributes off every generated sprite, and we count which combinations the generator makes.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": shipped weights + a short live training on a laptop; "full": train from scratch (GPU)
SEED = 0
DEVICE = "auto"
RETRAIN = False  # True: train the three recipes here instead of loading assets/dcgan_*_<profile>.safetensors
SPRITES = ""  # your own sprites: a folder of PNGs, or a sprite sheet (then set TILE); "" = the built-in set
TILE = 0  # a sheet's tile size in pixels (0: PNGs are whole sprites); SPACING / MARGIN as a tile editor writes them
SPACING = 0
MARGIN = 0
OWN_STEPS = 300  # steps of the small-data recipe on your sprites in the notebook (the command trains longer)

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from torch import nn

from musicgan_lib.data.sprites import (
    N_COMBINATIONS,
    SPRITE_ATTRIBUTES,
    expected_coverage,
    make_sprites,
    sprites_or_builtin,
)
from musicgan_lib.data.sprite_sets import freeciv_installed, units_and_buildings
from musicgan_lib.device import pick_device, seed_everything
from musicgan_lib.exercises import run_check
from musicgan_lib.exercises.ch02 import check_first_layer_weights, check_most_collapsed, check_transposed_conv_size
from musicgan_lib.imaging import image_grid, interpolate_latents, progress_gif_frames, show_gif, show_grid, write_gif
from musicgan_lib.metrics.attributes import collapse_over_training, mode_collapse_plot
from musicgan_lib.metrics.sprite_eval import critic_on_real, sample_generator
from musicgan_lib.metrics.sprite_features import generic_sprite_report
from musicgan_lib.models.dcgan import count_parameters
from musicgan_lib.record import check_targets, output_dir, record
from musicgan_lib.recipes import dcgan_pixels as ch2
from musicgan_lib.spriteplots import memorising_figure
from musicgan_lib.train import train_with_estimate
from musicgan_lib.viz import readable_figures

readable_figures()
warnings.filterwarnings("ignore", message="The figure layout has changed to tight")
device = pick_device(DEVICE)
seed_everything(SEED)
config = ch2.DCGANConfig.for_profile(PROFILE)
RECIPES = ch2.CHAPTER_RECIPES  # plain DCGAN, the label-free remedy, the conditional remedy
start_time = time.perf_counter()


# %%
# NBVAL_CHECK_OUTPUT
print(
    f"profile {PROFILE}: batch {config.batch_size}, latent {config.latent_dim}, ngf = ndf = {config.ngf}, "
    f"{config.dataset_size} training sprites, {config.steps} steps per full run ({config.remedy_steps} for the remedy)"
)
print(
    "attributes:",
    ", ".join(f"{k} ({len(v)})" for k, v in SPRITE_ATTRIBUTES.items()),
    f"-> {N_COMBINATIONS} combinations",
)

# %% [markdown]
# ## The data
#
# Real sprites. Besides the five attributes, every sprite has a random pose (leg length,
# arm down or waving, eye direction) and a random 1-pixel offset: variation the generator has to
# learn, but that the attribute classifier is trained to ignore.

# %%
real_batch = make_sprites(36, seed=SEED)
fig = show_grid(image_grid(real_batch.images, nrow=12, scale=2), "real sprites, at twice their size")
plt.show()

# %% [markdown]
# ## The measuring stick
#
# A small CNN (`metrics.attributes`, trained on procedural sprites and tested on sprites it never
# saw) reads each sprite. On 2,000 samples we report:
#
# * **high quality** — the fraction of samples on which *every* attribute head is at least 90 %
#   confident (a smudge that is "maybe blonde, maybe pink" does not count);
# * **combination coverage** — the distinct attribute combinations among the high-quality samples,
#   out of 480. Even perfect samples do not reach 1: 2,000 draws from 480 equally likely combinations
#   miss some of them (the cell below prints how many, on average);
# * **attribute KL** — how far the generated attribute histograms are from the true (uniform) ones,
#   summed over the five attributes (0 is perfect; one hair colour only would give ln 5 ≈ 1.61);
# * **Fréchet distance (FD)** and **KID** between real and generated sprites in the classifier's
#   64-d feature space. FD is biased at finite N, so it is always printed next to its **floor**:
#   the FD between two *real* sets of the same size.
#
# Here is what real sprites score — the ceiling a generator can reach:

# %%
# NBVAL_CHECK_OUTPUT
real_eval = ch2.evaluate_generator(make_sprites(config.eval_samples, seed=4321).images, n=config.eval_samples)
print(real_eval.summary())
print(f"ideal coverage at N={config.eval_samples}: {expected_coverage(config.eval_samples):.3f}")

# %% [markdown]
# ## The networks
#
# DCGAN's rules, as the paper lists them, sized for 32×32:
#
# * no pooling, no fully connected hidden layers: the **generator** turns a 100-d noise vector into
#   a 4×4 feature map with a transposed convolution and doubles the resolution three times with
#   4×4, stride-2 transposed convolutions (4×4 → 8×8 → 16×16 → 32×32); the **discriminator** mirrors
#   it with stride-2 convolutions and ends in a 4×4 convolution that outputs one logit;
# * **batch norm** in every layer except the generator's output and the discriminator's input;
# * ReLU in the generator with **tanh** at the output (pixels live in [-1, 1]); **LeakyReLU(0.2)** in
#   the discriminator;
# * weights drawn from **N(0, 0.02)**; **Adam** with learning rate 2·10⁻⁴ and **β₁ = 0.5** (the default
#   0.9 made training oscillate in the paper).
#
# Here is the generator as code. Each block is a transposed convolution, batch norm and ReLU; a
# 4×4 kernel with stride 2 and padding 1 doubles the side of the feature map, and the first block
# (stride 1, no padding) turns the noise vector, seen as a 1×1 map with 100 channels, into a 4×4 one.
# The channels halve as the side doubles, so every block costs about the same.


# %%
def up_block(c_in, c_out, stride=2, padding=1):
    """[B, c_in, H, W] -> [B, c_out, 2H, 2W] (stride 2): transposed conv, batch norm, ReLU."""
    # no bias: batch norm right after subtracts the mean, so a bias would be undone
    return [nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def dcgan_generator(latent_dim, ngf):
    """z [B, latent_dim, 1, 1] -> sprites [B, 3, 32, 32] with pixels in [-1, 1]."""
    return nn.Sequential(
        *up_block(latent_dim, 4 * ngf, stride=1, padding=0),  # 1x1 -> 4x4
        *up_block(4 * ngf, 2 * ngf),  # 4x4 -> 8x8
        *up_block(2 * ngf, ngf),  # 8x8 -> 16x16
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False),  # 16x16 -> 32x32, three colour channels
        nn.Tanh(),  # no batch norm on the output: pixels keep their own range
    )


# %% [markdown]
# The discriminator runs the same path backwards: each block is a stride-2 convolution (halving the
# side), batch norm and LeakyReLU, with no batch norm on the first block, which sees the pixels.
# A last 4×4 convolution without padding reads the 4×4 map into one number, the logit "real".


# %%
def down_block(c_in, c_out, norm=True):
    """[B, c_in, H, W] -> [B, c_out, H/2, W/2]: strided conv, batch norm (not on the pixels), LeakyReLU."""
    if not norm:
        return [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
    return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


def dcgan_discriminator(ndf):
    """sprites [B, 3, 32, 32] -> one logit per sprite, [B, 1, 1, 1]."""
    return nn.Sequential(
        *down_block(3, ndf, norm=False),  # 32x32 -> 16x16
        *down_block(ndf, 2 * ndf),  # 16x16 -> 8x8
        *down_block(2 * ndf, 4 * ndf),  # 8x8 -> 4x4
        nn.Conv2d(4 * ndf, 1, 4, 1, 0),  # 4x4 -> 1x1: the logit
    )


# %% [markdown]
# The chapter trains the library's `DCGANGenerator` and `DCGANDiscriminator`
# (`musicgan_lib/models/dcgan.py`), which build these layers for any power-of-two size and add the
# options the remedies below need. Push a batch through the library's networks and print the shape
# after every convolution; then load their weights into the page's networks and compare the
# outputs. (`tests/test_notebook_02_page.py` makes the same comparison, so the page cannot drift
# from the code that trains.)

# %%
# NBVAL_CHECK_OUTPUT
g_demo, d_demo = ch2.build_models(config, ch2.PLAIN)


def print_shapes(network, x):
    """Run x through `network.net` layer by layer, printing the shape after every convolution."""
    print(f"  {'input':16s} {tuple(x.shape)}")
    for layer in network.net:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            print(f"  {type(layer).__name__:16s} {tuple(x.shape)}")
    return x


with torch.no_grad():
    z = torch.randn(16, config.latent_dim, 1, 1, generator=torch.Generator().manual_seed(SEED))
    print("generator")
    fakes = print_shapes(g_demo, z)
    print("discriminator")
    logits = print_shapes(d_demo, fakes)
    page_g, page_d = dcgan_generator(config.latent_dim, config.ngf), dcgan_discriminator(config.ndf)
    page_g.load_state_dict(g_demo.net.state_dict())  # strict: the same layers with the same shapes
    page_d.load_state_dict(d_demo.net.state_dict())
    print("the page's generator makes the same sprites:", torch.allclose(page_g(z), fakes, atol=1e-5))
    print("the page's discriminator gives the same logits:", torch.allclose(page_d(fakes), logits, atol=1e-5))
print(f"generator {count_parameters(g_demo):,} parameters, discriminator {count_parameters(d_demo):,}")

# %% [markdown]
# ## Training, live
#
# The loop is the book's one training loop (`musicgan_lib.train.GANTrainer`): a discriminator step
# on a real and a generated batch, then a generator step on fresh latents with the non-saturating
# loss, the discriminator frozen. It runs in `channels_last` memory format with a fused Adam, and in
# bfloat16 autocast on CPUs that have native bf16 instructions, which makes it faster than a plain
# pytorch/examples-style loop (measured in `benchmarks/bench_dcgan_step.py`,
# `benchmarks/bench_dcgan_layers.py` and `benchmarks/RESULTS.md`; the speed-ups are in the chapter's
# [experiment log](../docs/experiments/02_dcgan.md)). The generator step draws fresh latents, as the
# shipped weights were trained (`reuse_fakes=False`).
#
# A full run is a few thousand steps — too long for this notebook on a laptop, so the quick profile
# ships the weights of full runs (made by `scripts/make_dcgan_weights.py`, same code, same seed) and
# trains only a short live run here, to watch the loop move: the grid below shows 16 fixed latent
# vectors, decoded every few steps. Interactively it updates in place; in a batch run only the last
# picture is kept. (The full profile trains everything here.)


# %%
def train_shown(name, steps):
    """Train recipe `name` for `steps` steps, showing its fixed-latent grid as it goes; return the run."""
    run = ch2.make_run(name, config, seed=SEED, device=device, total_steps=steps)
    live = ch2.LiveSamples(run)
    run.trainer.loop.callbacks.append(live.every(config.live_every))
    t0 = time.perf_counter()
    run.train(steps)
    print(
        f"{name}: {steps} steps in {time.perf_counter() - t0:.1f} s "
        f"({steps * config.batch_size / (time.perf_counter() - t0):.0f} images/s)"
    )
    if live.grids and not live.show:
        show_grid(live.grids[-1][1], f"{name}, live run, step {live.grids[-1][0]}")
        plt.show()
    return run


# the shipped generators of complete runs, or (RETRAIN = True, or the full profile) complete runs trained here
loaded = ch2.load_or_train(
    PROFILE,
    retrain=RETRAIN or config.retrain,
    train=lambda: {name: ch2.ShippedGenerator.from_run(train_shown(name, config.steps_for(name))) for name in RECIPES},
)
print(loaded)
if loaded.shipped:  # complete runs from assets/: train a short one here, to watch the loop move
    live_run = train_shown(ch2.REMEDY, config.live_steps)

# %% [markdown]
# The live run trains the chapter's final recipe (the conditional one, explained below). After so
# few steps the generator has found the background and a dark blob in the middle: nothing like a
# character yet. Here is what the full run looked like, from step 0 to the end:
# the **training-progress GIF** (16 fixed latent vectors; frames at geometrically spaced steps, since
# most of the change happens early — noise, then blobs, then characters).

# %%
generators = {name: g.generator for name, g in loaded.value.items()}
frames = loaded.value[ch2.REMEDY].frames
histories = {name: g.meta["history"] for name, g in loaded.value.items()}
steps_done = {name: g.meta["steps"] for name, g in loaded.value.items()}
tracks = {name: g.attribute_track for name, g in loaded.value.items()}
keep = sorted({round(i * (len(frames) - 1) / 15) for i in range(16)})  # at most 16 frames, 8 sprites each: a small GIF
gif_frames = progress_gif_frames([(frames[i][0], frames[i][1][:8]) for i in keep], scale=1)
gif_path = write_gif(gif_frames, output_dir("02") / "dcgan_progress.gif", fps=3)
print(f"{len(gif_frames)} frames, steps {frames[0][0]} to {frames[-1][0]}; written to {gif_path.name}")
show_gif(gif_path, width=400)

# %% [markdown]
# ## Final samples
#
# Twelve sprites from each generator, one row per recipe, drawn with the same random seed.

# %%
rows = [
    image_grid(ch2.sample_generator(g, 12, seed=ch2.GRID_LATENT_SEED), nrow=12, scale=2) for g in generators.values()
]
title = "top to bottom: " + ", ".join(f"{name} after {steps_done[name]} steps" for name in generators)
fig = show_grid(np.concatenate(rows), title)
plt.show()

# %% [markdown]
# ## Mode collapse, measured
#
# Three recipes, all with the same generator body, data, seed and batch:
#
# * **dcgan** — the paper's recipe, nothing added;
# * **dcgan-pac2-ema** — a label-free remedy: the discriminator judges pairs, samples come from an
#   averaged generator;
# * **dcgan-cond** — the generator is *told* which character to draw and the discriminator checks it.
#
# The first two trained 4,000 steps; the shipped dcgan-cond trained 30,000: it covers the
# combinations by 4,000, but its sprites keep getting cleaner long after (its numbers at 4,000
# steps, and over other seeds, are in the [experiment log](../docs/experiments/02_dcgan.md)).
# Why the two remedies are built the way they are comes below, after the numbers. Each generator
# draws 2,000 sprites from the same latent vectors and goes through the same measuring stick as the
# real sprites above.

# %%
evaluations = {name: ch2.evaluate_generator(g, n=config.eval_samples) for name, g in generators.items()}
print(ch2.comparison_table({"real sprites (ceiling)": real_eval, **evaluations}))

# %% [markdown]
# Coverage depends on how many samples are high quality, so compare it with what *uniformly spread*
# high-quality samples would cover: with $k$ of them, $480\,(1 - (1 - 1/480)^k)$ combinations on
# average. A generator that makes good sprites but only of a few kinds covers far fewer.

# %%
for name, ev in {"real sprites": real_eval, **evaluations}.items():
    a = ev.attributes
    k = round(a.high_quality * a.n)
    ideal = expected_coverage(k)
    share = f"{a.coverage / ideal:.0%} of that" if k else "no high-quality sample at all"
    print(
        f"{name:16s} {k:5d} high-quality samples cover {a.n_covered:3d} combinations; "
        f"uniformly spread they would cover {ideal * N_COMBINATIONS:5.0f} -> {share}"
    )

# %% [markdown]
# How far can one Fréchet distance be trusted? Every number above comes from one draw fixed before
# any of these generators was trained: the same 2,000 latent vectors for every generator and the
# same 4,000 real sprites (2,000 to compare with, 2,000 more for the floor). With other draws the
# FD of the same generator moves, and so does the floor. Five fresh draws for the conditional
# generator, each with its own latents and its own real sprites:

# %%
spread = ch2.frechet_over_draws(generators[ch2.REMEDY], draws=5, n=config.eval_samples)
for k, r in enumerate(spread.reports):
    print(
        f"draw {k}:     FD {r.fd:.3f}, floor {r.fd_floor:.3f}, FD / floor {r.fd / r.fd_floor:.2f} | KID {r.kid:.4f}, floor {r.kid_floor:.4f}"
    )
fixed = evaluations[ch2.REMEDY].frechet
print(
    f"fixed draw: FD {fixed.fd:.3f}, floor {fixed.fd_floor:.3f}, FD / floor {fixed.fd / fixed.fd_floor:.2f} | "
    f"KID {fixed.kid:.4f}, floor {fixed.kid_floor:.4f}  (the table above)"
)
print(spread.summary())
print(
    f"under {ch2.TARGETS['fd_over_floor']:.0f} x its own floor in every draw: {bool((spread.ratio <= ch2.TARGETS['fd_over_floor']).all())}"
)


# %%
floor_rank = int((spread.floor < fixed.fd_floor).sum())  # fresh draws with a lower floor than the fixed one
display(
    Markdown(
        f"Over the {len(spread.reports)} fresh draws the FD of this one generator runs from {spread.fd.min():.3f} "
        f"to {spread.fd.max():.3f}, {spread.fd.max() / spread.fd.min() - 1:.0%} above its lowest, and the floor from "
        f"{spread.floor.min():.3f} to {spread.floor.max():.3f}, though no generator is involved in the floor: it "
        "compares two sets of real sprites. The fixed draw's floor, "
        f"{fixed.fd_floor:.3f}, is "
        + (
            'lower than all of them, which makes its "× floor" one of the strictest.'
            if floor_rank == 0
            else f"above {floor_rank} of them."
        )
    )
)

# %% [markdown]
# So compare an FD with the floor *of the same draw*, and do not read much into two FDs that differ
# by less than this spread — two training runs, or two checkpoints of one run, included. KID is
# printed alongside: it is unbiased, so its real-vs-real floor scatters around zero (it can come out
# negative) and there is no ratio to take; read its spread over the draws the same way.

# %% [markdown]
# The **mode-collapse detector**: for each attribute, the histogram of what the classifier reads on
# the generated sprites (orange) next to the real ones (blue). A collapsed generator shows up as
# tall orange bars on a few values and missing bars elsewhere; the panel titles give each
# attribute's KL.

# %%
for name, ev in evaluations.items():
    fig = mode_collapse_plot(ev.attributes, real_eval.attributes, labels=(name, "real"))
    plt.show()

# %% [markdown]
# ### The collapse on the way
#
# Those histograms show where each run *stopped*. The textbook picture of mode collapse, a
# generator whose every sprite ends up with the same hair colour, is something that happens
# *during* training, and a picture of the end can miss it. So while the runs trained, every 200
# steps the generator they sample from drew 500 sprites from fixed latent vectors and the
# classifier read them. Each panel stacks the shares of one attribute's values over training.
# Real sprites would give equal bands (the dotted lines); a band that fills its panel means nearly
# every sprite has that value.

# %%
for name, track in tracks.items():
    if track is None:
        print(
            f"{name}: no attribute checks (trained for fewer than {config.track_every} steps, "
            "or its weights file was written before scripts/make_dcgan_weights.py recorded them)"
        )
        continue
    fig = collapse_over_training(track, title=f"{name}: what the generator drew while it trained")
    plt.show()
    settled = track.steps[len(track.steps) // 2]  # the second half of the run's checks
    print(
        f"{name}: the largest share of one value ({len(track.steps)} checks, steps {track.steps[0]}-{track.steps[-1]}); "
        f"at any check | from step {settled} on | real sprites"
    )
    for peak, late in zip(track.peak_shares(), track.peak_shares(since=settled)):
        print(
            f"  {peak.attribute:12s} {peak.share:4.0%} {peak.value!r:9s} at step {peak.step:5d} | "
            f"{late.share:4.0%} {late.value!r:9s} at step {late.step:5d} | {peak.uniform:.0%} each"
        )

# %% [markdown]
# Read the tables as a story. Early on, one value of some attribute covers most sprites: the runs
# start collapsed, and even the conditional generator ignores its codes at first, since it has not
# yet learned to read them. What follows differs, and the second column says how: how far above
# its real share the most over-drawn value still gets in the second half of each run.

# %%
collapse_lines = []
for name, track in tracks.items():
    if track is None:
        continue
    settled = track.steps[len(track.steps) // 2]
    first = max(track.peak_shares(), key=lambda peak: peak.share)
    late = max(track.peak_shares(since=settled), key=lambda peak: peak.share / peak.uniform)
    collapse_lines.append(
        f"* **{name}**: at step {first.step}, {first.share:.0%} of its sprites had {first.attribute} "
        f"{first.value!r}. From step {settled} on, the most over-drawn value was {late.attribute} "
        f"{late.value!r}: {late.share:.0%} of the sprites against {late.uniform:.0%} of real ones, "
        f"{late.share / late.uniform:.1f} × its share."
    )
if tracks[ch2.PLAIN] is not None:
    hair = next(peak for peak in tracks[ch2.PLAIN].peak_shares() if peak.attribute == "hair_colour")
    collapse_lines.append(
        f"\nThe most any one hair colour reached in the plain DCGAN run was {hair.share:.0%} of its sprites "
        f"({hair.value!r}, step {hair.step})."
    )
plain_attributes = evaluations[ch2.PLAIN].attributes
collapse_lines.append(
    f"\nAt the end, plain DCGAN's attribute histograms are {plain_attributes.kl:.3f} nats from the real ones in "
    f"all, yet its high-quality sprites cover {plain_attributes.coverage:.0%} of the combinations, and "
    f"{plain_attributes.high_quality:.0%} of its sprites are high quality."
)
display(Markdown("\n".join(collapse_lines)))

# %% [markdown]
# Plain DCGAN keeps hopping: in the second half of its run some value still stays well above its
# real share, and which one changes from check to check (the behaviour the loss curves below hint
# at). The label-free remedy swings less. The conditional remedy settles near the real shares,
# because every combination is asked for at every step. The textbook picture, one hair colour on
# every sprite, would show above as a hair colour near 100 %.
#
# The bands even out later, so plain DCGAN's final histograms look almost fair (the detector plot
# above), yet the combinations its sprites cover, and the share of them that are readable, stay
# low. Even histograms are not variety: a generator can draw every hair colour, every shirt and
# every hat, just not in all their combinations. That is why this chapter counts combinations, and
# why it watches a GAN during training and not only at the end.

# %% [markdown]
# Training curves of the full runs. A GAN's losses are not a progress bar — but a discriminator
# loss that falls towards zero means the discriminator wins every round, and a generator that is
# always caught tends to jump from one "safe" output to another instead of spreading out. The
# conditional recipe plays the *hinge* game, so its panel shows the discriminator's mean score on
# real and on generated sprites instead: it only tries to push them past +1 and -1, and then stops.

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, (name, hist) in zip(axes, histories.items()):
    if "d_real" in hist:
        ax.plot(hist["step"], hist["d_loss"], label="D loss", lw=0.8)
        ax.plot(hist["step"], hist["g_loss"], label="G loss", lw=0.8)
        ax.set(yscale="log")
    else:
        ax.plot(hist["step"], hist["score_real"], label="D score, real", lw=0.8)
        ax.plot(hist["step"], hist["score_fake"], label="D score, generated", lw=0.8)
        ax.axhline(0, c="0.6", lw=0.6)
    ax.set(title=name, xlabel="step")
    ax.legend()
plt.show()

# %% [markdown]
# ## What the remedies change, and why
#
# **Without labels: dcgan-pac2-ema.** Two additions, each aimed at one way plain DCGAN fails:
#
# * **PacGAN2** (Lin et al. 2018): the discriminator judges sprites *in pairs* (its first layer
#   sees 6 channels instead of 3). Two real sprites are almost never alike; two samples of a
#   collapsing generator often are. So a pair gives the discriminator evidence of missing
#   variety that a single image cannot, and the generator's gradient pushes its samples apart.
# * **An exponential moving average of the generator's weights** (decay 0.995, about the last 200
#   steps), used for sampling. Plain DCGAN's generator never settles: when the discriminator
#   catches its current favourite outputs it hops to others (the loss curves above). The average
#   of those hops keeps more of the combinations the generator visited.
#
# It helps — more combinations, a lower Fréchet distance — but most of its sprites stay smeared
# where the attributes live (hair and hat). A smooth map from a continuous latent space onto 480
# *separate* kinds of character has to pass between them somewhere, and what lies between a
# blonde ponytail and a black hat is a blend of both. Longer runs, a wider generator, instance
# noise, spectral norm, an R1 penalty and DiffAugment-style translations did not change that (the
# [experiment log](../docs/experiments/02_dcgan.md) has the numbers).
#
# **With labels: dcgan-cond.** The sprites come with their attributes, so we can use them:
#
# * the **generator is told which character to draw**: five of its latent coordinates are *codes*,
#   one per attribute; code $u$ picks value $\lfloor \Phi(u)\cdot n \rfloor$ of an attribute with
#   $n$ values ($\Phi$ is the normal CDF), so Gaussian latents request every combination equally
#   often. The choice between kinds of character is now a discrete input, not something the
#   generator has to carve out of a continuous space — no more blends between kinds;
# * a **projection discriminator** (Miyato & Koyama 2018) checks it: its score is "looks real"
#   plus the inner product of the image's features with a learned vector for each requested
#   attribute value. A sprite that does not show what was asked for is rejected, so the
#   generator cannot drop a combination: every one of them is asked for, all the time;
# * **classifier heads** on the same discriminator (AC-GAN, Odena et al. 2017) must name every
#   attribute of each *real* sprite, and the generator is also scored on whether they name the
#   attributes it was asked for. Without them the projection term was not enough: most seeds
#   stayed below the coverage target, with many sprites that did not clearly show what was asked
#   for, and with a faster discriminator some codes were ignored outright (the seeds tables are in
#   the [experiment log](../docs/experiments/02_dcgan.md)). A classifier's verdict always points at
#   the requested attributes;
# * the game is kept from running away: **spectral normalisation** of the discriminator's layers
#   (Miyato et al. 2018) bounds how sharply its score can react, batch norm is gone from it, and the
#   **hinge loss** stops pushing once a sample is clearly judged (scores beyond ±1). The EMA
#   generator is kept.
#
# The price is honest to state: it needs labelled sprites, so it is not an option for a folder of
# characters nobody has annotated — there, dcgan-pac2-ema is what this chapter has to offer.
#
# Measured side by side (same generator body, data and seed; 4,000 steps for the first two, 30,000
# for dcgan-cond):

# %%
for key, label in (
    ("combo_coverage", "combination coverage"),
    ("high_quality", "high-quality share"),
    ("attribute_kl", "attribute KL (nats)"),
    ("fd", "Fréchet distance"),
):
    row = "   ".join(f"{name} {evaluations[name].metrics()[key]:7.3f}" for name in RECIPES)
    print(f"{label:22s} {row}")

# %% [markdown]
# A Fréchet distance has two parts: how far apart the two clouds of features are (the squared
# distance of their means) and how differently they are spread (the covariance term). Splitting
# it says what kind of mistake a generator makes: drawing the wrong *kind* of sprite moves the
# mean; drawing the right kind with noise in it widens the spread.

# %%
for name, ev in {"real sprites": real_eval, **evaluations}.items():
    f = ev.frechet
    print(
        f"{name:16s} FD {f.fd:6.3f} = means apart {f.fd_mean_part:6.3f} + spreads differ {f.fd - f.fd_mean_part:6.3f}"
    )

# %% [markdown]
# *Where* is the spread wrong? Turn the features onto the real sprites' principal directions
# (direction 0 is the one along which real sprites vary most) and compare, direction by direction,
# how widely real and generated sprites vary. Each direction adds (gap of the means)² +
# (√generated variance − √real variance)² to the Fréchet distance; what these sums leave out is
# the generated cloud being turned relative to the real one. Then look at the sprites furthest
# out along the worst directions: the pictures say what the numbers mean.

# %%
diagnosis = ch2.diagnose_spread(generators[ch2.REMEDY], n=config.eval_samples)
dirs, k = diagnosis.directions, 16
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
left.semilogy(range(k), dirs.real_variance[:k].numpy(), "o-", label="real")
left.semilogy(range(k), dirs.generated_variance[:k].numpy(), "s-", label="generated")
left.set(xlabel="principal direction of the real features", ylabel="variance", title="how widely sprites vary")
left.legend()
right.bar(range(k), dirs.contribution[:k].numpy())
right.set(xlabel="principal direction", ylabel="adds to FD", title="where the Fréchet distance comes from")
plt.show()
fd = evaluations[ch2.REMEDY].frechet.fd
print(
    f"FD {fd:.3f}: the directions add {dirs.contribution.sum():.3f}, the turned cloud the other {fd - dirs.contribution.sum():.3f}"
)
worst = dirs.worst(2)
for i in worst:
    print(
        f"direction {i}: generated variance {dirs.generated_variance[i]:.2f} vs real {dirs.real_variance[i]:.2f} "
        f"({dirs.generated_variance[i] / dirs.real_variance[i]:.1f} x), adds {dirs.contribution[i]:.3f}"
    )
ends = [img for i in worst for img in diagnosis.extremes(i, k=8)]
fig = show_grid(
    image_grid(torch.cat(ends), nrow=8, scale=2),
    f"furthest out along directions {worst[0]} and {worst[1]}: real, generated, real, generated",
)
plt.show()

# %%
width_ratio = dirs.generated_variance / dirs.real_variance  # [directions]: > 1 where generated sprites vary more
widest = int(width_ratio.argmax())
display(
    Markdown(
        f"After {steps_done[ch2.REMEDY]:,} steps the two directions that add most are {worst[0]} and {worst[1]} "
        "(direction 0 is the one along which real sprites vary most); along them the generated sprites vary "
        f"{width_ratio[worst[0]]:.2f} and {width_ratio[worst[1]]:.2f} times as widely as real ones. The widest "
        f"direction of all, {widest}, is {width_ratio[widest]:.1f} × as wide as the real one. Together the directions "
        f"add {dirs.contribution.sum() / fd:.0%} of the FD; the rest is the generated cloud being turned against the "
        "real one."
    )
)

# %% [markdown]
# Look at the sprites at the ends of those directions: when they look like the real ones, the
# generator draws the right kinds of sprite and what is left of its Fréchet distance is a small
# shift. Earlier in the same run it was different: some minor directions were much wider than the
# real ones, and the sprites furthest out along them were speckled — grainy backgrounds, hair in
# several colours at once (that analysis, with its numbers, is in the
# [experiment log](../docs/experiments/02_dcgan.md)). The longer run removed the speckle.

# %% [markdown]
# What the codes control: the same noise vector, one attribute run through its values per row
# (the other four held fixed).

# %%
sweep, sweep_rows = ch2.attribute_sweeps(generators[ch2.REMEDY])
fig = show_grid(
    image_grid(sweep, nrow=max(len(v) for v in SPRITE_ATTRIBUTES.values()), scale=2), "one attribute per row"
)
plt.show()
print("\n".join(f"row {i + 1}: {r}" for i, r in enumerate(sweep_rows)))

# %% [markdown]
# ## Walking through the latent space
#
# If the generator learned a smooth map from noise to characters (rather than memorising a list of
# sprites), the points on a path between two latent vectors should decode to plausible characters
# that change gradually. We walk along the great circle between pairs of latent vectors (*slerp*:
# Gaussian latents live near a sphere of radius √100 = 10, and the straight line between two of them
# cuts through the low-probability middle).

# %% [markdown]
# For the conditional generator the path also runs through the five codes, so the attributes
# switch at the point where a code crosses into another value's slice, while pose and the
# rest change gradually.

# %%
remedy_g = generators[ch2.REMEDY]
rows = []
for z0, z1 in ch2.interpolation_pairs(remedy_g, pairs=3):
    rows.append(ch2.sample_generator(remedy_g, 10, latents=interpolate_latents(z0, z1, steps=10)))
fig = show_grid(image_grid(torch.cat(rows), nrow=10, scale=2), "slerp between pairs of latent vectors")
plt.show()

# %% [markdown]
# ## Your own sprites
#
# Everything above trains on 20,000 procedural sprites. A real sprite set is small — a few hundred
# to a few thousand tiles — and a discriminator that sees the same few images again and again
# learns them by heart: it then rejects every generated sprite and the generator gets no useful
# signal. The known remedy is to show the discriminator only **augmented** images, real and fake
# alike: DiffAugment (Zhao et al. 2020) shifts colours, translates and cuts holes, with
# operations the generator's gradient can pass through. The recipe `dcgan-diffaug` adds it to a
# spectral-norm discriminator and an averaged generator.
#
# Set `SPRITES` in the parameters cell to a folder of PNGs, or to a sheet with `TILE` (and
# `SPACING` / `MARGIN`). Without it this section uses a built-in stand-in, 1,000 procedural
# sprites. A tenth is held out: if the discriminator calls held-out real sprites "real" less often
# than training ones, it is memorising. The same thing from a terminal, with checkpoints, a
# progress GIF and resume: `musicgan train sprites PATH --tile 32 --steps 3000 --out runs/mine`.

# %%
own_train, own_held, own_what = sprites_or_builtin(SPRITES, TILE or None, SPACING, MARGIN, seed=SEED)
print(own_what)
own_config = ch2.with_steps(config, batch_size=64, track_every=0, frames=2)
own_run = ch2.make_run("dcgan-diffaug", own_config, seed=SEED, device=device, images=own_train, total_steps=OWN_STEPS)
train_with_estimate(own_run.train, 0, OWN_STEPS, f"dcgan-diffaug on {len(own_train)} sprites")
fig = show_grid(
    image_grid(own_run.sample(36), nrow=12, scale=2), f"dcgan-diffaug on {len(own_train)} sprites, {OWN_STEPS} steps"
)
plt.show()
(_, p_train), (_, p_held) = (
    critic_on_real(own_run.trainer.critic, x.to(device)) for x in (own_train[: len(own_held)], own_held)
)
print(f"the discriminator's mean P(real): training sprites {p_train:.3f}, held-out sprites {p_held:.3f}")

# %% [markdown]
# The attribute classifier knows only the procedural characters, so your own sprites are scored in
# a feature space that knows no attributes: a small network this project trained, self-supervised,
# on procedural characters and real freeciv art (flags, shields, buildings, units;
# `metrics.sprite_features`, made by `scripts/make_sprite_features.py`). FD and KID stand next to
# their real-vs-real floor (two halves of your own set), and precision / recall (k = 3) say whether
# the samples look like sprites of the set and how much of the set they reach. The notebook's
# `OWN_STEPS` only show the loop moving: after so few steps the samples are still blobs, and the
# numbers below say so plainly. `musicgan train sprites` trains for thousands of steps.

# %%
own_real = torch.cat([own_train, own_held])[
    torch.randperm(len(own_train) + len(own_held), generator=torch.Generator().manual_seed(SEED))
]
own_n = min(len(own_real) // 2, 500)
print(generic_sprite_report(own_real, own_run.sample(own_n).cpu(), n=own_n))

# %% [markdown]
# ### When the discriminator memorises: a small real set, both recipes
#
# The built-in stand-in is too easy to show the problem: hundreds of varied procedural sprites are
# not learned by heart in a few hundred steps. A small real set is. These two runs trained on the
# units and buildings of the game Freeciv (Debian's `freeciv-data`, GPL-2+), with a tenth held
# out: the plain recipe and `dcgan-diffaug`, with the same command as above (`musicgan train
# sprites`; the files are made by `scripts/make_small_set_runs.py`). As they trained, the command
# kept asking each discriminator how real it finds the training sprites and the held-out ones. A
# discriminator that *learns* what a sprite looks like finds both equally real; one that
# *memorises* the sprites it trains on calls every other real sprite fake.

# %%
small_runs = {recipe: ch2.load_generator(ch2.small_set_path(recipe)) for recipe in ch2.SMALL_SET_RECIPES}
fig = memorising_figure({name: run.meta["memorising_log"] for name, run in small_runs.items()})
plt.show()
for name, run in small_runs.items():
    gaps = [e["d_prob_train"] - e["d_prob_held_out"] for e in run.meta["memorising_log"]]
    print(
        f"{name} ({run.meta['data']['n']} sprites, {run.meta['held_out']} held out; {run.meta['steps']:,} steps, "
        f"{run.meta['train_seconds'] / 60:.0f} min of training): P(real) on "
        f"training minus held-out sprites {np.mean(gaps):+.2f} on average over the run, at most {max(gaps):+.2f}"
    )
    record(f"small_set_{name.replace('-', '_')}_memorising_gap", float(np.mean(gaps)))

# %% [markdown]
# What each generator makes at the end, next to the real set, and the generic measures (N = half
# the set, against the other half for the floor). Compare the plain generator's variety (recall)
# with the augmented one's: a discriminator that has memorised gives its generator nothing to
# learn from but the few sprites it is sure about.

# %%
if freeciv_installed():
    small_real = units_and_buildings()
    small_real = small_real[torch.randperm(len(small_real), generator=torch.Generator().manual_seed(SEED))]
    grids = {"real units and buildings": small_real[:36]}
    for name, run in small_runs.items():
        grids[f"{name}, {run.meta['steps']:,} steps"] = sample_generator(run.generator, 36, seed=SEED)
        n = len(small_real) // 2
        report = generic_sprite_report(small_real, sample_generator(run.generator, n, seed=SEED + 1), n=n)
        print(f"{name}: {report}")
        record(f"small_set_{name.replace('-', '_')}_fd_over_floor", report.fd / report.fd_floor)
        record(f"small_set_{name.replace('-', '_')}_recall", report.recall)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.8))
    for ax, (title, images) in zip(axes, grids.items()):
        ax.imshow(image_grid(images, nrow=6, scale=2))
        ax.set_title(title)
        ax.axis("off")
    plt.show()
else:
    print("freeciv-data is not installed (`make deps` installs it): the real set and its numbers are skipped")

# %% [markdown]
# ## What we measured

# %%
plain, remedy = evaluations[ch2.PLAIN], evaluations[ch2.REMEDY]
for key, value in remedy.metrics().items():
    record(key, value)
record("collapsed_combo_coverage", plain.attributes.coverage)
record("unsupervised_combo_coverage", evaluations[ch2.UNSUPERVISED_REMEDY].attributes.coverage)
record("unsupervised_fd", evaluations[ch2.UNSUPERVISED_REMEDY].frechet.fd)
record("fd_redrawn_median", float(np.median(spread.fd)))
record("fd_floor_redrawn_median", float(np.median(spread.floor)))
record("fd_over_floor_redrawn_max", float(spread.ratio.max()))
record("kid_redrawn_median", float(np.median(spread.kid)))
print(f"notebook run time: {time.perf_counter() - start_time:.0f} s")

# %%
# NBVAL_CHECK_OUTPUT
checks = remedy.checks()
check_targets(
    {
        f"combination coverage >= {ch2.TARGETS['combo_coverage']}": checks["combo_coverage"],
        f"high quality >= {ch2.TARGETS['high_quality']}": checks["high_quality"],
        f"FD <= {ch2.TARGETS['fd_over_floor']:.0f} x floor": checks["fd_over_floor"],
        "the remedy covers more combinations than plain DCGAN": remedy.attributes.coverage > plain.attributes.coverage,
    }
)

# %% [markdown]
# ## What to take away
#
# * Mode collapse on images can be *measured*, not just eyeballed: a classifier that reads the
#   attributes, coverage of the 480 combinations, the per-attribute histograms, and a Fréchet
#   distance always printed next to its real-vs-real floor.
# * Collapse comes and goes during training: all three recipes start with most sprites alike in
#   some attribute. Plain DCGAN then keeps hopping from one favourite to another, and ends with
#   histograms that look almost fair while it still covers a fraction of the combinations; the
#   conditional remedy settles at the real shares. The label-free remedy (pairs for the
#   discriminator, an averaged generator) covers more and lowers the Fréchet distance, but its
#   sprites stay smeared where the attributes are, so coverage stays far from the target.
# * Telling the generator what to draw, and having a projection discriminator with classifier
#   heads check it, covers the combinations about as well as 2,000 real sprites do (compare the
#   two rows of the table), with nearly all of its sprites readable and the attribute histograms
#   flat — the PASS lines above.
# * Coverage asks "which characters?", the Fréchet distance "how close to real pixels?". The first
#   is answered early; the second takes most of the training. The chapter's
#   [experiment log](../docs/experiments/02_dcgan.md) has the runs behind the recipe: other seeds,
#   the Fréchet distance along longer training (one run's FD jumps between checkpoints by more than
#   the draw-to-draw spread above), and what was tried and not adopted. Measure a GAN at several
#   points, and over several seeds, before deciding.
# * On a small real set the discriminator's enemy is memory: without augmentation it calls its
#   training sprites real and unseen real ones fake, and its generator loses its variety.
#   Watch the held-out line whenever you train on your own sprites; DiffAugment keeps the two
#   lines together.
# * The conditional remedy needs labels. Chapters 3 and 4 keep the labels and change the rest
#   of the game: a critic that measures a distance instead of a classifier that can win
#   outright (chapter 3), and networks that grow (chapter 4).

# %% [markdown]
# ## Exercises
#
# Each cell below holds an answer set to `None`. Write yours, run the cell, and the check says
# right, or not yet and why. (Batch runs skip these cells.)
#
# 1. **Growing the picture.** Write `transposed_conv_size(size, kernel, stride, padding)`: the side
#    of what `nn.ConvTranspose2d` with that kernel, stride and padding makes of a `size`×`size`
#    input. The shapes printed under "The networks" are four cases to test it on.
# 2. **Where the weights are.** How many weights has the generator's first layer, the one that turns
#    the noise vector into a 4×4 map? Count them from `up_block` and the sizes printed at the top,
#    then compare with the generator's total printed under "The networks".
# 3. **Which recipe collapsed?** From the coverage cell of "Mode collapse, measured": whose
#    high-quality sprites cover the smallest share of what as many uniformly spread ones would,
#    "dcgan", "dcgan-pac2-ema" or "dcgan-cond"?


# %%
def transposed_conv_size(size, kernel, stride, padding):
    return None  # your code: the output's side, a whole number


run_check(check_transposed_conv_size, transposed_conv_size)

# %%
first_layer_weights = None  # your answer: a whole number
run_check(check_first_layer_weights, first_layer_weights, g_demo)

# %%
most_collapsed = None  # your answer: "dcgan", "dcgan-pac2-ema" or "dcgan-cond"
run_check(check_most_collapsed, most_collapsed, evaluations)
