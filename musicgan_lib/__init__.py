"""MusicGAN Lab's library: data, models, losses, training, metrics and reports for the course."""

__version__ = "0.1.0"
