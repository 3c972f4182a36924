# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 7 — A GAN that generates encodings, decoded into notes and songs
#
# The goal this book started from: *"my GAN would learn to generate encodings, which I could
# then decode into complete songs."* Chapter 6 built the encoding: its autoencoder turns a
# one-second note into a pitch curve $f_0(t)$ and a **per-note latent** $z$ of 16 numbers, and its
# decoder (a synthesizer driven by a small network) turns any $(z, f_0)$ back into sound.
#
# This chapter keeps that autoencoder **frozen** and trains a GAN on the latents:
#
# ```
#  noise ─┐
#  pitch ─┼─► generator ─► z ─┐
# family ─┘                  ├─► frozen decoder ─► a new note ─► placed in time ─► a song
#            f0 = midi_to_hz(pitch) (constant) ─┘
# ```
#
# **Why the per-note latent** (and not the 250-frame control sequence): $z$ already carries the
# timbre, envelope and loudness of a note, and the pitch is exactly what we ask for, so the GAN only
# has to model 16 numbers per note *given* (pitch, family). That is a small problem — small
# enough for chapter 3's WGAN-GP to learn on a laptop CPU in a few minutes. What a constant $f_0$
# loses (vibrato, a player's detune) is measured below: the *reconstruction floor* decodes the real
# latents with a constant $f_0$ too.

# %% tags=["parameters"]
PROFILE = "quick"  # "quick": shipped latent GAN + a short live training (CPU, ~3 min); "full": retrains (GPU)
SEED = 0
DEVICE = "auto"
RETRAIN = False  # True: train the latent GAN here instead of loading assets/latent_gan.safetensors
DATA = "auto"  # "auto": real SoundFont notes if fluidsynth + a font are installed, else synthetic (with a warning)
SOUNDFONT = ""  # the font of the real notes ("": TimGM6mb, which the shipped models learned from; or any .sf2/.sf3)
MIDI_FILE = ""  # path of a .mid file of your own to render with a generated instrument; empty: a built-in demo

# %%
import time

import matplotlib.pyplot as plt
import mido
import torch

from musicgan_lib import songs
from musicgan_lib.audio import play, plot_spectrogram
from musicgan_lib.data.note_sets import choose_note_data
from musicgan_lib.data.notes import FAMILIES
from musicgan_lib.exercises import run_check
from musicgan_lib.exercises.ch07 import check_gan_beats_gaussian, check_nn_ratio
from musicgan_lib.device import pick_device, seed_everything
from musicgan_lib.metrics.audio_classifier import load_note_classifier
from musicgan_lib.metrics.latent_eval import Evaluator, gaussian_fd
from musicgan_lib.models.ddsp_autoencoder import load_autoencoder
from musicgan_lib.models.latent_gan import generate_notes, generate_song, timbre_morph, timbre_noise
from musicgan_lib.models.note_latents import decode_latents, load_chapter_data
from musicgan_lib.noteplots import plot_latent_map, plot_ndb_bins, plot_nn_check, plot_training
from musicgan_lib.recipes import latent_gan as ch7
from musicgan_lib.record import check_targets, output_dir, record
from musicgan_lib.viz import readable_figures, spectrogram_grid

readable_figures()
t_chapter = time.perf_counter()
device = pick_device(DEVICE)
seed_everything(SEED)
config = ch7.LatentGANConfig.for_profile(PROFILE)
notes_data = choose_note_data(DATA, SOUNDFONT or None)  # no SoundFont installed: a loud warning, synthetic notes
OUT = output_dir("07")
autoencoder = load_autoencoder(device)
classifier = load_note_classifier(device)
SR = autoencoder.sample_rate

# %%
# NBVAL_CHECK_OUTPUT
print(config.describe())
print(
    f"frozen autoencoder: z of {autoencoder.latent_dim} numbers per note, notes of {autoencoder.n_samples / SR:.1f} s at {SR} Hz"
)

# %% [markdown]
# ## 1. The data: every note becomes 16 numbers
#
# We render three disjoint sets of real instrument notes from the SoundFont, exactly as chapter 6
# does (16 programs, two per family, each at the pitches it really plays within MIDI 48–84,
# velocities 40–127): a **training** set for the GAN, and two evaluation sets of $N$ notes each —
# a **reference** set (the "real" side of every Fréchet distance) and a **held-out** set whose
# pitches and families are the conditions every generator is asked for. Each note is encoded once;
# the shipped weights file carries these latents, so the chapter need not encode thousands of
# notes (it checks that they belong to *this* autoencoder's weights first).
#
# The GAN works on **standardised** latents (zero mean, unit variance per dimension). Below: the
# training latents on their first two principal axes, coloured by family. Families form their own
# regions, and within a family the cloud is not one round blob — that structure is what the GAN has
# to reproduce and what a single Gaussian per condition cannot.

# %%
print(notes_data.describe())
record("real_notes", int(notes_data.real))
data = load_chapter_data(autoencoder, config, cache_dir=OUT, asset=ch7.ASSET_PATH, notes=notes_data)
train_std = data.standardise(data.train.z)
fig = plot_latent_map({"training latents": train_std}, {"training latents": data.train.family}, train_std)
plt.show()

# %% [markdown]
# ## 2. The conditional WGAN-GP
#
# * **Generator**: noise (8-d) + a pitch embedding (plus "how high" as one number) + a family
#   embedding → an MLP (3 × 256, leaky ReLU) → **a choice and one number**: which of the family's
#   two instruments, and a place on that instrument's piece of a *sheet* → the sheet decoder (a
#   second MLP that also reads the pitch and family) → a standardised 16-d latent.
#   Why? Given its pitch and family, a real note varies in few ways (which of the family's two
#   instruments, how hard it is played), so its latent lies on a thin, curved surface (the
#   printout below says how much of the variance the first principal axes hold). A generator that
#   writes all 16 numbers freely lands *near* that surface but not on it, and the
#   nearest-neighbour check below catches that. So the sheet is learned first, as the decoder of a
#   small autoencoder of the training latents (latent → one number → latent, given the condition
#   and the instrument), and frozen: the GAN can only write points of it, and learns *where* on it
#   real notes lie. The choice is a hard one (the most likely of two, with the softmax's gradient):
#   one curve through both instruments would have to cross the gap between them, where no real
#   note lies.
# * **Critic**: the latent + the same kind of condition embeddings → an MLP, plus a *projection*
#   term $\langle \mathrm{embed}(c), \phi(z) \rangle$ (Miyato & Koyama 2018) that makes "plausible
#   *for this pitch and family*" easy to say. No normalisation layers: the gradient penalty needs
#   each sample's score to depend on that sample only.
# * **Training**: chapter 3's machinery unchanged — `GANTrainer` with `WassersteinLoss(gp_weight=10)`,
#   5 critic steps per generator step, Adam $3 \cdot 10^{-4}$ decaying linearly to a tenth of that,
#   $\beta = (0, 0.9)$, and an exponential moving
#   average of the generator's weights for sampling. The fakes in each critic step are generated for
#   the **same conditions as the real batch**, so the penalty's interpolates stay within one condition.

# %% [markdown]
# The critic's score on the page, with its shapes: one part says "a plausible latent", the
# projection part says "plausible *for this pitch and family*".


# %%
def critic_score(critic, x, pitch, family):
    """x [B, 16] standardised latents, pitch [B] (MIDI), family [B] -> scores [B, 1]."""
    c = critic.cond(pitch, family)  # [B, 33]: pitch embedding, family embedding, "how high"
    h = critic.body(torch.cat([x, c], dim=1))  # [B, 256]: features of (latent, condition)
    plausible = critic.head(h)  # [B, 1]
    for_this_condition = (critic.project(c) * h).sum(dim=1, keepdim=True) / h.shape[1] ** 0.5  # [B, 1]
    return plausible + for_this_condition


# %%
# NBVAL_CHECK_OUTPUT
generator, critic = ch7.build_models(data.latent_dim, config)
print(
    f"generator: {sum(p.numel() for p in generator.parameters()):,} parameters | "
    f"critic: {sum(p.numel() for p in critic.parameters()):,} parameters"
)
share = torch.linalg.svdvals(train_std - train_std.mean(0)) ** 2
share = (share / share.sum()).cumsum(0)
print(
    f"training latents: the first 2 / 4 / 6 principal axes hold {share[1]:.0%} / {share[3]:.0%} / {share[5]:.0%} "
    "of the variance"
)

# %% [markdown]
# ## 3. Training
#
# With `PROFILE = "quick"` the chapter loads the shipped generator (trained by
# `scripts/make_latent_gan_weights.py` on exactly these latents) and shows its training curves.
# A short **live** run then trains a fresh GAN on the shipped sheet (notes of another font get a
# sheet of their own first), so you can watch the loop move; the "full" profile (or
# `RETRAIN = True`) fits a sheet and trains the whole thing here.

# %%
result = ch7.load_or_train(autoencoder, data, config, retrain=RETRAIN, seed=SEED, device=device, save_dir=OUT)
print(result)

# %%
tracker_floor = gaussian_fd(data.standardise(data.held_out.z), data.standardise(data.reference.z))
runs = {"shipped run" if result.shipped else "this run": result.value}
if result.shipped:  # the live run: a fresh GAN for a few steps, so you see the loop move
    t0 = time.perf_counter()
    # the shipped sheet when it was fitted to these very notes (the live run trains the GAN only);
    # another font's notes get a sheet of their own first (about a minute)
    same_notes = result.value.trained_on == data.notes.key()
    runs["live run"] = ch7.train_latent_gan(
        data, config, steps=config.live_steps, seed=SEED, device=device, track_every=max(config.live_steps // 6, 25),
        sheet=result.value.generator.sheet if same_notes else None,
    )  # fmt: skip
    print(f"live run: {runs['live run'].steps} generator steps in {time.perf_counter() - t0:.0f} s")
for name, run in runs.items():
    fig = plot_training(
        run.history, (run.fd_steps, run.latent_fd), title=f"{name}: {run.steps} steps", floor=tracker_floor
    )
    plt.show()
live = runs.get("live run", result.value)
gan = result.value.generator.cpu().eval()  # a tiny MLP: sampling on the CPU is instant

# %% [markdown]
# The critic's Wasserstein estimate rises quickly (it learns to tell real from fake latents) and
# then falls as the generator catches up; the penalty stays small. The right-hand curve is the
# Fréchet distance **in latent space** between generated and held-out latents — cheap enough to
# take during training — with the value two real sets get (dashed).
#
# ## 4. Generated notes, one per family
#
# One generated instrument per family, all at C4 and G4 (MIDI 60, 67); the spectrograms show the
# families' signatures (the mallet's fast decay, the organ's steady tone, the flute's breath
# noise). Listen to them in a row:

# %% [markdown]
# How a generated note comes to be, on the page: the generator writes a piece of the sheet and a
# place on it for a condition, the sheet turns them into a standardised encoding, we undo the
# standardisation, and chapter 6's decoder plays it at the note's pitch.


# %%
def generate_note(gan, autoencoder, pitch, family, noise):
    """noise [B, 8], pitch [B] (MIDI), family [B] -> audio [B, samples]."""
    out = gan.head(gan.body(torch.cat([noise, gan.cond(pitch, family)], dim=1)))  # [B, 1 + 2]
    place, piece = out[:, :1], out[:, 1:].argmax(1)  # where on the sheet, and which instrument's piece
    x = gan.sheet(place, pitch, family, torch.eye(2)[piece])  # [B, 16] standardised: the sheet's point there
    z = x @ gan.z_unwhiten + gan.z_mean  # [B, 16]: the autoencoder's own latent
    frames = -(-autoencoder.n_samples // (autoencoder.sample_rate // autoencoder.frame_rate))
    f0 = (440.0 * 2 ** ((pitch.float() - 69) / 12)).unsqueeze(1).expand(-1, frames)  # [B, frames] Hz
    return autoencoder.decode(z, f0)  # [B, samples]


# %%
pitches = torch.tensor([60, 67] * len(FAMILIES))
families = torch.arange(len(FAMILIES)).repeat_interleave(2)
with torch.no_grad():
    noise = torch.randn(len(pitches), gan.noise_dim, generator=torch.Generator().manual_seed(SEED))
    notes = generate_note(gan, autoencoder.cpu(), pitches, families, noise)  # the page's version runs on the CPU
autoencoder.to(device)
library_notes = generate_notes(gan, autoencoder, pitches, families, seed=SEED)
print(f"the page's notes are the library's: {torch.allclose(notes, library_notes, atol=1e-4)}")
fig = spectrogram_grid(
    list(notes), SR, ncols=4, titles=[f"{FAMILIES[int(f)]} {int(p)}" for f, p in zip(families, pitches)]
)
plt.show()
showcase = songs.render_song(
    songs.Tune("families", tuple(songs.SongNote(int(p), 0.55 * i, 0.45) for i, p in enumerate(pitches[::2]))),
    notes[::2],
    SR,
)
play(showcase, SR, name="07_families", folder=OUT)

# %% [markdown]
# ## 5. How good is it? Every number next to its three floors
#
# All rows use the same $N$ notes and the held-out set's conditions:
#
# | row | what it is | why it is there |
# |---|---|---|
# | held-out real | real notes vs the real reference set | what "indistinguishable from real" scores at this $N$ (FD is biased upwards at finite $N$) |
# | AE reconstructions | held-out latents decoded at constant $f_0$ | the best **any** latent GAN can reach: a perfect sampler of $z$ produces exactly this |
# | Gaussian baseline | $z \mid (p, f) \sim \mathcal N(a_f + b_f\,h(p), \Sigma)$ | a trivial model: per-family mean linear in pitch height, one shared covariance |
#
# Metrics: **FD / KID** on the frozen note classifier's 64-d features; **pitch accuracy**: the
# classifier's pitch against the pitch we asked for; **family entropy ratio**: entropy of the
# predicted-family histogram over that of the reference set (1 = all families as often as in real
# data); **NDB**: k-means ($K = 50$) on the training latents, bins whose share differs
# significantly (p < 0.05) — about $0.05 \cdot 50 = 2.5$ by chance alone; **NN ratio**: mean distance
# of a sample to its nearest training latent over the same for held-out real notes (≈ 0: copies;
# ≈ 1: as new as fresh real data).

# %%
evaluator = Evaluator(autoencoder, classifier, data, config, seed=SEED)
evaluator.evaluate(gan, "gan")
if live.generator is not gan:
    evaluator.evaluate(live.generator, f"live run ({live.steps} steps)")
print(evaluator.table())

# %%
for name, value in evaluator.records("gan").items():
    record(name, value)

# %%
# NBVAL_CHECK_OUTPUT
check_targets({target: ok for target, _, ok in evaluator.targets("gan")})

# %% [markdown]
# The same checks, with the numbers:

# %%
for _, text, ok in evaluator.targets("gan"):
    print(f"{'PASS' if ok else 'FAIL'}: {text}")

# %% [markdown]
# **Reading the table.** On FD the three samplers sit close together: most of the distance between
# generated and real notes is what the autoencoder itself loses (the reconstruction floor), so even
# the trivial Gaussian lands near it, and FD alone barely separates it from the GAN. The latent-space
# columns do: the Gaussian puts many notes where no real note lies (NDB bins and a large NN ratio),
# the GAN stays much closer to the surface the real latents live on (how close: the next section).

# %%
rows = evaluator.rows
gap = rows["gaussian"].fd - rows["reconstruction"].fd
closed = (rows["gaussian"].fd - rows["gan"].fd) / gap if gap > 0 else float("nan")
print(
    f"FD above the reconstruction floor: Gaussian {gap:+.3f}, GAN {rows['gan'].fd - rows['reconstruction'].fd:+.3f} "
    f"(the GAN closes {closed:.0%} of the Gaussian's gap)"
)
print(
    f"NDB: Gaussian {rows['gaussian'].ndb}, GAN {rows['gan'].ndb} of {config.ndb_k} bins | "
    f"NN ratio: Gaussian {rows['gaussian'].nn_ratio:.2f}, GAN {rows['gan'].nn_ratio:.2f} (held-out real = 1)"
)

# %% [markdown]
# ### Is it covering the data, or copying it?
#
# Left: distances to the nearest *training* latent. A copier would pile up at zero; a GAN that
# makes new notes as real data does would sit about as far from the training set as held-out
# real notes (NN ratio 1); a ratio well above 1 means its notes lie *off* the surface the real
# notes lie on (the printout under the plots). Right: the NDB bins — the generated share of each k-means bin against the
# training share; red bins differ significantly. Below, the latent maps of the three samplers.

# %%
fig = plot_nn_check(evaluator)
plt.show()
fig = plot_ndb_bins(evaluator, "gan")
plt.show()
fig = plot_latent_map(
    {
        "held-out real": evaluator.latents["reconstruction"],
        "Gaussian": evaluator.latents["gaussian"],
        "latent GAN": evaluator.latents["gan"],
    },
    {"held-out real": evaluator.family, "Gaussian": evaluator.family, "latent GAN": evaluator.family},
    train_std,
)
plt.show()
gan_nn = evaluator.rows["gan"].nn_ratio
print(
    f"NN ratio of the GAN: {gan_nn:.2f} (held-out real notes 1, the Gaussian {evaluator.rows['gaussian'].nn_ratio:.2f}): "
    + (
        "as new as fresh real notes."
        if 0.8 <= gan_nn <= 1.2
        else "its notes are new, but further from the real notes than fresh real notes are: it misses the target 0.8-1.2 "
        "(what was tried: docs/experiments/06_07_real_notes.md)."
    )
)

# %% [markdown]
# ## 6. From notes to songs
#
# A song is a list of notes — MIDI pitch, start, duration — which is what a MIDI file holds.
# `songs.render_song` decodes one generated note per entry, cuts it to its duration plus a short
# release, fades both ends with a 5–10 ms raised cosine (a jump in the waveform is a click), mixes
# the notes by overlap-add and scales the mix to a fixed peak so it never clips. One noise vector
# with one family is one *instrument*: the same timbre plays every note.

# %%
ode, played = generate_song(gan, autoencoder, songs.tune("ode_to_joy"), "bowed_string", seed=3)
print(played.describe())
songs.write_song(ode, OUT / "ode_to_joy_bowed_string.wav", SR)
fig, ax = plt.subplots(figsize=(9, 2.8))
plot_spectrogram(ode[: 8 * SR], SR, ax=ax, log_freq=True, title="Ode to Joy, first 8 s, a generated bowed string")
plt.show()
play(ode, SR, name="07_ode_to_joy", folder=OUT)

# %%
chords, _ = generate_song(gan, autoencoder, songs.tune("pop_chords"), "organ", seed=5)
songs.write_song(chords, OUT / "pop_chords_organ.wav", SR)
play(chords, SR, name="07_pop_chords", folder=OUT)

# %% [markdown]
# ### Your own MIDI file
#
# `songs.read_midi` reads any standard MIDI file (all tracks, tempo changes included, drums on
# channel 10 skipped) and moves notes outside the GAN's range (MIDI 48–84) by whole octaves,
# saying so. Set `MIDI_FILE` in the parameters cell to render your own; here a small file is
# written with `mido` first (a bass line two octaves too low, to show the octave fitting).

# %%
if MIDI_FILE:
    midi_path = MIDI_FILE
else:
    midi_path = OUT / "demo.mid"
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(140), time=0))
    for pitch in [36, 40, 43, 48, 43, 40, 36, 31]:  # an arpeggio from C2: below the range
        track.append(mido.Message("note_on", note=pitch, velocity=100, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
    mid.save(str(midi_path))
user_song = songs.read_midi(midi_path, pitch_range=(48, 84), max_notes=200)
print(user_song.describe(), "|", "; ".join(user_song.remarks))
user_audio, _ = generate_song(gan, autoencoder, user_song, "plucked_string", seed=7)
songs.write_song(user_audio, OUT / "midi_song.wav", SR)
play(user_audio, SR, name="07_midi_song", folder=OUT)

# %% [markdown]
# ## 7. Sliding between two timbres
#
# Two instruments are two points in latent space. Playing a scale up and down while moving from
# instrument A (a flute) to instrument B (brass) note by note: every note's two end-point latents are
# generated at that note's own pitch and mixed linearly, $z = (1-t)\,z_A + t\,z_B$. (`space="noise"`
# instead slerps the GAN's noise and mixes its family input, letting the generator invent the
# in-between timbres.)

# %%
scale = songs.tune("c_major_scale", bpm=150)
up_down = songs.Tune(
    "scale up and down",
    scale.notes
    + tuple(songs.SongNote(n.pitch, scale.seconds + i * 0.4, 0.4) for i, n in enumerate(reversed(scale.notes[:-1]))),
)
morph, t, _ = timbre_morph(gan, autoencoder, up_down, ("flute", 1), ("brass", 2), space="latent")
songs.write_song(morph, OUT / "timbre_morph.wav", SR)
fig, ax = plt.subplots(figsize=(9, 2.8))
plot_spectrogram(morph, SR, ax=ax, log_freq=True, title="flute → brass over a phrase")
plt.show()
play(morph, SR, name="07_timbre_morph", folder=OUT)

# %% [markdown]
# The same slide at one pitch, five steps, as spectrograms — the harmonics' balance and the
# breath noise change gradually, not at a switch point:

# %%
steps = torch.linspace(0, 1, 5)
one_pitch = songs.Tune("A4", tuple(songs.SongNote(69, 0.0, 1.0) for _ in steps))
with torch.no_grad():
    p = torch.full((5,), 69)
    za = gan.generate(timbre_noise(gan.noise_dim, 1).expand(5, -1), p, torch.full((5,), FAMILIES.index("flute")))
    zb = gan.generate(timbre_noise(gan.noise_dim, 2).expand(5, -1), p, torch.full((5,), FAMILIES.index("brass")))
    z_path = gan.to_autoencoder((1 - steps[:, None]) * za + steps[:, None] * zb)
fig = spectrogram_grid(
    list(decode_latents(autoencoder, z_path, p)),
    SR,
    ncols=5,
    titles=[f"t = {float(s):.2f}" for s in steps],
    cell=(1.8, 1.6),
)
plt.show()

# %% [markdown]
# ## What to take away
#
# * A GAN over a good encoding is a small GAN: 16 numbers per note instead of 16,000 samples. The
#   frozen decoder does the hard part, and guarantees every sample is a plausible sound.
# * Always read a generator's numbers next to their floors. The reconstruction floor is the
#   ceiling of this whole approach: a better latent GAN cannot beat its own decoder.
# * The trivial Gaussian baseline is a serious competitor in a 16-d latent space — a GAN earns its
#   place by modelling the structure a mean and a covariance miss.
# * Songs are notes in time: a MIDI list, one generated instrument, click-free fades and a mix that
#   never clips.

# %% [markdown]
# ## Exercises
#
# Each cell holds an answer set to `None`: write yours, run the cell, and the check says right,
# or not yet and why. (Batch runs skip these cells.)
#
# 1. **Copying or creating?** Write `nn_ratio(generated_to_train, held_out_to_train)` from the
#    nearest-training-neighbour distances of generated and of held-out real latents (section 5).
# 2. **Does the GAN beat the trivial baseline?** Read the recorded numbers of section 5: is the
#    GAN's FD lower than the Gaussian baseline's by more than the real floor's seed spread
#    (`fd_real_floor_spread`, how much FD moves between two draws of real notes)? `True` or `False`.


# %%
def nn_ratio(generated_to_train, held_out_to_train):
    return None  # your code: [N] distances, [M] distances -> one number


run_check(check_nn_ratio, nn_ratio)

# %%
gan_beats_gaussian = None  # your answer: True or False
run_check(check_gan_beats_gaussian, gan_beats_gaussian, evaluator.records("gan"))

# %%
print(f"chapter run time: {time.perf_counter() - t_chapter:.0f} s; files in {OUT}")
