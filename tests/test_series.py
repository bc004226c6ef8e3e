"""The papermill series runner: order, outputs, failure report and --from resume (fixture notebooks)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lib.run.series import find_notebooks, parse_parameter, select
from tests.nbtools import make_notebook

ROOT = Path(__file__).resolve().parent.parent

WRITE = '''(ctx.out / "done.txt").write_text(f"{ctx.profile.name} {ctx.data} {ctx.run}")'''
RAISE_UNLESS_FIXED = '''import os
if not os.environ.get("FIXTURE_FIXED"):
    raise ValueError("fixture failure on purpose")'''


def run_series(home: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "IM2LATEX_HOME": str(home), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "lib.series", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def fixture_notebooks(tmp_path):
    nbs = tmp_path / "nbs"
    make_notebook(nbs / "01_first.ipynb", "first", [WRITE], root=ROOT)
    make_notebook(nbs / "02_second.ipynb", "second", [RAISE_UNLESS_FIXED, WRITE], root=ROOT)
    make_notebook(nbs / "03_third.ipynb", "third", [WRITE], root=ROOT)
    (nbs / "notes.ipynb").write_text("not numbered: ignored")
    return nbs


def test_find_and_select(fixture_notebooks):
    nbs = find_notebooks(fixture_notebooks)
    assert [n for n, _ in nbs] == ["01", "02", "03"]
    assert [n for n, _ in select(nbs, "2", None)] == ["02", "03"]
    assert [n for n, _ in select(nbs, None, "1,3")] == ["01", "03"]
    with pytest.raises(SystemExit, match="no notebook numbered 07"):
        select(nbs, "07", None)


def test_failure_names_notebook_and_from_resumes(fixture_notebooks, tmp_path):
    home = tmp_path / "home"
    args = ["--profile", "smoke", "--data", "demo", "--run", "t", "--notebooks", str(fixture_notebooks)]
    r = run_series(home, *args)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED" in r.stderr and "02_second.ipynb" in r.stderr and "cell" in r.stderr
    assert "fixture failure on purpose" in r.stderr and "--from 02" in r.stderr
    run = home / "outputs" / "t"
    assert (run / "first" / "done.txt").read_text() == "smoke demo t"
    assert not (run / "third").exists()          # stopped at the first failure
    log = json.loads((run / "series.json").read_text())
    assert [e["status"] for e in log["notebooks"]] == ["ok", "failed"]
    failed = nbformat.read(run / "notebooks" / "02_second.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in failed.cells for o in c.get("outputs", []))

    r = run_series(home, *args, "--from", "02", env_extra={"FIXTURE_FIXED": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert (run / "second" / "done.txt").exists() and (run / "third" / "done.txt").exists()
    assert "[02]" in r.stdout and "[03]" in r.stdout and "[01]" not in r.stdout
    executed = nbformat.read(run / "notebooks" / "03_third.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'profile = "smoke"' in injected[0].source


def test_parse_parameter():
    assert parse_parameter("epochs=3") == ("epochs", 3)
    assert parse_parameter("course_dir=/data/x") == ("course_dir", "/data/x")
    assert parse_parameter("arms='none,noise'") == ("arms", "none,noise")
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        parse_parameter("oops")


def test_unknown_source_refused(tmp_path):
    r = run_series(tmp_path, "--data", "nope")
    assert r.returncode != 0 and "nope" in r.stderr


SLEEP_WITH_CHILD = '''import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # like a DataLoader worker
(ctx.out / "pids.txt").write_text(f"{os.getpid()} {child.pid}")
time.sleep(300)'''


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its parent has not reaped it yet


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see processes (Linux)")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_stopped_series_leaves_no_kernel_running(tmp_path, sig):
    """tmux or a scheduler stops the runner's process group; the kernel (its own session) and its children
    must go too, and the runner says how to resume."""
    import signal
    import time

    nbs = tmp_path / "nbs"
    make_notebook(nbs / "01_first.ipynb", "first", [WRITE], root=ROOT)
    make_notebook(nbs / "02_slow.ipynb", "slow", [SLEEP_WITH_CHILD], root=ROOT)
    home = tmp_path / "home"
    env = {**os.environ, "IM2LATEX_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "lib.series", "--profile", "smoke", "--run", "t", "--notebooks",
                             str(nbs)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    pids_file = home / "outputs" / "t" / "slow" / "pids.txt"
    deadline = time.monotonic() + 120
    while not pids_file.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert pids_file.exists(), proc.communicate()
    time.sleep(0.5)
    kernel, child = map(int, pids_file.read_text().split())
    assert _alive(kernel) and _alive(child)
    os.killpg(proc.pid, getattr(signal, sig))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + getattr(signal, sig), out + err
    assert "INTERRUPTED" in err and "02_slow.ipynb" in err and "--from 02" in err
    deadline = time.monotonic() + 10
    while (_alive(kernel) or _alive(child)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(kernel) and not _alive(child)
    log = json.loads((home / "outputs" / "t" / "series.json").read_text())
    assert [e["status"] for e in log["notebooks"]] == ["ok", "interrupted"]


def test_the_try_it_notebook_runs_only_when_asked(fixture_notebooks):
    make_notebook(fixture_notebooks / "07_try_it.ipynb", "try", [WRITE], root=ROOT)
    nbs = find_notebooks(fixture_notebooks)
    assert [n for n, _ in select(nbs, None, None)] == ["01", "02", "03"]
    assert [n for n, _ in select(nbs, "2", None)] == ["02", "03"]
    assert [n for n, _ in select(nbs, None, "07")] == ["07"]
