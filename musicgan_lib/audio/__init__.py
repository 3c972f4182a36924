"""Audio basics: oscillators and additive synthesis, analysis, WAV input/output, play()."""

from .analysis import (
    Partials,
    decompose_partials,
    loudness_db,
    mel_spectrogram,
    plot_spectrogram,
    plot_spectrum,
    plot_waveform,
    resynthesize,
    snr_db,
    spectrogram,
    spectrum,
)
from .io import AudioFileError, AudioInputWarning, read_wav, write_wav
from .player import play
from .synth import (
    additive,
    adsr,
    filtered_noise,
    harmonic,
    hz_to_midi,
    midi_to_hz,
    phase_from_frequency,
    sine,
    upsample_frames,
)

__all__ = [
    "AudioFileError",
    "AudioInputWarning",
    "Partials",
    "additive",
    "adsr",
    "decompose_partials",
    "filtered_noise",
    "harmonic",
    "hz_to_midi",
    "loudness_db",
    "mel_spectrogram",
    "midi_to_hz",
    "phase_from_frequency",
    "play",
    "plot_spectrogram",
    "plot_spectrum",
    "plot_waveform",
    "read_wav",
    "resynthesize",
    "sine",
    "snr_db",
    "spectrogram",
    "spectrum",
    "upsample_frames",
    "write_wav",
]
