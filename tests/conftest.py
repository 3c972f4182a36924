import os

# Progress bars become a few plain lines, as in any batch run.
os.environ.setdefault("MUSICGAN_BATCH", "1")

# Tests of chapters still being built (see tests/wip/README.md) are not collected yet.
collect_ignore_glob = ["wip/*"]
