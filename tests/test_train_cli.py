"""`musicgan train`: a chapter's model on 2 processes (torchrun), resumed on 1, into a checked folder."""

import json

import pytest
import torch

from musicgan_lib.cli import main


def test_train_refuses_a_folder_with_someone_elses_files_and_a_bad_nproc(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="holds files no training run wrote"):
        main(["train", "toy", "--steps", "1", "--out", str(tmp_path)])
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert main(["train", "--nproc", "0", "toy", "--steps", "1", "--out", str(tmp_path / "new")]) == 2
    assert "--nproc must be >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_then_one_resume_the_same_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "toy"
    common = ["toy", "--method", "vanilla", "--batch", "64", "--out", str(out)]
    assert main(["train", "--nproc", "2", *common, "--steps", "30", "--checkpoint-every", "30"]) == 0
    two = json.loads((out / "metrics.json").read_text())
    assert two["ranks"] == 2 and two["steps"] == 30
    capsys.readouterr()
    assert main(["train", *common, "--steps", "40"]) == 0  # resumes at 30 in one process
    assert "resumed from step 30" in capsys.readouterr().out
    one = json.loads((out / "metrics.json").read_text())
    assert one["ranks"] == 1 and one["steps"] == 40


@pytest.mark.slow
def test_train_your_own_sprite_sheet_writes_samples_a_gif_and_resumes(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from musicgan_lib.data.sprites import make_sprites
    from musicgan_lib.imaging import image_grid, read_gif
    from musicgan_lib.recipes.dcgan_pixels import load_generator

    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    sheet = image_grid(make_sprites(120, seed=3).images, nrow=12, padding=0)  # 12 x 10 tiles of 32 px
    Image.fromarray(sheet).save(tmp_path / "sheet.png")
    out = tmp_path / "run"
    common = ["sprites", str(tmp_path / "sheet.png"), "--tile", "32", "--batch", "16", "--sample-every", "3"]
    assert main(["train", *common, "--steps", "3", "--out", str(out)]) == 0
    assert "kept 120 sprites of 120 tiles" in capsys.readouterr().out
    exported = tmp_path / "mine.safetensors"
    assert main(["train", *common, "--steps", "6", "--out", str(out), "--export", str(exported)]) == 0
    assert "resumed from step 3" in capsys.readouterr().out
    shipped = load_generator(exported)  # the trained generator, with the log the notebook plots
    assert shipped.meta["steps"] == 6 and shipped.meta["held_out"] == 32 and len(shipped.meta["memorising_log"]) == 2
    assert shipped.generator(torch.zeros(2, shipped.generator.latent_dim)).shape == (2, 3, 32, 32)
    with pytest.raises(SystemExit, match="--export .*mine.safetensors exists; remove it or name a new file"):
        main(["train", *common, "--steps", "6", "--out", str(out), "--export", str(exported)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sprites"] == 88 and metrics["held_out"] == 32 and metrics["steps"] == 6
    assert 0 <= metrics["d_real_held_out"] <= 1
    assert len(json.loads((out / "log.json").read_text())) == 2  # one entry per sample, across the resume
    assert read_gif(out / "progress.gif").shape[0] == 2 and (out / "samples.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "extra", "key"),
    [
        ("wgan", ["--method", "clip", "--batch", "16"], "fd"),
        ("progan", [], "fd"),
        ("autoencoder", ["--data", "synthetic", "--batch", "4"], "mss_last50"),
        ("song-autoencoder", ["--tunes", "12", "--batch", "2"], "mss_last50"),
    ],
)
def test_chapters_3_4_6_and_8s_autoencoder_train_from_the_command_and_resume(
    tmp_path, monkeypatch, capsys, model, extra, key
):
    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    out = tmp_path / model
    common = [model, *extra, "--out", str(out), "--eval-samples", "64", "--checkpoint-every", "2"]
    assert main(["train", *common, "--steps", "2"]) == 0
    capsys.readouterr()
    assert main(["train", *common, "--steps", "3"]) == 0
    assert "resumed from step 2" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["ranks"] == 1 and key in metrics
    if not model.endswith("autoencoder"):
        assert (out / "samples.png").stat().st_size > 1000


def test_wgan_refuses_a_method_it_does_not_have(tmp_path):
    with pytest.raises(SystemExit, match="wgan --method is clip or gp, got 'hinge'"):
        main(["train", "wgan", "--method", "hinge", "--steps", "1", "--out", str(tmp_path / "w")])


@pytest.mark.slow
def test_chapter_8s_song_gan_trains_on_two_processes_and_resumes_on_one(tmp_path, monkeypatch, capsys):
    import soundfile

    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "songs"
    common = ["song-gan", "--tunes", "12", "--batch", "4", "--eval-samples", "6", "--out", str(out)]
    assert main(["train", "--nproc", "2", *common, "--steps", "2", "--checkpoint-every", "2"]) == 0
    assert json.loads((out / "metrics.json").read_text())["ranks"] == 2
    capsys.readouterr()
    assert main(["train", *common, "--steps", "3"]) == 0
    printed = capsys.readouterr().out
    assert "resumed from step 2" in printed and "training windows: scale_consistency" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["ranks"] == 1
    assert 0 < metrics["scale_consistency"] <= 1 and 0 < metrics["scale_consistency_train"] <= 1
    audio, sr = soundfile.read(out / "sample.wav")
    assert sr == 16000 and len(audio) == 8 * sr and abs(audio).max() > 0


@pytest.mark.slow
def test_chapter_7s_latent_gan_trains_from_the_command_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    out = tmp_path / "latent"
    common = ["latent-gan", "--data", "synthetic", "--notes", "256", "--batch", "32", "--sheet-steps", "30"]
    common += ["--out", str(out)]
    assert main(["train", *common, "--steps", "4", "--checkpoint-every", "4"]) == 0
    capsys.readouterr()
    assert main(["train", *common, "--steps", "6"]) == 0
    assert "resumed from step 4" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 6 and metrics["latent_fd"] > 0
