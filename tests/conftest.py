import os

# Progress bars become a few plain lines, as in any batch run.
os.environ.setdefault("MUSICGAN_BATCH", "1")
