"""Notebook 02's other branch: retraining every recipe (the full profile, or RETRAIN = True).

nbval runs the committed notebook, which loads the shipped weights, so the code that only the
full profile reaches was never run by a test (and had two bugs: every final grid was titled with
the last recipe's step count, and a generator with no high-quality sample divided by zero).
This runs the notebook's source on that branch, with the full profile shrunk to a toy size.
"""

from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "notebooks" / "src" / "02_dcgan_pixels.py"


@pytest.mark.slow
def test_retrain_branch_runs_end_to_end_and_titles_each_recipe_with_its_own_steps(monkeypatch, tmp_path, capsys):
    import musicgan_lib.imaging as imaging
    from musicgan_lib.recipes import dcgan_pixels as ch2

    full = ch2.DCGANConfig.for_profile("full")
    assert full.retrain  # the branch under test is the full profile's own
    tiny = ch2.with_steps(full, steps=10, live_steps=10, remedy_steps=14, ngf=8, ndf=8, batch_size=32,
                          dataset_size=512, eval_samples=256, live_every=5, frames=4, track_every=5, track_samples=64)  # fmt: skip
    monkeypatch.setattr(ch2.DCGANConfig, "for_profile", classmethod(lambda cls, profile: tiny))
    titles: list[str] = []
    show_grid = imaging.show_grid
    monkeypatch.setattr(
        imaging, "show_grid", lambda grid, title, **kw: titles.append(title) or show_grid(grid, title, **kw)
    )
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: plt.close("all"))  # as Jupyter's inline backend does
    monkeypatch.setenv("MUSICGAN_OUT", str(tmp_path))
    monkeypatch.setenv("MUSICGAN_BATCH", "1")

    source = SOURCE.read_text()
    assert source.count('PROFILE = "quick"') == 1
    exec(
        compile(source.replace('PROFILE = "quick"', 'PROFILE = "full"'), str(SOURCE), "exec"), {"__name__": "__main__"}
    )

    finals = [t for t in titles if " after " in t]  # one grid, a row per recipe, the title naming each row
    assert finals == [
        f"top to bottom: {ch2.PLAIN} after 10 steps, {ch2.UNSUPERVISED_REMEDY} after 10 steps, {ch2.REMEDY} after 14 steps"
    ]
    assert (tmp_path / "02" / "dcgan_progress.gif").stat().st_size > 0
    printed = capsys.readouterr().out
    for name in (
        ch2.PLAIN,
        ch2.UNSUPERVISED_REMEDY,
        ch2.REMEDY,
    ):  # every run tracked its attributes (at steps 5 and 10)
        assert (
            f"{name}: the largest share of one value (2 checks, steps 5-10); at any check | from step 10 on" in printed
        )
