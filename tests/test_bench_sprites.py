"""The sprite-speed benchmark runs and prints one row per configuration (timings are not asserted)."""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_prints_a_row_per_thread_count_and_batch_size():
    spec = importlib.util.spec_from_file_location("bench_sprites", ROOT / "benchmarks" / "bench_sprites.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert len(bench.time_make_sprites(8, 3)) == 3
    out = io.StringIO()
    with redirect_stdout(out):
        assert bench.main(["--sizes", "4,8", "--threads", "1", "--repeats", "2"]) == 0
    rows = [line.split() for line in out.getvalue().splitlines() if line.split() and line.split()[0] == "1"]
    assert [r[1] for r in rows] == ["4", "8"] and all(r[-1].endswith("x") for r in rows)
