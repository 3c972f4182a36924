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
# called **mode collapse**, and it is the villain of the next few chapters.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": a 2-core laptop in about two minutes; "full": longer, wider, more seeds
SEED = 0
DEVICE = "cpu"  # tiny MLPs: the CPU beats a GPU here ("auto" would pick cuda/mps if present)

# %%
import matplotlib.pyplot as plt

from musicgan_lib.data.toy2d import grid, ring
from musicgan_lib.device import pick_device, seed_everything
from musicgan_lib.metrics.modes import mode_report
from musicgan_lib.record import check_targets, record
from musicgan_lib.recipes import gan_basics as ch1
from musicgan_lib import toyplots
from musicgan_lib.viz import small_figures

small_figures()
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
fig, axes = plt.subplots(1, 2, figsize=(6, 3))
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
# sits 2 away from the centre. Real data passes it (≈ 98.9 % of real points are within $3\sigma$ in 2-D):

# %%
# NBVAL_CHECK_OUTPUT
import torch

print("real ring data:", mode_report(RING.sample(2500, torch.Generator().manual_seed(0)), RING))
print("real grid data:", mode_report(GRID.sample(2500, torch.Generator().manual_seed(0)), GRID))
print("a collapsed 'generator' that always outputs one mode:", mode_report(RING.modes[:1].repeat(2500, 1), RING))

# %% [markdown]
# ## Three ways to play the game
#
# * **minimax** — the loss exactly as written above: $G$ minimises $\log(1 - D(G(z)))$. Early in
#   training $D$ easily rejects the generator's points, $D(G(z)) \approx 0$, and this loss is flat
#   there: the generator gets almost no gradient (it *saturates*).
# * **non-saturating** — Goodfellow's own fix: $G$ maximises $\log D(G(z))$ instead. Same fixed
#   point, but strong gradients exactly when $G$ is losing.
# * **minibatch standard deviation** — a remedy aimed at mode collapse (Salimans et al. 2016's
#   minibatch discrimination, in the simple form Karras et al. 2018 use): before its last layer
#   the discriminator also sees *how spread out the whole batch is* (the average standard
#   deviation of its features). A generator that puts all its points in one place produces
#   batches with a tell-tale low spread, so $D$ can punish the lack of diversity directly —
#   while still judging every point on its own, so precision does not suffer.
#
# All three use the same small MLPs (3 hidden layers of 128, batch norm in the generator), Adam
# with $\beta_1 = 0.5$, and a learning rate that decays linearly to a tenth — the last part of
# training then settles the points onto the modes instead of making them orbit. We train every
# method on both data sets with several seeds, because one seed is an anecdote. The runs are
# independent, so they are spread over the CPU cores in separate processes.
#
# *A remedy left out of the quick profile:* PacGAN (Lin et al. 2018), where the discriminator
# judges packs of 4 samples. In our short development runs it spread its points between the
# modes (packing makes each sample's own quality a quarter of the discriminator's signal, so it
# needs long training); it is compared in the `full` profile, which trains much longer.

# %%
runs = ch1.compare_methods([RING, GRID], list(config.methods), config, device)
summaries = ch1.summarise(runs)

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

# %% [markdown]
# ## Watching one run learn
#
# The generator's samples (red) over training for the best method on the ring, seed 0, then
# the discriminator's decision surface at the end: blue where it believes "generated", red
# where it believes "real". At the equilibrium the generator's points sit on the modes and the
# discriminator has almost nothing left to say — its surface goes pale (≈ 0.5) where the points are.

# %%
best_ring = ch1.best_method(summaries, "ring")
best_grid = ch1.best_method(summaries, "grid")
demo = next(r for r in runs if r.mixture == "ring" and r.method == best_ring.method and r.seed == config.seeds[0])
fig = toyplots.scatter_over_training(RING, demo.snapshots)
plt.show()

# %%
fig = toyplots.decision_surface(demo.critic, RING, demo.snapshots[-1][1])
plt.show()
fig = toyplots.loss_curves(demo.history, title=f"{demo.method} on the ring, seed {demo.seed}")
plt.show()

# %% [markdown]
# The losses do not go to zero and do not need to: at the equilibrium the discriminator outputs
# about 1/2 everywhere, so its loss hovers near $2\log 2 \approx 1.39$. A GAN's loss curve is a
# poor progress meter — that is exactly why we count modes instead.
#
# ## The grid, method by method
#
# The grid is harder: 25 modes, and a generator whose 2-D noise must be folded onto a lattice.
# Here is seed 0 of each method:

# %%
fig = toyplots.samples_by_method(runs, "grid", seed=config.seeds[0])
plt.show()

# %% [markdown]
# ## What we measured
#
# The numbers below are recorded for the course summary: the best method on each data set
# (mean over seeds) and the original minimax loss on the ring.

# %%
vanilla_ring = next(s for s in summaries if s.mixture == "ring" and s.method == "minimax")
record("ring_modes", best_ring.modes_mean)
record("ring_high_quality", best_ring.high_quality_mean)
record("grid_modes", best_grid.modes_mean)
record("grid_high_quality", best_grid.high_quality_mean)
record("vanilla_ring_modes", vanilla_ring.modes_mean)
print(f"best on the ring: {best_ring.method}; best on the grid: {best_grid.method}")

# %%
# NBVAL_CHECK_OUTPUT
targets = {
    "ring: all 8 modes": best_ring.modes_mean == 8,
    "grid: at least 22 of 25 modes": best_grid.modes_mean >= 22,
    "at least 50% high-quality samples (ring and grid)": min(best_ring.high_quality_mean, best_grid.high_quality_mean)
    >= 0.5,
}
check_targets(targets)

# %% [markdown]
# ## What to take away
#
# * A GAN is a game, and its loss is not a progress bar; measure the samples.
# * The minimax loss as first written saturates; the non-saturating loss keeps the generator
#   learning when it is losing.
# * Mode collapse is measurable: count the modes a generator covers and how precisely it hits
#   them. Read the table above with its seed ranges — a method that covers every mode on
#   average can still drop some on an unlucky seed, and a method that covers every mode may
#   do it with fewer points on target.
# * On 2-D toys a stabilised recipe (batch norm in the generator, Adam with $\beta_1 = 0.5$,
#   a decaying learning rate) already keeps every loss from collapsing outright; the
#   differences show up in precision and seed-to-seed spread. The next chapter asks the same
#   question on images, where the "modes" are combinations of attributes.
#
# Next chapter: the same game with convolutional networks on pixel-art characters, where the
# "modes" are hair colours, skin tones and hats — and where collapse is easy to see.
