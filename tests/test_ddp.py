"""Data-parallel training (lib/train.py, lib/run/distributed.py) on this CPU: 2 processes with gloo.

- the bucket sampler deals each rank a disjoint, equal share of every epoch;
- 2 processes at batch B take the same optimisation steps as one process given both batches (the mean of the two
  batches' losses: what one batch of 2B is when the token counts are equal);
- `torchrun --nproc_per_node=2 -m lib.train` writes one set of outputs and a best.pt that evaluation reads;
- a killed rank ends the run with an error (never a hang), and the command resumes it, on one process.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lib.data.dataset import BucketBatchSampler, FormulaDataset, collate, load_vocab
from lib.data.vocab import PAD_ID
from lib.models import checkpoint
from lib.run.distributed import World, timeout_s
from lib.run.profiles import get_profile
from lib.training.loop import prepare
from tests.ddp_steps import STEP_SETTINGS
from tests.fixtures import make_processed_dataset

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def env(home: Path, **extra) -> dict:
    return {**os.environ, "IM2LATEX_HOME": str(home), "IM2LATEX_HEADLESS": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT), **extra}


def test_each_rank_gets_a_disjoint_equal_share_of_every_epoch():
    sizes = [(160, 32)] * 13 + [(320, 48)] * 7 + [(640, 64)] * 3
    one = BucketBatchSampler(sizes, 4, shuffle=True, seed=3)
    ranks = [BucketBatchSampler(sizes, 4, shuffle=True, seed=3, rank=r, world=2) for r in range(2)]
    for epoch in (0, 1):
        for s in (one, *ranks):
            s.set_epoch(epoch)
        shares = [s.batches() for s in ranks]
        assert len(shares[0]) == len(shares[1]) == len(ranks[0]) == len(one.batches()) // 2
        seen = [i for share in shares for b in share for i in b]
        assert len(seen) == len(set(seen))                       # no image twice in an epoch
        dealt = [b for pair in zip(*shares) for b in pair]
        assert dealt == one.batches()[:len(dealt)]               # the one-process order, dealt round-robin
    again = BucketBatchSampler(sizes, 4, shuffle=True, seed=3, rank=1, world=2)
    again.set_epoch(1)
    assert again.batches() == shares[1]                          # reproducible for a seed
    with pytest.raises(ValueError, match="rank 2"):
        BucketBatchSampler(sizes, 4, shuffle=True, rank=2, world=2)


def test_the_one_process_world_does_nothing():
    w = World.from_env()
    assert (w.rank, w.size, w.main, w.distributed) == (0, 1, True, False)
    assert w.agree(12.5, False) == (12.5, False) and w.share({"a": 1}) == {"a": 1}


def test_the_collective_timeout_is_read_and_checked(monkeypatch):
    monkeypatch.setenv("IM2LATEX_DDP_TIMEOUT", "42")
    assert timeout_s() == 42.0
    monkeypatch.setenv("IM2LATEX_DDP_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="IM2LATEX_DDP_TIMEOUT"):
        timeout_s()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_processed_dataset(tmp_path_factory.mktemp("ddp") / "processed", n_train=24, n_dev=4, n_test=4)


@pytest.mark.parametrize("model_name", ["model2", "model1"])
def test_two_processes_step_as_one_process_with_both_batches(data, tmp_path, model_name):
    steps, batch = 3, 4
    out = tmp_path / "ddp"
    proc = subprocess.run([*TORCHRUN, str(ROOT / "tests" / "ddp_steps.py"), str(data), str(out), str(steps),
                           str(batch), model_name], env=env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ddp = torch.load(out / "params.pt")

    # one process, the same start, each step given rank 0's and rank 1's batches of that step
    profile = get_profile("smoke").replace(batch_size=batch, **STEP_SETTINGS)
    run = prepare(model_name, data, tmp_path / "one", profile, seed=0, epochs=100, max_minutes=float("inf"))
    ds = FormulaDataset(data, "train", load_vocab(data))
    shares = []
    for r in range(2):
        s = BucketBatchSampler(ds.sizes(), batch, shuffle=True, seed=0, rank=r, world=2)
        s.set_epoch(0)
        shares.append(s.batches())
    model = run.model.train()
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    for k in range(steps):
        losses = []
        for share in shares:
            b = collate([ds[i] for i in share[k]])
            logits = model(b["images"], b["tgt"][:, :-1], b["mask"])
            losses.append(F.cross_entropy(logits.transpose(1, 2), b["tgt"][:, 1:], ignore_index=PAD_ID))
        run.opt.zero_grad()
        (sum(losses) / 2).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), run.cfg.grad_clip)
        run.opt.step()
    one = dict(model.named_parameters())
    assert ddp.keys() == one.keys()
    moved = max(float((one[k] - start[k]).detach().abs().max()) for k in one)
    worst = max(float((ddp[k] - one[k]).detach().abs().max()) for k in ddp)
    assert moved > 1e-3  # the steps changed the weights: the comparison is of trained weights
    assert worst < 1e-5, f"DDP parameters differ from one process by {worst} (the steps moved them {moved})"



def smoke_home(home: Path, data: Path) -> None:
    """A home whose demo data is the fixture set (what notebooks 01-02 would have written)."""
    target = home / "data" / "processed" / "demo" / "smoke-s0"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(data, target_is_directory=True)


def torchrun_train(home: Path, *extra: str, procs: int = 2, **env_extra) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
           "-m", "lib.train", "--model", "model2", "--data", "demo", "--profile", "smoke", "--run-name", "ddp", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env=env(home, **env_extra), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_a_two_process_run_writes_one_set_of_outputs_that_evaluation_reads(data, tmp_path):
    from lib.evaluation.compare import check_data
    from lib.models.checkpoint import load_model
    from lib.training.validation import dev_scores

    smoke_home(tmp_path, data)
    proc = torchrun_train(tmp_path, "-p", "epochs=2", "-p", "max_minutes=inf")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-4000:]
    run_dir = tmp_path / "outputs" / "ddp" / "model2"
    assert out.count("epoch 1: train loss") == 1 and out.count("epoch 2: train loss") == 1, out[-3000:]  # rank 0
    assert "2 processes x batch 8 = 16 images per step" in out
    model, vocab, ckpt = load_model(run_dir / "best.pt", "cpu")
    assert ckpt.config["processes"] == 2
    processed = tmp_path / "data" / "processed" / "demo" / "smoke-s0"
    assert check_data([("model2", run_dir / "best.pt")], processed) == []  # notebook 06's check: its own data
    scores = dev_scores(run_dir / "best.pt", processed)                    # and it decodes and scores
    assert scores["n"] == 4 and 0.0 <= scores["edit_score"] <= 100.0
    lines = (run_dir / "log_epochs.csv").read_text().strip().splitlines()
    assert len(lines) == 3  # a header and one row per epoch: written once, not once per rank


def rank_pid(parent: int, rank: int) -> int | None:
    """The pid of torchrun's worker with RANK=rank (read from /proc)."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            environ = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and f"IM2LATEX_TEST_PARENT={parent}".encode() in environ:
            return int(d.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find a rank's process")
def test_a_killed_rank_ends_the_run_and_the_command_resumes_it(data, tmp_path):
    smoke_home(tmp_path, data)
    run_dir = tmp_path / "outputs" / "ddp" / "model2"
    marker = str(os.getpid())
    proc = torchrun_train(tmp_path, "-p", "epochs=50", "-p", "max_minutes=inf", "-p", "checkpoint_minutes=0.002",
                          IM2LATEX_DDP_TIMEOUT="20", IM2LATEX_TEST_PARENT=marker)
    deadline = time.monotonic() + 240
    while not (run_dir / "log_epochs.csv").exists() or \
            len((run_dir / "log_epochs.csv").read_text().splitlines()) < 2:  # an epoch done: last.pt written
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()[-3000:]
        time.sleep(0.5)
    pid = rank_pid(int(marker), 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, out[-3000:]
    assert time.monotonic() - t0 < 60  # ended, well within the collective timeout plus start-up
    assert (run_dir / "last.pt").exists()
    # the kill lands after 1 to ~10 epochs (an epoch takes ~0.05 s): resume for one epoch more than last.pt holds
    done = checkpoint.load(run_dir / "last.pt", "cpu").train_state["epoch"]
    assert done >= 1
    # the same command resumes it, here on one process (`python -m lib.train`)
    again = subprocess.run([sys.executable, "-m", "lib.train", "--model", "model2", "--data", "demo", "--profile",
                            "smoke", "--run-name", "ddp", "-p", f"epochs={done + 1}", "-p", "max_minutes=inf",
                            "--allow-changes"],
                           cwd=ROOT, env=env(tmp_path), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "resuming from" in again.stdout and "written by 2 processes, now 1" in again.stdout
    assert f"epoch {done + 1}:" in again.stdout  # it trained the one epoch left
    rows = (run_dir / "log_epochs.csv").read_text().strip().splitlines()
    assert len(rows) == done + 2  # header + every epoch once: those before the kill (trimmed to last.pt) + one
    assert f"resuming with changed settings: epochs 50 -> {done + 1}" in again.stdout


def test_the_command_line_refuses_a_misspelt_parameter_and_builds_torchruns_line(tmp_path, monkeypatch):
    from lib.run.notebook import start
    from lib.run.profiles import UnknownSetting
    from lib.train import processes_for, split_parameters, torchrun_command

    monkeypatch.setenv("IM2LATEX_HOME", str(tmp_path))
    ctx = start(step="model2", profile="smoke", data="demo", run="r", seed=3, quiet=True)
    run_args, changes = split_parameters([("epochs", 2), ("lr", 1e-3)], ctx.profile)
    assert run_args == {"epochs": 2} and changes == {"lr": 1e-3}
    with pytest.raises(UnknownSetting, match="max_minutes"):
        split_parameters([("max_minutess", 3)], ctx.profile)
    cmd = torchrun_command(ctx, "model2", 4, epochs=2, lr=1e-3)
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert cmd[cmd.index("--run-name") + 1] == "r" and cmd[cmd.index("--seed") + 1] == "3"
    assert "epochs=2" in cmd and "lr=0.001" in cmd
    assert processes_for(None) == max(1, torch.cuda.device_count())  # every visible GPU; one on a CPU
    assert processes_for(1) == 1
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="gpus=2"):
            processes_for(2)
