"""Notebook start-up: where we run (local, Colab, AutoDL), folders of this run, seeds, device."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .precision import pick_device
from .profiles import Profile, choose_profile, get_profile, refuse_gpu_profile_without_cuda

HOME_ENV = "IM2LATEX_HOME"      # where data/ and outputs/ live (default: the repository)
RUN_ENV = "IM2LATEX_RUN"        # default run name when the notebook's `run` parameter is empty
SOURCES = ("demo", "crohme", "course", "im2latex", "pages")
AUTODL_TMP = Path("/root/autodl-tmp")
DRIVE_HOME = Path("/content/drive/MyDrive/im2latex")
# import name -> pip name; torch/torchvision are never installed here (Colab has them; never pin them)
# (a minimum version where an API the bundle calls is newer than what Colab preinstalls: albumentations 2's
# `std_range` and `Compose(seed=)`)
NEEDED = {"albumentations": "albumentations>=2.0.8", "papermill": "papermill", "nbval": "nbval",
          "editdistance": "editdistance", "nltk": "nltk", "tqdm": "tqdm", "matplotlib": "matplotlib",
          "ipywidgets": "ipywidgets", "ipycanvas": "ipycanvas"}


def repo_root() -> Path:
    """The repository root (the folder holding lib/)."""
    return Path(__file__).resolve().parents[2]


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def missing_packages(needed: dict[str, str] = NEEDED) -> list[str]:
    """Pip requirements of the needed packages that cannot be imported or are older than the minimum named."""
    return [pip for mod, pip in needed.items() if importlib.util.find_spec(mod) is None or _too_old(pip)]


def _too_old(requirement: str) -> bool:
    """`name>=X.Y.Z` installed at an older version (numeric parts compared)."""
    import importlib.metadata as md

    name, sep, minimum = requirement.partition(">=")
    if not sep:
        return False
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        return True

    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:3] if p.isdigit())

    return parts(have) < parts(minimum)


def install_missing(needed: dict[str, str] = NEEDED) -> list[str]:
    """pip-install only what is missing (unpinned, never torch); returns what was installed."""
    missing = missing_packages(needed)
    if missing:
        print("installing:", " ".join(missing), flush=True)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *missing])
    return missing


TEX_APT = ("texlive-latex-base", "texlive-fonts-recommended", "poppler-utils")


def install_tex(run=subprocess.check_call) -> bool:
    """On Colab: apt-get the LaTeX the renderer uses (pdflatex, pdftoppm) when it is missing (about a minute);
    True when something was installed. Elsewhere the README's one apt-get line does it."""
    if shutil.which("pdflatex") and shutil.which("pdftoppm"):
        return False
    print("installing LaTeX for the renderer (about a minute):", " ".join(TEX_APT), flush=True)
    run(["apt-get", "-qq", "update"])
    run(["apt-get", "-qq", "install", "-y", *TEX_APT])
    return True


def default_home(root: Path, drive: bool | None = False) -> Path:
    """$IM2LATEX_HOME, else Drive (Colab, when asked; `drive=None`: on Colab, yes), else /root/autodl-tmp
    (AutoDL), else the repo. On Colab each notebook opened from GitHub gets a runtime of its own: only Drive carries
    notebook 01's data to notebook 02 (`python -m lib.series` in one runtime needs no Drive)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser().resolve()
    if drive is None:
        drive = in_colab()
    if drive and in_colab():
        from google.colab import drive as gdrive  # type: ignore

        gdrive.mount("/content/drive")
        return DRIVE_HOME
    if AUTODL_TMP.is_dir():
        return AUTODL_TMP / "im2latex"
    return root


# the profile settings that make a data set (steps 01-02); a processed set is named for them (`data_key`)
DATA_SETTINGS = ("demo_pages", "demo_mix", "demo_tex", "crohme_train", "crohme_test", "dev_fraction",
                 "crohme_symbol_height", "crohme_dev_by", "crohme_parts", "crohme_composed", "im2latex_train",
                 "im2latex_test", "max_tokens", "buckets")


def data_key(profile: Profile, source: str, seed: int) -> str:
    """The folder name of a data set made with this profile and seed: `<profile>-s<seed>` (`cpu-s0`), with a short
    hash of the data settings when they differ from that profile's own for `source` (a changed `max_tokens`, say),
    so two profiles, seeds or recipes never overwrite each other's data."""
    name = f"{profile.name}-s{seed}"
    mine = {k: getattr(profile, k) for k in DATA_SETTINGS}
    try:
        own = get_profile(profile.name).for_data(source)
    except ValueError:  # a profile made in code, under a name of its own
        own = None
    if own is not None and all(getattr(own, k) == v for k, v in mine.items()):
        return name
    return f"{name}-{hashlib.sha1(json.dumps(mine, sort_keys=True, default=str).encode()).hexdigest()[:6]}"


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's random streams."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Context:
    """Everything a notebook needs to know about this run."""

    root: Path
    home: Path
    profile: Profile
    data: str
    run: str
    step: str
    device: str
    seed: int

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def data_key(self) -> str:
        """What made this run's data (`cpu-s0`): interim and processed sets live under that name."""
        return data_key(self.profile, self.data, self.seed)

    def raw_dir(self, source: str | None = None) -> Path:
        """The raw source: the course's and CROHME's files as given; the generated demo pages per pages and seed."""
        source = source or self.data
        if source == "demo":
            return self.data_dir / "raw" / "demo" / f"p{self.profile.demo_pages}-s{self.seed}"
        return self.data_dir / "raw" / source

    def interim_dir(self, source: str | None = None) -> Path:
        return self.data_dir / "interim" / (source or self.data) / self.data_key

    def processed_dir(self, source: str | None = None) -> Path:
        """data/processed/<source>/<profile>-s<seed>: a smoke run never overwrites a cpu run's set, nor seed 1
        seed 0's."""
        return self.data_dir / "processed" / (source or self.data) / self.data_key

    @property
    def run_dir(self) -> Path:
        return self.home / "outputs" / self.run

    @property
    def out(self) -> Path:
        """This notebook's own folder under the run (created on start)."""
        return self.run_dir / self.step

    def step_dir(self, step: str) -> Path:
        """Another step's folder under this run (to read what an earlier notebook wrote)."""
        return self.run_dir / step

    def savefig(self, fig, name: str, dpi: int = 110) -> Path:
        """Save a matplotlib figure as `<out>/<name>.png` (the notebook still shows it)."""
        path = self.out / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        return path


def start(step: str, profile: str = "auto", data: str = "demo", run: str = "", seed: int = 0,
          drive: bool | None = False, root: str | Path | None = None, quiet: bool = False) -> Context:
    """Resolve the profile, folders and device of a notebook; on Colab install what is missing."""
    if data not in SOURCES:
        raise ValueError(f"unknown data source {data!r}: choose one of {', '.join(SOURCES)}")
    root = Path(root).resolve() if root else repo_root()
    if in_colab():
        install_missing()
        install_tex()
    name, why = choose_profile(profile)
    refuse_gpu_profile_without_cuda(name)
    prof = get_profile(name).for_data(data)
    run = run or os.environ.get(RUN_ENV, "") or f"{prof.name}-{data}"
    home = default_home(root, drive=drive)
    ctx = Context(root=root, home=home, profile=prof, data=data, run=run, step=step,
                  device=str(pick_device()), seed=seed)
    ctx.out.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    if not quiet:
        print(f"profile={prof.name} ({why}) data={data} run={run} device={ctx.device}\n"
              f"data: {ctx.data_dir}\noutputs: {ctx.out}", flush=True)
    return ctx
