"""Train the note classifier and the note autoencoder and ship them in assets/.

    .venv/bin/python scripts/make_note_models.py                    # both (classifier first)
    .venv/bin/python scripts/make_note_models.py --only classifier  # assets/note_classifier.safetensors
    .venv/bin/python scripts/make_note_models.py --only autoencoder # assets/note_autoencoder.safetensors

Both learn from real instrument notes rendered from the TimGM6mb SoundFont (`--data soundfont`,
the default; `data.note_sets`). The classifier (pitch + family heads on log-mel) judges reconstructions in chapter 6 and
generated notes in chapter 7 (Fréchet distance / KID on its 64 features). The autoencoder is
chapter 6's DDSP model whose frozen decoder chapter 7 drives. Both are checked on held-out notes
(far along the same stream, no (program, pitch, velocity) of the training set) before they are written; weights are stored in
float16 to keep the files small. Run with one thread on a busy machine (the default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicgan_lib.data.note_sets import HELD_OUT_OFFSET, choose_note_data, note_set  # noqa: E402
from musicgan_lib.metrics.audio_classifier import (  # noqa: E402
    ASSET_PATH as CLASSIFIER_PATH,
    note_accuracy,
    save_note_classifier,
    train_note_classifier,
)
from musicgan_lib.models.ddsp_autoencoder import ASSET_PATH as AUTOENCODER_PATH, save_autoencoder  # noqa: E402


def make_classifier(args: argparse.Namespace) -> int:
    data = choose_note_data(args.data, args.soundfont)
    print(f"classifier data: {data.describe()}")
    t0 = time.perf_counter()
    c0 = time.process_time()
    model = train_note_classifier(
        steps=args.classifier_steps,
        batch_size=64,
        seed=args.seed,
        data=data,
        n_train=args.classifier_notes,
        log_every=max(1, args.classifier_steps // 10),
    )
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    held = note_set(data, args.held_out, seed=args.seed, index_offset=HELD_OUT_OFFSET, unseen_by=args.classifier_notes)
    acc = note_accuracy(model, held.audio, held.pitch, held.family)
    print(
        f"classifier: {args.classifier_steps} steps in {seconds:.0f} s ({cpu:.0f} CPU-s); held-out "
        f"pitch {acc['pitch']:.4f}, family {acc['family']:.4f} on {args.held_out} unseen notes"
    )
    if acc["pitch"] < 0.95 or acc["family"] < 0.90:
        print(f"held-out accuracy below pitch 0.95 / family 0.90: not writing {args.classifier_out}; train longer")
        return 1
    path = save_note_classifier(
        model,
        args.classifier_out,
        steps=args.classifier_steps,
        train_seconds=round(seconds, 1),
        data=data.key(),
        extra_meta={
            "held_out_accuracy": acc,
            "held_out": {
                "n": args.held_out,
                "seed": args.seed,
                "index_offset": HELD_OUT_OFFSET,
                "unseen_by": args.classifier_notes,
            },
            "train": {
                "batch_size": 64,
                "notes": args.classifier_notes,
                "seed": args.seed,
                "cpu_seconds": round(cpu, 1),
            },
        },
    )
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


def make_autoencoder(args: argparse.Namespace) -> int:
    from musicgan_lib.metrics.note_autoencoder_eval import evaluate
    from musicgan_lib.recipes import autoencoder as ch6

    config = ch6.replace_config(
        ch6.AutoencoderConfig.for_profile(args.profile), source=args.data, soundfont=args.soundfont
    )
    data = ch6.note_data(config)
    print(f"autoencoder data: {data.describe()}")
    if args.autoencoder_steps:
        config = ch6.replace_config(config, steps=args.autoencoder_steps)
    t0 = time.perf_counter()
    c0 = time.process_time()
    run = ch6.train_autoencoder(config, seed=args.seed, device=args.device, log=True, checkpoint_path=args.checkpoint)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    report = evaluate(run.model, config, n=args.held_out_ae, device=args.device)
    print(f"autoencoder: {config.steps} steps in {seconds:.0f} s ({cpu:.0f} CPU-s)")
    print(report.summary())
    every = max(1, len(run.history["step"]) // 300)  # a loss curve for the notebook, ~300 points
    history = {k: [round(float(v), 4) for v in vals[::every]] for k, vals in run.history.items()}
    path = save_autoencoder(
        run.model,
        args.autoencoder_out or AUTOENCODER_PATH,
        steps=config.steps,
        train_seconds=round(seconds, 1),
        data=data.key(),
        extra_meta={
            "held_out_report": report.as_dict(),
            "history": history,
            "train": {
                "profile": args.profile,
                "seed": args.seed,
                "cpu_seconds": round(cpu, 1),
                "machine": f"{args.device}, {args.threads} thread(s)",
            },
        },
    )
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("classifier", "autoencoder"), default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--data",
        choices=("auto", "soundfont", "synthetic"),
        default="soundfont",
        help="the notes both models learn from (shipped: soundfont, TimGM6mb)",
    )
    ap.add_argument("--soundfont", default=None, help="a .sf2/.sf3 to render the notes with (default: TimGM6mb)")
    ap.add_argument("--classifier-steps", type=int, default=1500)
    ap.add_argument(
        "--classifier-notes", type=int, default=8192, help="rendered SoundFont notes the classifier trains on"
    )
    ap.add_argument("--held-out", type=int, default=2000, help="fresh notes to check the classifier on")
    ap.add_argument("--held-out-ae", type=int, default=512, help="fresh notes to check the autoencoder on")
    ap.add_argument("--profile", default="quick", help="autoencoder size profile (quick: the shipped one)")
    ap.add_argument("--autoencoder-steps", type=int, default=0, help="override the profile's steps")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--checkpoint",
        type=Path,
        default=Path("runs/06/note_autoencoder_training.safetensors"),
        help="training checkpoint: an interrupted run resumes from it (delete it to start over)",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy 2-core box)")
    ap.add_argument("--classifier-out", type=Path, default=CLASSIFIER_PATH)
    ap.add_argument("--autoencoder-out", type=Path, default=None, help="default assets/note_autoencoder.safetensors")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rc = 0
    if args.only in (None, "classifier"):
        rc |= make_classifier(args)
    if args.only in (None, "autoencoder"):
        rc |= make_autoencoder(args)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
