"""Figures of the sprite chapters (2-4): training curves, critic estimates, growth schedules.

The report layer for images, beside `toyplots.py` (chapter 1), `noteplots.py` (6-7) and
`songplots.py` (8). Sprite grids and GIFs themselves are in `imaging.py`; this module draws the
matplotlib figures that recipes used to define next to their training code.
"""

from __future__ import annotations
