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
# # Chapter 5 — Wave composition: sounds are sums of simple waves
#
# Everything a loudspeaker plays is one number per sample: 16,000 of them per second in this
# book. This chapter shows that a musical note is, to a surprising degree, a *sum of sine
# waves* (its partials), each with its own frequency, loudness and fade. We will
#
# 1. build sounds from sines, and mix a few interactively;
# 2. take a real guitar note apart into its partials and put it back together, measuring how
#    close the copy is (signal-to-noise ratio, SNR) as we allow more partials;
# 3. meet the note data set that chapters 6 and 7 learn from: instrument notes with exact
#    labels (pitch curve, loudness, instrument family, velocity).

# %% tags=["parameters"]
PROFILE = "quick"
SEED = 0
DEVICE = "auto"
GUITAR_PROGRAM = 24  # General MIDI: Acoustic Guitar (nylon)
GUITAR_PITCH = 52  # MIDI note E3, about 165 Hz

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from musicgan_lib.audio import (
    adsr,
    decompose_partials,
    filtered_noise,
    harmonic,
    play,
    plot_spectrum,
    plot_waveform,
    resynthesize,
    sine,
    snr_db,
)
from musicgan_lib.audio.widgets import show_sine_mixer
from musicgan_lib.data import notes as notes_data
from musicgan_lib.data import soundfont
from musicgan_lib.device import seed_everything
from musicgan_lib.exercises import run_check
from musicgan_lib.exercises.ch05 import check_sine_wave, check_strongest_harmonic, check_sum_period
from musicgan_lib.profiles import check_profile
from musicgan_lib.record import check_targets, output_dir, record
from musicgan_lib.viz import readable_figures, spectrogram_grid

readable_figures()
check_profile(PROFILE)
seed_everything(SEED)
OUT = output_dir("05")
SR = 16000
N_SPEED_NOTES = {"quick": 2000, "full": 10000}[PROFILE]  # notes made to measure generation speed

# %% [markdown]
# ## 1. One sine wave
#
# A sine wave at frequency $f$ is $x(t) = A \sin(2\pi f t + \varphi)$. We compute its phase
# as a running sum of $2\pi f / f_s$ per sample, which also works when $f$ changes over time
# (vibrato, glides). In 32-bit floats a plain running sum over a long note loses its fraction
# digits (the phase reaches thousands of cycles), so the library sums inside short blocks and
# carries the block offsets in 64 bits, wrapped to one cycle: no drift, however long the note.

# %%
a4 = sine(440.0, 1.0, SR, amplitude=0.5)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
plot_waveform(a4, SR, ax=ax1, seconds=(0, 0.01), title="440 Hz, first 10 ms")
plot_spectrum(a4, SR, ax=ax2, fmax=2000, floor_db=-80, title="its spectrum: one line")
plt.show()
play(a4, SR, name="sine_440", folder=OUT)

# %% [markdown]
# ## 2. Sums of sines
#
# Move the sliders (in JupyterLab) to change the frequency and loudness of three sines; the
# plot shows each wave and their sum, the player plays the sum. Frequencies in simple ratios
# (220 : 330 : 440 = 2 : 3 : 4) give a waveform that repeats every 1/110 s, heard as *one*
# tone with a colour; unrelated frequencies give a chord or a rough beating.
# In a batch run (the course runner, tests) this cell draws the same plot as a picture.

# %%
mixer = show_sine_mixer(freqs=(220.0, 330.0, 440.0), amps=(1.0, 0.5, 0.25), sr=SR)

# %% [markdown]
# ### Building an instrument from sines, an envelope and noise
#
# A plucked string: harmonics $k f_0$ with amplitudes that fall with $k$, each fading faster
# the higher it is, shaped by an attack-decay-sustain-release (ADSR) envelope, plus a short
# burst of filtered noise for the pluck itself. Harmonics above the Nyquist frequency
# ($f_s/2$ = 8 kHz) are removed: sampled, they would fold back as false, lower tones (aliasing).
#
# The whole instrument rests on one function, an **oscillator bank**: K sines, each with its own
# frequency curve and its own loudness envelope, summed. Each partial's phase is the running
# sum of its frequency (section 1), so a partial may glide; one at or above Nyquist is
# silenced wherever it is that high. Here it is, whole:


# %%
def oscillator_bank(freqs, amps, sr):
    """freqs [K, T] in Hz and amps [K, T], one row per partial -> audio [T], their sum."""
    phase = 2 * np.pi * torch.cumsum(freqs.double() / sr, dim=-1)  # [K, T] each partial's running phase
    audible = freqs.double() < sr / 2  # [K, T] at or above Nyquist a partial would alias: silence it
    return (amps * audible * torch.sin(phase)).sum(dim=0).float()  # [T]


# %% [markdown]
# The pluck: 40 harmonics of G3 (196 Hz), the k-th at $k f_0$ with amplitude $k^{-1.5}$, fading
# at $2 + 0.4k$ per second, so the bright upper harmonics die first.

# %%
t = torch.arange(SR) / SR
k = torch.arange(1, 41, dtype=torch.float32)
freqs = (196.0 * k)[:, None].expand(-1, SR)  # [40, samples]: harmonic k of G3 at k x 196 Hz
amps = (1.0 / k**1.5)[:, None] * torch.exp(-t[None, :] * (2.0 + 0.4 * k[:, None]))  # [40, samples]
tone = oscillator_bank(freqs, amps, SR)
pluck_noise = filtered_noise(SR, SR, 2000, 6000, generator=torch.Generator().manual_seed(SEED))
pluck = adsr(SR, SR, attack=0.003, decay=0.3, sustain=0.6, release=0.2) * (
    tone + 0.05 * pluck_noise * torch.exp(-t / 0.01)
)
pluck = 0.8 * pluck / pluck.abs().max()
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
plot_waveform(pluck, SR, ax=ax1, title="a synthetic pluck")
plot_spectrum(pluck, SR, ax=ax2, log_freq=True, floor_db=-100, title="harmonics of 196 Hz")
plt.show()
play(pluck, SR, name="synthetic_pluck", folder=OUT)

# %% [markdown]
# The library's `harmonic(f0, amps, sr)` is the same bank, written for speed and long notes
# (float32 phases summed in blocks, argument checks, stiff-string partials). On the pluck's
# inputs the two agree:

# %%
# NBVAL_CHECK_OUTPUT
library_tone = harmonic(torch.full((SR,), 196.0), amps, SR)  # the fast, checked version
gap = float((tone - library_tone).abs().max())
print(
    f"page vs library, 1 s of 40 harmonics (peak {float(library_tone.abs().max()):.2f}): the same to 1e-4? {gap < 1e-4}"
)

# %% [markdown]
# ## 3. A real guitar note, taken apart
#
# The guitar note comes from a General MIDI SoundFont: recorded samples of real instruments,
# rendered by `fluidsynth` (installed by `scripts/install-system-deps.sh`). Without a
# SoundFont the chapter still runs, on a synthetic plucked string, and says so.

# %%
HAVE_SF2 = soundfont.soundfont_available()
record("soundfont_available", int(HAVE_SF2))
if HAVE_SF2:
    font = soundfont.find_soundfont()
    note = soundfont.render_notes([GUITAR_PROGRAM], [GUITAR_PITCH], 100, duration=1.0, hold=1.0, cache_dir=OUT)
    print(
        f"guitar note: {soundfont.GM_NAMES.get(GUITAR_PROGRAM, GUITAR_PROGRAM)}, MIDI {GUITAR_PITCH}, from {font.name}"
    )
else:
    note = notes_data.synth_notes(["plucked_string"], [GUITAR_PITCH], 100, duration=1.0, seed=SEED)
    print("no SoundFont/fluidsynth installed: using a synthetic plucked string instead (results differ)")
guitar = note.audio[0]

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
plot_waveform(guitar, SR, ax=ax1, seconds=(0, 0.2), title="guitar: the first fifth of a second")
plot_spectrum(guitar, SR, ax=ax2, log_freq=True, floor_db=-100, title="spectrum: a comb of partials")
f0 = float(note.f0_hz[0, 0])
for h in range(1, 9):
    ax2.axvline(h * f0, color="tab:red", lw=0.5, alpha=0.4)
plt.show()
play(guitar, SR, name="guitar", folder=OUT)

# %% [markdown]
# ### Decomposition into partials
#
# `decompose_partials(audio, sr, K)` finds the K highest peaks of the spectrum, follows each
# through time to pin down its frequency and how fast it fades (its *decay*, in 1/s), then fits
# amplitudes and phases by least squares. Two models of a partial come out:
#
# * **decay model** — a sine that fades exponentially: frequency, amplitude, decay, phase;
# * **envelope model** — the same sine, but its amplitude and phase may drift slowly (one
#   complex value every 50 ms, denser during the attack). Real strings and SoundFont samples
#   do drift: the attack differs from the sustained part, partials beat against each other.
#   This is also what the synthesiser in chapter 6 does: slowly varying harmonic amplitudes.

# %%
t0 = time.perf_counter()
parts = decompose_partials(guitar, SR, 64)
decompose_seconds = time.perf_counter() - t0
print(f"strongest partials of the note (f0 label {f0:.1f} Hz):")
print(parts.table(8))

# %%
KS = [1, 2, 4, 8, 16, 32, 64]
n = len(guitar)
resyn, snr_env, snr_decay = {}, [], []
for K in KS:
    p = decompose_partials(guitar, SR, K)
    resyn[K] = resynthesize(p, n)
    snr_env.append(snr_db(guitar, resyn[K]))
    snr_decay.append(snr_db(guitar, resynthesize(p, n, envelopes=False)))

fig, axes = plt.subplots(1, 4, figsize=(10, 2.8), sharey=True)
window = slice(int(0.05 * SR), int(0.08 * SR))
tt = np.arange(n)[window] / SR * 1000
for ax, K in zip(axes, [1, 4, 16, 64]):
    ax.plot(tt, guitar[window], color="0.6", lw=1.5, label="original")
    ax.plot(tt, resyn[K][window], color="tab:blue", lw=0.8, label=f"K = {K}")
    ax.set_title(f"K = {K}: {snr_env[KS.index(K)]:.1f} dB")
    ax.set_xlabel("time (ms)")
axes[0].legend(fontsize=6, loc="lower left")
plt.show()

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(KS, snr_env, "o-", label="envelope model")
ax.plot(KS, snr_decay, "s--", label="decay model")
ax.axhline(20, color="0.5", lw=0.8, ls=":")
ax.set_xscale("log", base=2)
ax.set_xticks(KS, [str(k) for k in KS])
ax.set_xlabel("partials K")
ax.set_ylabel("SNR (dB)")
ax.set_title("resynthesis quality against K")
ax.legend()
plt.show()
for K, a, b in zip(KS, snr_env, snr_decay):
    print(f"K = {K:2d}: envelope model {a:5.1f} dB, decay model {b:5.1f} dB")
print(f"(decomposing into 64 partials took {decompose_seconds:.2f} s)")

# %% [markdown]
# Listen: 1, 4, 16 and 64 partials (envelope model). One partial is a pure tone at the
# strongest harmonic; a handful already sounds like a plucked string; 64 are hard to tell
# from the original. Every +10 dB of SNR means the error has a tenth of the energy.

# %%
for K in [1, 4, 16, 64]:
    play(resyn[K], SR, name=f"guitar_K{K}", folder=OUT)

# %%
snr64 = record("decomposition_snr_db", snr_env[KS.index(64)])
record("decomposition_snr_db_decay_model", snr_decay[KS.index(64)])

# %%
# NBVAL_CHECK_OUTPUT
check_targets({"decomposition SNR (K = 64) >= 20 dB": snr64 >= 20})

# %% [markdown]
# ## 4. The note data set
#
# Chapters 6 and 7 learn to generate notes, so they need many notes with *labels*. We make
# them the way section 2 made the pluck: harmonic spectra, envelopes, inharmonicity (stiff
# strings), vibrato and noise, in eight instrument families. Because we make them, the labels
# are exact: the pitch curve f0 the synth played, the loudness (A-weighted, in dB), the family
# and the MIDI velocity, with one label frame every 4 ms (250 frames per second).
#
# Below: one row per family, one column per pitch (C3, C4, C5, C6), log-frequency spectrograms.

# %%
pitches = [48, 60, 72, 84]
fams = [f for f in notes_data.FAMILIES for _ in pitches]
grid = notes_data.synth_notes(fams, pitches * len(notes_data.FAMILIES), 100, duration=1.0, seed=SEED)
fig = spectrogram_grid(
    grid.audio,
    SR,
    ncols=len(pitches),
    titles=[f"MIDI {p}" for p in pitches] + [""] * (len(grid) - 4),
    row_labels=[f.replace("_", "\n") for f in notes_data.FAMILIES],
    cell=(2.0, 1.2),
)
plt.show()

# %% [markdown]
# A few to hear (C4 = MIDI 60): plucked string, bowed string, brass, mallet.

# %%
for fam in ["plucked_string", "bowed_string", "brass", "mallet"]:
    i = notes_data.FAMILIES.index(fam) * len(pitches) + 1
    play(grid.audio[i], SR, name=f"note_{fam}", folder=OUT)

# %% [markdown]
# The labels of two notes: the f0 curve (the bowed string's vibrato is visible) and the
# loudness measured from the audio.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
frames_t = np.arange(grid.f0_hz.shape[1]) / grid.frame_rate
for fam in ["bowed_string", "plucked_string"]:
    i = notes_data.FAMILIES.index(fam) * len(pitches) + 1
    ax1.plot(frames_t, grid.f0_hz[i], label=fam)
    ax2.plot(frames_t, grid.loudness_db[i], label=fam)
ax1.set(xlabel="time (s)", ylabel="f0 (Hz)", title="pitch label")
ax2.set(xlabel="time (s)", ylabel="dB", title="loudness label", ylim=(-80, 0))
ax1.legend(fontsize=6)
plt.show()

# %% [markdown]
# ### How fast?
#
# `make_notes(n, duration, seed=...)` draws families, pitches (MIDI 48–84, three octaves) and
# velocities at random; note *i* depends only on the seed and *i*, so any prefix of a data set
# is the smaller data set with the same seed.

# %%
notes_data.make_notes(8, seed=SEED)  # warm-up
t0 = time.perf_counter()
data = notes_data.make_notes(N_SPEED_NOTES, 1.0, seed=SEED)
seconds = time.perf_counter() - t0
rate = record("notes_per_second", len(data) / seconds)
print(f"{len(data)} notes in {seconds:.1f} s; 10,000 one-second notes would take {10_000 / rate:.0f} s")

# %%
# NBVAL_CHECK_OUTPUT
print("audio", tuple(data.audio.shape), "| f0", tuple(data.f0_hz.shape), "| loudness", tuple(data.loudness_db.shape))
print(
    "families:",
    len(notes_data.FAMILIES),
    "| pitch range",
    int(data.pitch.min()),
    "-",
    int(data.pitch.max()),
    "| frame rate",
    data.frame_rate,
    "Hz",
)
print("notes per family:", torch.bincount(data.family, minlength=len(notes_data.FAMILIES)).tolist())

# %% [markdown]
# ### Real notes from the SoundFont
#
# The same labels for SoundFont notes: f0 from the MIDI pitch, loudness measured, family from
# the General MIDI program. They are cached in the chapter's output folder.

# %%
if HAVE_SF2:
    progs = [soundfont.DEFAULT_PROGRAMS[f][0] for f in notes_data.FAMILIES]
    real = soundfont.render_notes(progs, [60] * len(progs), 100, duration=1.0, cache_dir=OUT)
    fig = spectrogram_grid(
        real.audio, SR, ncols=4, titles=[f"{f}\n(GM {p})" for f, p in zip(real.family_names, progs)], cell=(2.2, 1.6)
    )
    plt.show()
    play(torch.cat([real.audio[0], real.audio[1]]), SR, name="soundfont_notes", folder=OUT)
else:
    print("no SoundFont installed: chapters 6 and 7 will use synthetic notes only")

# %% [markdown]
# ## What we saw
#
# * A note is well described by a few dozen partials; letting their amplitudes drift slowly
#   (the envelope model) brings a real guitar note within the SNR recorded above.
# * The decay model alone stalls lower: real notes are not perfectly exponential.
# * The note data set gives exact labels cheaply; chapter 6 trains an autoencoder whose decoder
#   is exactly this kind of additive synthesiser, driven by f0 and loudness.

# %% [markdown]
# ## Exercises
#
# Each cell below holds an answer set to `None`. Write yours, run the cell, and the check
# says right, or not yet and why. (Batch runs skip these cells.)
#
# 1. **A sine of your own.** Write `sine_wave(freq_hz, phase, duration_s, sr)`: the samples
#    $\sin(2\pi f t + \varphi)$ at $t = n / f_s$, one per sample, amplitude 1 (section 1's formula).
# 2. **When does a sum repeat?** Three sines at 300, 450 and 750 Hz are played together. After how
#    many seconds does their sum first repeat itself? (Section 2's 220 : 330 : 440 mix repeats
#    every 1/110 s; try the mixer with these frequencies.)
# 3. **The loudest partial.** In the decomposition of the guitar note (section 3, the table of the
#    strongest partials), which harmonic carries the most energy? Answer its number: 1 for the
#    fundamental $f_0$, 2 for $2 f_0$, and so on.


# %%
def sine_wave(freq_hz, phase, duration_s, sr):
    return None  # your code: a tensor [round(duration_s * sr)]


run_check(check_sine_wave, sine_wave)

# %%
period_s = None  # your answer: a number of seconds
run_check(check_sum_period, period_s)

# %%
strongest_harmonic = None  # your answer: a whole number
run_check(check_strongest_harmonic, strongest_harmonic, parts, f0)
