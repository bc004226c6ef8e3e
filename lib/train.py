"""`python -m lib.train --model model2 --data demo`: train one model as notebook 03/04 does, on one or more processes.

    python -m lib.train --model model2 --data demo [--profile P] [--run-name R] [--seed S] [-p NAME=VALUE ...]
    torchrun --nproc_per_node=N -m lib.train --model model2 --data demo ...     # N processes (DDP)

It trains exactly what notebook 03 (model1) or 04 (model2) trains, into the same folder `outputs/<run>/<model>/`
(`last.pt`, `best.pt`, logs, `settings.json`), from the processed data of notebooks 01-02. `-p` takes the
notebooks' own parameters (`epochs`, `max_minutes`, `augment`) and the profile's settings (`lr`, `batch_size`,
`label_smoothing`...); a misspelt name is refused with the nearest one. Under torchrun each process trains on its
share of every epoch's batches (PyTorch DistributedDataParallel: NCCL on GPUs, gloo on the CPU), rank 0 validates
and writes; one batch of the profile per process, so N processes take N x batch_size images per optimiser step at
the profile's learning rate (docs/reference.md, "More than one GPU"). Re-running the command resumes from `last.pt`, with
the same or another number of processes; with other epochs, minutes, lr or batch only when `--allow-changes` says
so, and a run that has finished is reported with exit status 3 (`--finished-ok`: 0).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .models import checkpoint
from .run import records
from .run.distributed import World
from .run.notebook import Context, start
from .run.profiles import check_names
from .run.series import parse_parameter
from .training.config import TrainResult
from .training.loop import ResumeRefused
from .training.pretrain import PRETRAIN_DIR, demo_for, train_with_pretraining

NOTEBOOK_PARAMETERS = ("epochs", "max_minutes", "augment")  # what notebooks 03/04 take besides the profile


def split_parameters(pairs: list[tuple[str, object]], profile) -> tuple[dict, dict]:
    """(notebook parameters, profile changes) from `-p` pairs; an unknown name is refused before any work."""
    run_args = {k: v for k, v in pairs if k in NOTEBOOK_PARAMETERS}
    changes = {k: v for k, v in pairs if k not in NOTEBOOK_PARAMETERS}
    check_names(changes, profile.setting_names() | set(NOTEBOOK_PARAMETERS), "parameter")
    return run_args, changes


def train(ctx: Context, model: str, *, augment: str | None = None, epochs=None, max_minutes=None,
          world: World | None = None, allow_changes: bool = False, finished_ok: bool = True,
          **changes) -> tuple[TrainResult | None, TrainResult]:
    """What notebooks 03/04 train, in this process (one of torchrun's when `world` is distributed). Re-running a
    finished run says so and returns it (`finished_ok=False`: raises ResumeRefused)."""
    profile = ctx.profile.replace(**changes) if changes else ctx.profile
    world = world or World()
    return train_with_pretraining(model, ctx.processed_dir(), ctx.out, profile, home=ctx.home, seed=ctx.seed,
                                  augment=augment or profile.augment, epochs=epochs, max_minutes=max_minutes,
                                  device=None if world.distributed else ctx.device, world=world,
                                  allow_changes=allow_changes, finished_ok=finished_ok)


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def processes_for(gpus: int | None) -> int:
    """Training processes for notebook 03/04's `gpus` parameter: 1 (the default), N, or None for every visible GPU
    (at least 1). More processes take more images per step at the same learning rate, so more is asked for."""
    available = visible_gpus()
    if gpus is None:
        return max(1, available)
    if gpus < 1:
        raise ValueError(f"gpus={gpus}: at least 1")
    if gpus == 1 and available > 1:
        print(f"{available} GPUs visible, training on one (gpus={available} trains on all of them: "
              f"{available}x the images per step at the profile's learning rate)")
    if gpus > 1 and gpus > available:
        raise ValueError(f"gpus={gpus}, but {available} GPU{'s' if available != 1 else ''} visible")
    return gpus


def torchrun_command(ctx: Context, model: str, processes: int, *, augment=None, epochs=None, max_minutes=None,
                     **changes) -> list[str]:
    """The torchrun command line that trains what `train` trains, on `processes` processes of this machine."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           "-m", "lib.train", "--model", model, "--data", ctx.data, "--profile", ctx.profile.name,
           "--run-name", ctx.run, "--seed", str(ctx.seed), "--finished-ok"]
    for name, value in {"augment": augment, "epochs": epochs, "max_minutes": max_minutes, **changes}.items():
        if value is not None:
            cmd += ["-p", f"{name}={value!r}"]
    return cmd


def train_in_notebook(ctx: Context, model: str, *, gpus: int | None = None, augment=None, epochs=None,
                      max_minutes=None, **changes) -> tuple[TrainResult | None, TrainResult]:
    """Notebooks 03/04: train here with one GPU (or the CPU); with more, launch torchrun on `gpus` processes,
    stream its lines, and read its results back from the run's folder."""
    n = processes_for(gpus)
    if n == 1:
        return train(ctx, model, augment=augment, epochs=epochs, max_minutes=max_minutes, **changes)
    if ctx.profile.for_model(model).pretrain_minutes:
        demo_for(ctx.home, ctx.profile, ctx.seed)  # the demo set is made here once, before the processes start
    cmd = torchrun_command(ctx, model, n, augment=augment, epochs=epochs, max_minutes=max_minutes, **changes)
    print(" ".join(cmd), flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ctx.root), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, cwd=ctx.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    for line in proc.stdout:
        print(line, end="", flush=True)
    if proc.wait():
        raise RuntimeError(f"torchrun ended with exit status {proc.returncode} (its lines are above); "
                           f"re-running this cell resumes from {ctx.out / 'last.pt'}")
    pre = ctx.out / PRETRAIN_DIR
    return (result_from(pre) if (pre / "last.pt").exists() else None), result_from(ctx.out)


def result_from(out: Path) -> TrainResult:
    """A finished run's result, read from its folder (what `train_model` returned in the process that trained)."""
    last = checkpoint.load(out / "last.pt", "cpu")
    state = last.train_state or {}
    history = state.get("history", [])
    return TrainResult(out, out / "best.pt", out / "last.pt", state.get("best", -1.0), len(history),
                       state.get("seconds", 0.0), list(history))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.train", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=("model1", "model2"))
    ap.add_argument("--data", default="demo")
    ap.add_argument("--profile", default="auto")
    ap.add_argument("--run-name", dest="run", default="",
                    help="outputs/<run>/ (default <profile>-<data>, as the notebooks; not --run: torchrun's own parser "
                         "reads that as an abbreviation of its --run-path)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-p", dest="params", action="append", default=[], metavar="NAME=VALUE",
                    help="epochs, max_minutes, augment, or a profile setting (lr=1e-3, batch_size=8...)")
    ap.add_argument("--allow-changes", action="store_true",
                    help="resume a last.pt written with other epochs, minutes, lr or batch (refused by default)")
    ap.add_argument("--finished-ok", action="store_true",
                    help="exit 0 when last.pt has already finished (default: say so and exit 3)")
    a = ap.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    if rank:  # one voice: the other ranks' lines would repeat rank 0's (their errors still reach stderr)
        sys.stdout = open(os.devnull, "w")
    ctx = start(step=a.model, profile=a.profile, data=a.data, run=a.run, seed=a.seed, quiet=bool(rank))
    run_args, changes = split_parameters([parse_parameter(p) for p in a.params], ctx.profile)
    if not (ctx.processed_dir() / "vocab.json").is_file():
        raise SystemExit(f"{ctx.processed_dir()}: no processed data; run notebooks 01 and 02 for --data {a.data} "
                         f"(python -m lib.series --only 01,02 --profile {ctx.profile.name} --data {a.data})")
    profile = ctx.profile.replace(**changes) if changes else ctx.profile
    if rank == 0 and profile.for_model(a.model).pretrain_minutes:
        demo_for(ctx.home, profile, ctx.seed)  # made (once) before the other processes wait on rank 0
    world = World.from_env()
    try:
        try:
            pre, result = train(ctx, a.model, world=world, allow_changes=a.allow_changes, finished_ok=a.finished_ok,
                                **run_args, **changes)
        except ResumeRefused as e:
            print(e, file=sys.stderr)
            return 3
        if world.main:
            settings = records.read_settings(ctx.out)
            print(f"{result.epochs_run} epochs ({result.epochs_this_session} this session, {result.wall_s / 60:.1f} "
                  f"min); best validation edit score "
                  f"{result.best_metric:.1f}; {settings['processes']} x batch {settings['train']['batch_size']} = "
                  f"{settings['images_per_step']} images per step -> {result.best_path}")
    finally:
        world.close()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("IM2LATEX_HEADLESS", "1")
    sys.exit(main())
