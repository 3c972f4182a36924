"""`musicgan` command line: `musicgan course [--profile quick|full] [--only 01,03] ...`, and sweeps:
`musicgan course --only 02 --sweep SEED=0,1,2 --sweep STEPS=2000,4000 --jobs 2`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import CourseError, run_course


def _parse_param(text: str) -> tuple[str, str]:
    """NAME=VALUE, VALUE kept as text: the runner parses it to the type of the notebook's default."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"-p expects NAME=VALUE, got {text!r}")
    return name.strip(), raw


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicgan", description="MusicGAN Lab tools")
    sub = parser.add_subparsers(dest="command", required=True)
    course = sub.add_parser("course", help="run the book's notebooks headless and write a summary")
    course.add_argument("--profile", default="quick", help="quick (laptop CPU, default) or full (GPU)")
    course.add_argument("--only", default="", help="comma-separated chapter ids, e.g. 01,03")
    course.add_argument("--out", default="runs/course", help="output folder (default runs/course)")
    course.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    course.add_argument("--seed", type=int, default=0)
    course.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        type=_parse_param,
        metavar="NAME=VALUE",
        help="extra notebook parameter (repeatable)",
    )
    course.add_argument("--fail-fast", action="store_true", help="stop at the first failing chapter")
    course.add_argument("--timeout", type=int, default=1800, help="per-cell execution timeout in seconds (> 0)")
    course.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="run every combination of these values, one folder per point under --out (repeatable)",
    )
    course.add_argument("--jobs", type=int, default=1, help="sweep points run in parallel (default 1)")
    course.add_argument("--notebooks", default=None, help=argparse.SUPPRESS)
    train = sub.add_parser(
        "train",
        help="train a chapter's model (toy, dcgan, wgan, progan, autoencoder, latent-gan, song-autoencoder, song-gan, sprites), on N processes with --nproc N",
        description="musicgan train {toy,dcgan,wgan,progan,autoencoder,latent-gan,song-autoencoder,song-gan,sprites} --steps N --out DIR [--nproc N] [...]: "
        "see python -m musicgan_lib.train_cli -h",
    )
    train.add_argument("--nproc", type=int, default=1, help="data-parallel processes (torchrun), default 1")
    train.add_argument("args", nargs=argparse.REMAINDER, help="model and options, as for musicgan_lib.train_cli")
    return parser


def run_train(nproc: int, args: list[str]) -> int:
    """One process: train here. N processes: start torchrun, which starts N ranks of train_cli and
    stops them all when one fails."""
    import subprocess

    from . import train_cli

    if nproc < 1:
        print(f"musicgan train: error: --nproc must be >= 1, got {nproc}", file=sys.stderr)
        return 2
    if nproc == 1:
        return train_cli.main(args)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    return subprocess.call([*command, "-m", "musicgan_lib.train_cli", *args])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return run_train(args.nproc, args.args)
    if args.command == "course":
        kwargs = {}
        if args.notebooks:
            kwargs["notebooks_dir"] = Path(args.notebooks)
        common = dict(
            profile=args.profile,
            only=[x for x in args.only.split(",") if x.strip()],
            device=args.device,
            seed=args.seed,
            params=dict(args.param),
            timeout=args.timeout,
            **kwargs,
        )
        try:
            if args.sweep:
                from .sweep import run_sweep

                points = run_sweep(args.out, args.sweep, jobs=args.jobs, **common)
                return 0 if all(p.status != "failed" for p in points) else 1
            results = run_course(args.out, fail_fast=args.fail_fast, **common)
        except CourseError as exc:
            print(f"musicgan course: error: {exc}", file=sys.stderr)
            return 2
        return 0 if all(r.status == "ok" for r in results) else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
