"""Get im2latex-100k: `python -m lib.im2latex fetch [--dest DIR] [--url BASE] [--render [--formulas FILE]]`.

Without --render it downloads the processed dataset from its public record (BASE: the formula list, the three
split lists and the image archive), with a progress line, resuming a download that broke off, checking each
file's SHA-256 where one is known (`--sha256 NAME=HEX`, and always against the stamp of an earlier fetch) and the
archive's own CRCs while extracting. Everything lands in a temporary folder that replaces <dest> only when
complete: <dest>/im2latex_formulas.norm.lst, im2latex_{train,validate,test}_filter.lst,
formula_images_processed/ (the layout `lib/data/im2latex.py` reads).

With --render the images are typeset here by LaTeX (lib/data/render.py) from a formula list, as the dataset
itself was made (pdflatex, article 12pt, display math, 200 dpi, cropped to the ink): from <dest>'s own lists
when they are there, else from --formulas (e.g. ../shared/data/im2latex/val.formulas.norm.txt), split
80/10/10 by a seeded shuffle of the formula indices. A formula TeX cannot set is left out of the split lists
and counted, with its reason, in <dest>/render_report.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
import time
import urllib.parse
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from ..run import atomic
from .crohme_fetch import FetchError, download
from .im2latex import FORMULA_LISTS, SPLIT_LISTS, find_layout, has_lists, read_formulas, read_split_list
from .render import IM2LATEX_STYLE, render_folder
from .staging import staged_dir

BASE_URL = "https://im2markup.yuntiandeng.com/data/"  # the processed im2latex-100k (Deng et al.)
LISTS = ("im2latex_formulas.norm.lst", "im2latex_train_filter.lst", "im2latex_validate_filter.lst",
         "im2latex_test_filter.lst")
ARCHIVE = "formula_images_processed.tar.gz"
IMAGES = "formula_images_processed"
STAMP = "fetched.json"
SPLIT_SHARES = {"train": 0.8, "dev": 0.1, "test": 0.1}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_complete(dest: Path) -> bool:
    """True when `dest` holds a fetched or rendered dataset whose files still match the stamp."""
    stamp = dest / STAMP
    if not stamp.is_file() or not has_lists(dest):
        return False
    files = json.loads(stamp.read_text(encoding="utf-8")).get("sha256", {})
    return all((dest / n).is_file() and sha256(dest / n) == h for n, h in files.items())


def _extract(archive: Path, into: Path) -> int:
    """The archive's PNGs into `into/formula_images_processed/` (flattened); FetchError when damaged."""
    out = into / IMAGES
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    try:
        with tarfile.open(archive) as t:
            for m in t:
                name = PurePosixPath(m.name)
                if not m.isfile() or name.suffix.lower() != ".png":
                    continue
                if ".." in name.parts or name.is_absolute():
                    raise FetchError(f"{archive}: unsafe member name {m.name!r}")
                (out / name.name).write_bytes(t.extractfile(m).read())
                n += 1
    except (tarfile.TarError, zlib.error, OSError, EOFError) as e:
        raise FetchError(f"{archive}: a damaged archive ({e}); delete it and fetch again") from None
    if not n:
        raise FetchError(f"{archive}: holds no PNG images; expected im2latex-100k's {ARCHIVE}")
    return n


def fetch(dest: str | Path, base_url: str = BASE_URL, known: dict[str, str] | None = None) -> dict:
    """Download the lists and the image archive from `base_url` into `dest` (all or nothing); the stamp."""
    dest = Path(dest).expanduser().resolve()
    if is_complete(dest):
        print(f"im2latex-100k already in {dest}")
        return json.loads((dest / STAMP).read_text(encoding="utf-8"))
    cache = dest.parent / ".im2latex-download"
    cache.mkdir(parents=True, exist_ok=True)
    base = base_url if base_url.endswith("/") else base_url + "/"
    got = {}
    for name in LISTS + (ARCHIVE,):
        path = cache / name
        if not path.is_file():
            path = download(urllib.parse.urljoin(base, name), cache / (name + ".part"))
        digest = sha256(path)
        if known and name in known and known[name].lower() != digest:
            path.unlink()
            raise FetchError(f"{name}: SHA-256 {digest} is not the expected {known[name]}: the download was "
                             "damaged or the record changed; it was deleted, run the same command again")
        got[name] = (path, digest)
    t0 = time.monotonic()
    with staged_dir(dest) as tmp:
        for name in LISTS:
            (tmp / name).write_bytes(got[name][0].read_bytes())
        images = _extract(got[ARCHIVE][0], tmp)
        stamp = {"source": base, "images": images, "sha256": {n: got[n][1] for n in LISTS},
                 "archive_sha256": got[ARCHIVE][1], "fetched": time.strftime("%Y-%m-%d %H:%M:%S")}
        find_layout(tmp)
        atomic.write_json(tmp / STAMP, stamp)
    for path, _ in got.values():
        path.unlink(missing_ok=True)
    cache.rmdir() if not any(cache.iterdir()) else None
    print(f"im2latex-100k in {dest} ({time.monotonic() - t0:.0f} s to extract): {images} images")
    return stamp


def split_indices(n: int, seed: int = 0) -> dict[str, list[int]]:
    """Formula indices 80/10/10 into train/dev/test by a seeded shuffle (each sorted)."""
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(SPLIT_SHARES["train"] * n), int((SPLIT_SHARES["train"] + SPLIT_SHARES["dev"]) * n)
    return {"train": sorted(order[:a].tolist()), "dev": sorted(order[a:b].tolist()), "test": sorted(order[b:].tolist())}


def render_dataset(dest: str | Path, formulas_file: str | Path | None = None, limit: int | None = None,
                   seed: int = 0, workers: int = 2, engine: str = "latex") -> dict:
    """Typeset the dataset's images with LaTeX into `dest` (all or nothing): from its own lists when present,
    else from `formulas_file` split 80/10/10; the render report."""
    dest = Path(dest).expanduser().resolve()
    own = has_lists(dest)
    src = next((dest / n for n in FORMULA_LISTS if (dest / n).is_file()), None) if own else None
    src = src or (Path(formulas_file) if formulas_file else None)
    if src is None or not Path(src).is_file():
        raise FetchError(f"--render needs a formula list: {dest} has none and --formulas {formulas_file or '(none)'} "
                         "is not a file")
    formulas = read_formulas(src)
    if own:
        lists = {s: next((dest / n for n in SPLIT_LISTS[s] if (dest / n).is_file()), None) for s in SPLIT_SHARES}
        wanted = {s: read_split_list(p)[0] for s, p in lists.items() if p is not None}
        splits = {s: [i for _, i in v] for s, v in wanted.items()}
    else:
        splits = split_indices(len(formulas), seed)
    if limit:
        splits = {s: v[:max(1, int(limit * SPLIT_SHARES[s]))] for s, v in splits.items()}
    todo = sorted({i for v in splits.values() for i in v if 0 <= i < len(formulas) and formulas[i]})
    with staged_dir(dest) as tmp:
        report = render_folder([formulas[i] for i in todo], tmp / IMAGES, engine, IM2LATEX_STYLE, workers,
                               names=[f"{i:07d}" for i in todo], truths=False)  # the truths: the formula list
        (tmp / IMAGES / "render_report.json").rename(tmp / "render_report.json")
        failed = {int(f["name"]) for f in report["failures"]}
        (tmp / LISTS[0]).write_text("".join(f + "\n" for f in formulas), encoding="utf-8")
        for split, name in zip(("train", "dev", "test"), LISTS[1:]):
            lines = [f"{i:07d}.png {i}\n" for i in splits.get(split, []) if i in set(todo) - failed]
            (tmp / name).write_text("".join(lines), encoding="utf-8")
        stamp = {"source": f"rendered from {Path(src).name}", "engine": report["engine"], "images": report["rendered"],
                 "failed": report["failed"], "split": "own lists" if own else f"80/10/10, seed {seed}",
                 "sha256": {n: sha256(tmp / n) for n in LISTS}, "fetched": time.strftime("%Y-%m-%d %H:%M:%S")}
        atomic.write_json(tmp / STAMP, stamp)
    print(f"im2latex images typeset by {report['engine']} into {dest}: {report['rendered']} of {report['formulas']} "
          f"formulas ({report['formulas_per_s']} formulas/s); {report['failed']} failed, by reason: "
          f"{report['reasons']} (render_report.json)")
    return report


def main(argv: list[str] | None = None) -> int:
    from ..run.notebook import default_home, repo_root  # lazy: torch, which fetching does not need

    ap = argparse.ArgumentParser(prog="python -m lib.im2latex", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download im2latex-100k (or typeset its images with --render)")
    f.add_argument("--dest", default=None, help="default: <data>/raw/im2latex")
    f.add_argument("--url", default=BASE_URL, help="the folder holding the lists and the image archive")
    f.add_argument("--sha256", action="append", default=[], metavar="NAME=HEX", help="a file's known checksum")
    f.add_argument("--render", action="store_true", help="typeset the images here with LaTeX instead")
    f.add_argument("--formulas", default=None, help="--render: a formula list, when <dest> has none")
    f.add_argument("--limit", type=int, default=None, help="--render: about N formulas in all (a quick set)")
    f.add_argument("--engine", default="latex", choices=("latex", "mathtext"), help="--render: the typesetter")
    f.add_argument("--seed", type=int, default=0, help="--render: seed of the 80/10/10 split")
    a = ap.parse_args(argv)
    dest = Path(a.dest) if a.dest else default_home(repo_root()) / "data" / "raw" / "im2latex"
    try:
        if a.render:
            render_dataset(dest, a.formulas, a.limit, a.seed, engine=a.engine)
        else:
            fetch(dest, a.url, dict(s.split("=", 1) for s in a.sha256))
    except (FetchError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
