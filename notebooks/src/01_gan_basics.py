# %% [markdown]
# # Chapter 1 — GAN basics: a game on 2-D points
#
# A **generative adversarial network** is two networks playing a game.
#
# * The **generator** $G$ turns random noise $z$ into samples $G(z)$ — here, points in the plane.
# * The **discriminator** $D$ looks at a point and says how likely it is to be *real*
#   (drawn from the data) rather than *generated*.
#
# Goodfellow et al. (2014) wrote the game as one value both players fight over:
#
# $$\min_G \max_D \; V(D, G) = \mathbb{E}_{x\sim p_\text{data}}[\log D(x)] + \mathbb{E}_{z}[\log(1 - D(G(z)))]$$
#
# $D$ pushes $V$ up (say "real" to real points, "fake" to generated ones); $G$ pushes it down
# (fool $D$). If both were perfect, $G$'s samples would be distributed exactly like the data.
#
# We start on 2-D data because we can *see* everything — and, more importantly, **count**:
# our data are mixtures of Gaussians whose centres (modes) we know, so "did the generator learn
# all of the data, or only part of it?" has a numeric answer. Learning only part of the data is
# called **mode collapse**, and it is the villain of the next few chapters. This chapter makes it
# happen, measures it, and fixes it.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": a 2-core laptop in about two minutes; "full": longer, wider, more seeds
SEED = 0
DEVICE = "cpu"  # tiny MLPs: the CPU beats a GPU here ("auto" would pick cuda/mps if present)

# %%
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display
from torch import nn

from musicgan_lib import toyplots
from musicgan_lib.data.toy2d import grid, ring
from musicgan_lib.device import pick_device, seed_everything
from musicgan_lib.exercises import run_check
from musicgan_lib.exercises.ch01 import check_covers_every_mode, check_critic_loss, check_saturation_ratio
from musicgan_lib.metrics.modes import mode_report
from musicgan_lib.record import check_targets, record
from musicgan_lib.recipes import gan_basics as ch1
from musicgan_lib.viz import readable_figures

t_chapter = time.perf_counter()
readable_figures()
device = pick_device(DEVICE)
seed_everything(SEED)
config = ch1.ToyConfig.for_profile(PROFILE)
RING, GRID = ring(), grid()

# %%
# NBVAL_CHECK_OUTPUT
print(
    f"profile {PROFILE}: {config.steps_for('ring')} steps per ring run, {config.steps_for('grid')} per grid run, "
    f"batch {config.batch_size}, seeds {list(config.seeds)}"
)
print(
    f"ring: {len(RING.modes)} modes, radius 2, std {RING.std}; grid: {len(GRID.modes)} modes, spacing 2, std {GRID.std}"
)

# %% [markdown]
# ## The data: a ring of 8 Gaussians and a grid of 25
#
# The ring's modes sit at angles $2\pi k/8$ for $k = 0..7$ — eight *distinct* angles. (A
# classic slip is `linspace(0, 2π, 8)`, which puts the last mode on top of the first and
# leaves only 7.) The modes are very narrow: $\sigma = 0.02$ on the ring, $0.05$ on the grid.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.6))
for ax, mix in zip(axes, (RING, GRID)):
    pts = mix.sample(2000)
    ax.scatter(pts[:, 0], pts[:, 1], s=2, c="0.4")
    ax.scatter(mix.modes[:, 0], mix.modes[:, 1], s=30, marker="x", c="gold")
    ax.set(title=f"{mix.name}: {len(mix.modes)} modes", aspect="equal", xticks=[], yticks=[])
plt.show()

# %% [markdown]
# ## Measuring mode collapse
#
# We use the rule from the VEEGAN and PacGAN papers, so our numbers can be compared to theirs:
#
# 1. draw 2,500 samples from the generator;
# 2. a sample is **high quality** if it lies within $3\sigma$ of its nearest mode;
# 3. a mode is **covered** if at least one high-quality sample is nearest to it.
#
# The rule is strict on purpose: within $3\sigma$ on the ring means within 0.06 of a mode that
# sits 2 away from the centre. Real data passes it, and a "generator" that always outputs one
# mode covers exactly one:

# %%
# NBVAL_CHECK_OUTPUT
print("real ring data:", mode_report(RING.sample(2500, torch.Generator().manual_seed(0)), RING))
print("real grid data:", mode_report(GRID.sample(2500, torch.Generator().manual_seed(0)), GRID))
print("a collapsed 'generator' that always outputs one mode:", mode_report(RING.modes[:1].repeat(2500, 1), RING))

# %% [markdown]
# ## The game, on the page
#
# Here is the whole algorithm. The two players are small MLPs — the ones of the unrolled-GAN
# paper (Metz et al. 2016), which we will use to make collapse happen: the generator maps
# 256 numbers of noise through two hidden layers of 128 to a point; the discriminator maps a
# point through one hidden layer to a single **logit** (a score; $D(x)$ = sigmoid(logit)).
#
# One round of the game is one step for each player, on a batch of real points and a batch of
# noise. Both losses are binary cross-entropies on logits, which is $-\log D(x)$ for "real" and
# $-\log(1 - D(x))$ for "fake": exactly the two terms of $V$ above.


# %%
def make_players(latent_dim=256, hidden=128):
    """G: noise [B, latent_dim] -> points [B, 2]. D: points [B, 2] -> logits [B, 1]."""
    G = nn.Sequential(
        nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2)
    )
    D = nn.Sequential(nn.Linear(2, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
    return G, D


bce = nn.BCEWithLogitsLoss()  # bce(logit, 1) = -log D(x);  bce(logit, 0) = -log(1 - D(x))


def update_D(G, D, opt_D, real, z):
    """D's step: maximise log D(real) + log(1 - D(G(z))), i.e. minimise the two cross-entropies."""
    fake = G(z).detach()  # D's step must not move G
    real_logit, fake_logit = D(real), D(fake)
    loss = bce(real_logit, torch.ones_like(real_logit)) + bce(fake_logit, torch.zeros_like(fake_logit))
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss.item()


def update_G(G, D, opt_G, z):
    """G's step of the minimax game: minimise log(1 - D(G(z))) (only G's optimiser steps)."""
    fake_logit = D(G(z))
    loss = -bce(fake_logit, torch.zeros_like(fake_logit))  # = mean of log(1 - D(G(z)))
    opt_G.zero_grad()
    loss.backward()
    opt_G.step()
    return loss.item()


# %% [markdown]
# Let the page's game run for a few hundred rounds on the ring (a second or two), and count:

# %%
torch.manual_seed(SEED)
G, D = make_players()
opt_G = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
opt_D = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
data = torch.Generator().manual_seed(SEED)
for step in range(600):
    real = RING.sample(256, data)
    update_D(G, D, opt_D, real, torch.randn(256, 256, generator=data))
    update_G(G, D, opt_G, torch.randn(256, 256, generator=data))
with torch.no_grad():
    page_samples = G(torch.randn(2500, 256, generator=data))
page_report = mode_report(page_samples, RING)
print(f"after 600 rounds: {page_report}; share of samples nearest each mode:")
print("  " + "  ".join(f"{share:.2f}" for share in page_report.nearest_share))

# %% [markdown]
# The library's `GANTrainer` plays exactly these two steps (a test, `tests/test_notebook_01_page.py`,
# checks that both give the same weights), and adds what real training needs: progress and ETA,
# checkpoints and exact resume, a stop on NaN, other losses, EMA. The experiments below use it.
#
# ## Mode collapse, reproduced
#
# We now train that vanilla game properly — 3 seeds, mode coverage measured 20 times during
# training — next to the remedies, on both mixtures. The runs are independent, so they are spread
# over the CPU cores in separate processes:
#
# * **vanilla** — the networks above with the minimax loss, Adam at a constant learning rate.
# * **vanilla+bn** — one change: batch normalisation in the generator's hidden layers. Batch norm
#   makes every generated point depend on the whole batch's statistics, so the generator cannot
#   easily send the whole batch to one spot.
# * the chapter's **stabilised recipe** — batch norm, 2-d noise, three hidden layers in both
#   networks, and a learning rate that decays linearly to a tenth (the end of training settles
#   points onto modes instead of letting them orbit), played three ways:
#   * **minimax** — the loss as written above. Early in training $D$ easily rejects the
#     generator's points, $D(G(z)) \approx 0$, and this loss is flat there: the generator gets
#     almost no gradient (it *saturates*).
#   * **non-saturating** — Goodfellow's own fix: $G$ maximises $\log D(G(z))$ instead. Same fixed
#     point, but strong gradients exactly when $G$ is losing.
#   * **minibatch-std** — non-saturating, and before its last layer the discriminator also sees
#     *how spread out the whole batch is* (the batch's average feature standard deviation, in the
#     form of Karras et al. 2018). A generator that puts all its points in one place makes batches
#     with a tell-tale low spread, and $D$ can punish that directly.
#
# The collapse is a ring story, so the grid is trained with the two best-placed remedies only.
# *Left out of the quick profile:* PacGAN (Lin et al. 2018), a discriminator that judges packs of
# 4 samples; it needs long training and is compared in the `full` profile.

# %%
runs = ch1.compare_methods([RING, GRID], None, config, device)
summaries = ch1.summarise(runs)
ring_methods = list(config.methods_for("ring"))

# %% [markdown]
# ### Where the vanilla generator's samples sit, step by step
#
# Each panel is one seed. A column is one moment of training, a row one of the 8 modes, and the
# colour is the share of all 2,500 samples whose nearest mode is that row — good samples or not.
# A generator that covered the data would colour every row evenly (1/8 each).

# %%
fig = toyplots.mode_occupancy(runs, RING, "vanilla")
plt.show()
vanilla_runs = [r for r in runs if r.mixture == "ring" and r.method == "vanilla"]
fig = toyplots.scatter_over_training(RING, vanilla_runs[0].snapshots)
plt.show()

# %%
second_half = [rep for r in vanilla_runs for _, rep in r.track[len(r.track) // 2 :]]
top_share = sum(max(rep.nearest_share) for rep in second_half) / len(second_half)
hops = sum(
    len({max(range(8), key=lambda k: rep.nearest_share[k]) for _, rep in r.track[len(r.track) // 2 :]})
    for r in vanilla_runs
) / len(vanilla_runs)
vanilla_ring = next(s for s in summaries if s.mixture == "ring" and s.method == "vanilla")
display(
    Markdown(
        f"**What the vanilla game did:** over the second half of training, on average "
        f"**{100 * top_share:.0f} %** of its samples sat on a single mode (an even spread is 12.5 %), "
        f"and that favourite mode changed: **{hops:.1f}** different modes per seed held the top spot. "
        f"At the end it covered **{vanilla_ring.modes_mean:.2f}** of 8 modes (seeds "
        f"{vanilla_ring.modes_min}–{vanilla_ring.modes_max}). This is the classic collapse: $D$ learns to "
        f"reject the spot where the generator's points are, the generator moves them all to another spot, "
        f"and the chase goes round the ring instead of spreading out."
    )
)

# %% [markdown]
# ### The remedies, measured the same way
#
# Modes covered over training, mean over seeds (line) with the worst and best seed (band):

# %%
fig = toyplots.modes_over_training(runs, RING, ring_methods)
plt.show()
fig = toyplots.mode_occupancy(runs, RING, "vanilla+bn")
plt.show()

# %% [markdown]
# ## The scoreboard
#
# Mean over seeds of the modes covered (with the worst and best seed in brackets) and the share
# of high-quality samples. Published anchors for this protocol: PacGAN4 covers 7.8 ring and
# 24.8 grid modes, VEEGAN 8 and 24.6.
#
# Covering modes and hitting them precisely pull against each other: a generator can reach every
# mode by smearing its points between them, or be precise on a few. So **score** is the
# harmonic mean of the two — coverage (modes found / modes, a *recall*) and the high-quality
# share (a *precision*) — and "best method" below means the best score.

# %%
print(ch1.results_table(summaries))
best_ring = ch1.best_method(summaries, "ring")
best_grid = ch1.best_method(summaries, "grid")
bn_ring = next(s for s in summaries if s.mixture == "ring" and s.method == "vanilla+bn")
display(
    Markdown(
        f"Batch norm alone takes the vanilla game from {vanilla_ring.modes_mean:.2f} to "
        f"**{bn_ring.modes_mean:.2f}** modes, but only {100 * bn_ring.high_quality_mean:.1f} % of its "
        f"samples land within $3\\sigma$: it spreads out without settling. The best method on the ring is "
        f"**{best_ring.method}** ({best_ring.modes_mean:.2f} modes, {100 * best_ring.high_quality_mean:.1f} % "
        f"high quality), on the grid **{best_grid.method}** ({best_grid.modes_mean:.2f} of 25, "
        f"{100 * best_grid.high_quality_mean:.1f} %)."
    )
)

# %% [markdown]
# ## Watching the best run learn
#
# The generator's samples (red) over training for the best method on the ring, seed 0, then the
# discriminator's decision surface at the end (blue where it believes "generated", red where it
# believes "real") and the two losses. At the equilibrium the generator's points sit on the modes
# and the discriminator has almost nothing left to say: its surface goes pale (≈ 0.5) there.

# %%
demo = next(r for r in runs if r.mixture == "ring" and r.method == best_ring.method and r.seed == config.seeds[0])
fig = toyplots.scatter_over_training(RING, demo.snapshots)
plt.show()
fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.8), width_ratios=(1, 1.4))
toyplots.decision_surface(demo.critic, RING, demo.snapshots[-1][1], ax=left)
toyplots.loss_curves(demo.history, title=f"{demo.method} on the ring, seed {demo.seed}", ax=right)
plt.show()

# %%
d_loss_end = sum(demo.history["d_loss"][-100:]) / len(demo.history["d_loss"][-100:])
display(
    Markdown(
        f"The losses do not go to zero and do not need to. Over its last 100 steps this discriminator's loss "
        f"averages **{d_loss_end:.2f}**; at a perfect equilibrium $D$ would say 1/2 everywhere and its loss "
        f"would sit at $2\\log 2 \\approx 1.39$. Either way a GAN's loss curve is a poor progress meter — "
        f"that is exactly why we count modes instead."
    )
)

# %% [markdown]
# ## The grid, method by method
#
# The grid is harder: 25 modes, and a generator whose 2-D noise must be folded onto a lattice.
# Here is seed 0 of each method, then coverage over training:

# %%
fig = toyplots.samples_by_method(runs, "grid", seed=config.seeds[0])
plt.show()
fig = toyplots.modes_over_training(runs, GRID, list(config.methods_for("grid")))
plt.show()

# %% [markdown]
# ## What we measured
#
# Recorded for the course summary: the best method on each data set (mean over seeds), and the
# vanilla game on the ring — the collapse, next to the remedy's coverage.

# %%
record("ring_modes", best_ring.modes_mean)
record("ring_high_quality", best_ring.high_quality_mean)
record("grid_modes", best_grid.modes_mean)
record("grid_high_quality", best_grid.high_quality_mean)
record("vanilla_ring_modes", vanilla_ring.modes_mean)
record("vanilla_ring_top_mode_share", top_share)
record("vanilla_bn_ring_modes", bn_ring.modes_mean)
print(f"best on the ring: {best_ring.method}; best on the grid: {best_grid.method}")

# %%
# NBVAL_CHECK_OUTPUT
targets = {
    "vanilla game collapses: at most 4 of 8 ring modes": vanilla_ring.modes_mean <= 4,
    "best remedy on the ring: all 8 modes": best_ring.modes_mean == 8,
    "grid: at least 22 of 25 modes": best_grid.modes_mean >= 22,
    "at least 50% high-quality samples (ring and grid)": min(best_ring.high_quality_mean, best_grid.high_quality_mean)
    >= 0.5,
}
check_targets(targets)

# %% [markdown]
# ## What to take away
#
# * A GAN is a game of two steps, one per player; its loss is not a progress bar, so measure the
#   samples.
# * Mode collapse is measurable: count the modes a generator covers, how precisely it hits them,
#   and where its samples sit over time. The vanilla game above piles its samples on one mode at a
#   time and hops.
# * Remedies work on different things: batch norm stops the pile-up but not the blur; the
#   decaying learning rate and the stabilised networks bring precision; the non-saturating loss
#   keeps the generator learning when it is losing; minibatch standard deviation lets the
#   discriminator see a lack of diversity. Read the table with its seed ranges — one seed is an
#   anecdote.
#
# Next chapter: the same game with convolutional networks on pixel-art characters, where the
# "modes" are hair colours, skin tones and hats.
#
# ## Exercises
#
# Each cell below holds an answer set to `None`. Write yours, run the cell, and the check says
# right, or not yet and why. (Batch runs skip these cells.)
#
# 1. **The discriminator's loss.** Write `critic_loss(real_logits, fake_logits)` from raw logits
#    ([B] each), the quantity `update_D` minimises, without calling `nn.BCEWithLogitsLoss`.
# 2. **Saturation.** A fake point gets $D(G(z)) = 0.01$. With respect to its logit, how many
#    times larger is the non-saturating generator loss's gradient than the minimax one's?
# 3. **Cover the ring.** Starting from `ch1.METHODS["vanilla"]`, build a method (e.g. with
#    `dataclasses.replace` and `ch1.Networks`) that covers all 8 modes with at least half of its
#    samples high quality, and train it with `ch1.train_toy_gan(RING, method, SEED, config)`.


# %%
def critic_loss(real_logits, fake_logits):
    return None  # your code: [B], [B] -> a scalar tensor


run_check(check_critic_loss, critic_loss)

# %%
gradient_ratio = None  # your answer: a number
run_check(check_saturation_ratio, gradient_ratio)

# %%
my_run = None  # your answer: ch1.train_toy_gan(RING, your_method, SEED, config)
run_check(check_covers_every_mode, my_run)

# %%
print(f"chapter run time {time.perf_counter() - t_chapter:.0f} s")
