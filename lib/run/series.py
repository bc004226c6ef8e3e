"""Run the numbered notebooks in order with papermill: `python -m lib.series --profile smoke --data demo`."""
from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path

from . import atomic
from .notebook import SOURCES, default_home, repo_root
from .profiles import FORCE_ENV, UnknownSetting, check_names, choose_profile, get_profile, \
    refuse_gpu_profile_without_cuda
from .progress import HEADLESS_ENV

NOTEBOOK_RE = re.compile(r"^(\d\d)_.*\.ipynb$")
EXTRAS = ("07",)  # notebooks run only when named with --only (07: the interactive "Try it" panel)
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # Ctrl-C; kill, a scheduler or tmux ending the session
_KERNELS: set = set()  # kernel managers of the notebooks running now


class SeriesInterrupted(BaseException):
    """A stop signal reached the runner (a BaseException, so no `except Exception` in between swallows it)."""


def _kernel_manager_class():
    """An AsyncKernelManager that records its kernels, so a stop signal can kill them with their children.

    Kernels talk over local sockets in the temp folder (IPC, not TCP on localhost: no port to find, nothing
    reachable from another user, and no "running over TCP without encryption" warning in the logs)."""
    import tempfile
    import uuid

    from jupyter_client import AsyncKernelManager
    from traitlets import default

    class TrackedKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc" if os.name == "posix" else "tcp"

        @default("ip")
        def _default_ip(self) -> str:
            if self.transport != "ipc":
                return "127.0.0.1"
            return os.path.join(tempfile.gettempdir(), f"im2latex-kernel-{uuid.uuid4().hex[:12]}")

        async def _launch_kernel(self, kernel_cmd, **kw):
            out = await super()._launch_kernel(kernel_cmd, **kw)
            _KERNELS.add(self)
            return out

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            _KERNELS.discard(self)
            await super()._async_cleanup_resources(restart)

    return TrackedKernelManager


def kill_kernels() -> int:
    """SIGKILL every running kernel's process group: the kernel and its DataLoader workers (a kernel runs
    in a session of its own, so a signal to the runner's group never reaches it). Returns how many."""
    killed = 0
    for km in list(_KERNELS):
        prov = getattr(km, "provisioner", None)
        pid = getattr(prov, "pid", None)
        pgid = getattr(prov, "pgid", None)
        try:
            if pgid:
                os.killpg(pgid, signal.SIGKILL)
            elif pid:
                os.kill(pid, signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            pass
        try:
            km.cleanup_connection_file()
            km.cleanup_ipc_files()
        except Exception:  # best effort: the kernel is gone either way
            pass
        _KERNELS.discard(km)
    return killed


@contextlib.contextmanager
def stop_signals():
    """While running notebooks, a stop signal kills the running kernel (no orphan keeps the GPU's memory)
    and raises SeriesInterrupted."""
    def stop(signum, frame):
        kill_kernels()
        raise SeriesInterrupted(signal.Signals(signum).name)

    previous = {}
    for name in STOP_SIGNALS:
        if hasattr(signal, name):
            sig = getattr(signal, name)
            previous[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        kill_kernels()


def find_notebooks(folder: Path) -> list[tuple[str, Path]]:
    """(number, path) of `NN_name.ipynb` files in numeric order."""
    found = [(m.group(1), p) for p in folder.iterdir() if (m := NOTEBOOK_RE.match(p.name))]
    return sorted(found)


def select(notebooks: list[tuple[str, Path]], start: str | None, only: str | None) -> list[tuple[str, Path]]:
    """Apply --from / --only; refuses numbers that match no notebook. Without --only, the series is every
    numbered notebook but the EXTRAS."""
    numbers = [n for n, _ in notebooks]
    if only:
        wanted = [f"{int(x):02d}" for x in only.split(",") if x.strip()]
        unknown = [w for w in wanted if w not in numbers]
        if unknown:
            raise SystemExit(f"--only: no notebook numbered {', '.join(unknown)} (have {', '.join(numbers)})")
        notebooks = [nb for nb in notebooks if nb[0] in wanted]
    else:
        notebooks = [nb for nb in notebooks if nb[0] not in EXTRAS]
    if start:
        start = f"{int(start):02d}"
        if start not in numbers:
            raise SystemExit(f"--from: no notebook numbered {start} (have {', '.join(numbers)})")
        notebooks = [nb for nb in notebooks if nb[0] >= start]
    return notebooks


def parse_parameter(text: str) -> tuple[str, object]:
    """`name=value` -> (name, value); the value is a Python literal when it parses as one, else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise SystemExit(f"-p: expected NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def check_parameters(chosen: list[tuple[str, Path]], parameters: dict) -> None:
    """Refuse, before any notebook runs, a `-p` name that no chosen notebook's parameters cell holds (papermill
    would only log a warning and run the default), naming the nearest parameter."""
    import papermill as pm

    if not parameters:
        return
    names = set()
    for _, path in chosen:
        names |= set(pm.inspect_notebook(str(path)))
    try:
        check_names(parameters, names, "notebook parameter")
    except UnknownSetting as e:
        raise SystemExit(f"-p: {e} (parameters of {', '.join(p.name for _, p in chosen)})") from None


def budget_lines(profile, numbers: list[str]) -> list[str]:
    """What the profile lets each training notebook spend, printed before the series starts (its minutes cap each
    run; a budget of epochs alone says so)."""
    def cap(p) -> str:
        if p.max_steps:
            cut = f"; capped at {p.max_minutes:g} min" if p.max_minutes else ""
            return f"{p.max_steps} optimiser steps{cut}"
        if p.max_minutes is None:
            return f"{p.epochs} epochs, no time cap"
        pre = f"; its first {p.pretrain_minutes:g} min on the demo set" if p.pretrain_minutes else ""
        return f"at most {p.max_minutes:g} min ({p.epochs} epochs{pre})"

    lines = []
    for number, model in (("03", "model1"), ("04", "model2")):
        if number in numbers:
            lines.append(f"  {number} {model}: {cap(profile.for_model(model))}")
    if "05" in numbers:
        minutes = "no time cap" if profile.ablation_minutes is None else f"at most {profile.ablation_minutes:g} min"
        lines.append(f"  05 ablation: 7 arms, each {minutes} ({profile.ablation_epochs} epochs) plus its scoring")
    return ["training budget:"] + lines if lines else []


def run_series(profile: str = "auto", data: str = "demo", run: str = "", start: str | None = None,
               only: str | None = None, notebooks_dir: Path | None = None, log_output: bool = False,
               extra_parameters: dict | None = None, force: bool = False) -> int:
    """Execute the selected notebooks; returns 0, or 1 at the first failing notebook. The gpu profile without
    CUDA is refused unless `force`."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    if data not in SOURCES:
        raise SystemExit(f"--data: unknown source {data!r} (choose {', '.join(SOURCES)})")
    root = repo_root()
    notebooks_dir = Path(notebooks_dir or root / "notebooks").resolve()
    profile, why = choose_profile(profile)
    if force:
        os.environ[FORCE_ENV] = "1"  # the kernels inherit it
    try:
        refuse_gpu_profile_without_cuda(profile)
    except RuntimeError as e:
        raise SystemExit(str(e)) from None
    run = run or f"{profile}-{data}"
    run_dir = default_home(root) / "outputs" / run
    out_dir = run_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = select(find_notebooks(notebooks_dir), start, only)
    if data == "pages" and any(n != "01" for n, _ in chosen):  # crops for labelling: nothing to clean or train
        chosen = [(n, p) for n, p in chosen if n == "01"]
        print("data=pages: notebook 01 only (your labelImg crops for the teaching assistant; with the labels back, "
              "run the series with --data course)", flush=True)
    if not chosen:
        print(f"no notebooks to run in {notebooks_dir}")
        return 1
    check_parameters(chosen, extra_parameters or {})
    os.environ[HEADLESS_ENV] = "1"  # the kernels inherit it: plain progress lines in the logs
    # one runtime holds the whole series: no Drive (a kernel could not ask to mount it), unless -p drive=True
    params = {"profile": profile, "data": data, "run": run, "drive": False, **(extra_parameters or {})}
    print(f"series: profile={profile} ({why}) data={data} run={run} -> {run_dir}", flush=True)
    for line in budget_lines(get_profile(profile).for_data(data), [n for n, _ in chosen]):
        print(line, flush=True)
    log: list[dict] = []
    t_series = time.monotonic()
    resume = f"python -m lib.series --profile {profile} --data {data} --run {run}"
    for number, path in chosen:
        t0 = time.monotonic()
        out_path = out_dir / path.name
        print(f"[{number}] {path.name} ...", flush=True)
        entry = {"notebook": path.name, "status": "ok"}
        try:
            with stop_signals():
                pm.execute_notebook(str(path), str(out_path), parameters=params, kernel_name="python3",
                                    cwd=str(path.parent), progress_bar=False, log_output=log_output,
                                    kernel_manager_class=_kernel_manager_class())
        except SeriesInterrupted as e:
            entry.update(status="interrupted", signal=str(e), seconds=round(time.monotonic() - t0, 1))
            log.append(entry)
            atomic.write_json(run_dir / "series.json", {"profile": profile, "data": data, "run": run,
                                                         "notebooks": log})
            print(f"[{number}] INTERRUPTED by {e} after {entry['seconds']:.0f}s: {path.name}; its kernel was "
                  f"stopped\nresume with: {resume} --from {number}", file=sys.stderr, flush=True)
            return 128 + int(getattr(signal, str(e), signal.SIGTERM))
        except PapermillExecutionError as e:
            entry.update(status="failed", cell=e.exec_count, error=f"{e.ename}: {e.evalue}")
        except Exception as e:  # kernel died, notebook unreadable, ...
            entry.update(status="failed", cell=None, error=f"{type(e).__name__}: {e}")
        entry["seconds"] = round(time.monotonic() - t0, 1)
        log.append(entry)
        atomic.write_json(run_dir / "series.json", {"profile": profile, "data": data, "run": run,
                                                     "notebooks": log})
        if entry["status"] != "ok":
            where = f"cell {entry['cell']}" if entry["cell"] is not None else "before any cell ran"
            print(f"[{number}] FAILED after {entry['seconds']:.0f}s: {path.name}, {where}: {entry['error']}\n"
                  f"executed copy: {out_path}\n"
                  f"fix it, then resume with: {resume} --from {number}", file=sys.stderr, flush=True)
            return 1
        print(f"[{number}] done in {entry['seconds']:.0f}s", flush=True)
    print(f"series done: {len(chosen)} notebooks in {time.monotonic() - t_series:.0f}s -> {run_dir}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.series", description=__doc__)
    ap.add_argument("--profile", default="auto", help="smoke, cpu, gpu or auto (gpu with CUDA, else cpu)")
    ap.add_argument("--data", default="demo", choices=SOURCES, help="data source")
    ap.add_argument("--run", default="", help="run name: outputs/<run>/ (default <profile>-<data>)")
    ap.add_argument("--from", dest="start", metavar="NN", help="start at notebook NN (resume)")
    ap.add_argument("--only", metavar="NN,NN", help="run only these notebooks")
    ap.add_argument("--notebooks", type=Path, help="folder of NN_*.ipynb (default notebooks/)")
    ap.add_argument("--log-output", action="store_true", help="stream the notebooks' output here")
    ap.add_argument("--force", action="store_true", help="run the gpu profile on a machine without CUDA all the same")
    ap.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                    help="another notebook parameter, e.g. -p course_dir=/root/autodl-tmp/course (repeatable)")
    a = ap.parse_args(argv)
    extra = dict(parse_parameter(p) for p in a.parameter)
    return run_series(a.profile, a.data, a.run, a.start, a.only, a.notebooks, a.log_output, extra, a.force)


if __name__ == "__main__":
    sys.exit(main())
