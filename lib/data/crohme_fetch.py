"""Fetch the public CROHME 2016 package: `python -m lib.crohme fetch [--dest DIR] [--url URL | --archive FILE]`.

The package (InkML with ground truth) holds the CROHME 2014 training set, the 2014 test set and the 2016 test
set; a public copy is the GitHub repository vndee/offline-crohme (folder CROHME_labeled_2016/). This
downloads it with a progress line, resumes a download that broke off, checks every set's file count and the
archive's own checksums (the package publishes no checksum of its own), and extracts the three sets as

    <dest>/train/      TrainINKML          8836 files (HAMEX, KAIST, MathBrush, MfrDB, expressmatch, extension)
    <dest>/test2014/   TestEM2014GT         986 files
    <dest>/test2016/   TEST2016_INKML_GT   1147 files

(the layout of ../shared/data/crohme, plus test2016/). A second call finds the data and returns. Nothing is
left half-written: the sets are extracted into a temporary folder that replaces <dest> only when complete.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..run import atomic
from ..run.progress import progress
from .staging import staged_dir

PACKAGE_URL = "https://github.com/vndee/offline-crohme/archive/refs/heads/master.zip"
# our folder name -> (the package's folder name, files in it)
SETS = {"train": ("TrainINKML", 8836), "test2014": ("TestEM2014GT", 986), "test2016": ("TEST2016_INKML_GT", 1147)}
STAMP = "fetched.json"
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """The one message the user sees: what failed and what to do."""


def _what_to_do(url: str) -> str:
    return (f"download {url} by hand (a browser works), then run: "
            f"python -m lib.crohme fetch --archive <the downloaded file>")


def is_complete(dest: Path, expected: dict[str, int]) -> bool:
    """True when `dest` holds every set with its expected number of InkML files (and our stamp)."""
    if not (dest / STAMP).is_file():
        return False
    stamp = json.loads((dest / STAMP).read_text(encoding="utf-8"))
    return all(stamp.get("counts", {}).get(name) == n and (dest / name).is_dir() for name, n in expected.items())


def _open(url: str, have: int, timeout: float):
    """(a readable stream from byte `have` on, its total size or None, whether it resumes)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":  # a local file (tests, a mirror on a shared disk): resume by seeking
        path = Path(urllib.request.url2pathname(parsed.path))
        if not path.is_file():
            raise FetchError(f"cannot download {url}: no such file; {_what_to_do(PACKAGE_URL)}")
        stream = open(path, "rb")
        stream.seek(min(have, path.stat().st_size))
        return stream, path.stat().st_size, have > 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    response = urllib.request.urlopen(request, timeout=timeout)
    resumed = have > 0 and response.status == 206  # else the server ignored the range: start again
    length = response.headers.get("Content-Length")
    total = None if length is None else int(length) + (have if resumed else 0)
    return response, total, resumed


def download(url: str, part: Path, timeout: float = 60.0) -> Path:
    """`url` into `part`, resuming what `part` already holds; the finished file (beside it, without .part)."""
    done = part.with_suffix("")
    have = part.stat().st_size if part.exists() else 0
    try:
        stream, total, resumed = _open(url, have, timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the range starts at the end: the file is complete
            part.rename(done)
            return done
        raise FetchError(f"cannot download {url}: HTTP {e.code} {e.reason}; {_what_to_do(url)}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise FetchError(f"cannot download {url} ({reason}): no network here? {_what_to_do(url)}") from None
    have = have if resumed else 0
    if resumed:
        print(f"resuming {url} at {have / 2 ** 20:.1f} MB", flush=True)
    bar = progress(total=None if total is None else -(-total // CHUNK), desc="download", unit="MB")
    bar.update(have // CHUNK)
    with stream, open(part, "ab" if resumed else "wb") as f:
        while True:
            try:
                chunk = stream.read(CHUNK)
            except OSError as e:
                raise FetchError(f"the download of {url} broke off after {f.tell() / 2 ** 20:.1f} MB ({e}); "
                                 "run the same command again to resume it") from None
            if not chunk:
                break
            f.write(chunk)
            bar.update()
    bar.close()
    if total is not None and part.stat().st_size != total:
        raise FetchError(f"the download of {url} stopped at {part.stat().st_size} of {total} bytes; "
                         "run the same command again to resume it")
    part.rename(done)
    return done


def _members(archive: Path) -> tuple[list[str], str]:
    """Every member name and the archive's kind; FetchError for anything that is not a readable zip or tar."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                return z.namelist(), "zip"
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                return t.getnames(), "tar"
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as e:
        raise FetchError(f"{archive}: a damaged archive ({e}); delete it and fetch again") from None
    with open(archive, "rb") as f:
        head = f.read(4)
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zX")):  # zip, gzip, bzip2, xz
        raise FetchError(f"{archive}: a damaged or incomplete archive (it ends too early); delete it and "
                         "fetch again")
    raise FetchError(f"{archive}: not a zip or tar archive; expected the CROHME 2016 package ({PACKAGE_URL})")


def locate(names: list[str], expected: dict[str, int]) -> dict[str, tuple[str, list[str]]]:
    """For each set: the folder prefix inside the archive and its InkML members; FetchError on a wrong layout."""
    found: dict[str, tuple[str, list[str]]] = {}
    for ours, (theirs, n) in expected.items():
        prefixes = {}
        for name in names:
            parts = PurePosixPath(name).parts
            if name.lower().endswith(".inkml") and theirs in parts[:-1]:
                i = parts.index(theirs)
                prefixes.setdefault("/".join(parts[:i + 1]), []).append(name)
        if not prefixes:
            raise FetchError(f"no {theirs}/ folder in the archive: it does not have the layout of the CROHME 2016 "
                             f"package (TrainINKML/, TestEM2014GT/, TEST2016_INKML_GT/); {_what_to_do(PACKAGE_URL)}")
        prefix = min(prefixes, key=len)  # the package's own folder, not a copy nested deeper
        files = prefixes[prefix]
        if len(files) != n:
            raise FetchError(f"{theirs}/ holds {len(files)} InkML files, the package has {n}: an incomplete or "
                             f"different archive; {_what_to_do(PACKAGE_URL)}")
        found[ours] = (prefix, files)
    return found


def extract(archive: Path, dest: Path, expected: dict[str, int]) -> dict:
    """Extract the sets into `dest` (all or nothing); the stamp records counts and a checksum per set."""
    names, kind = _members(archive)
    sets = locate(names, {k: v for k, v in expected.items()})
    with staged_dir(dest) as tmp:
        counts, digests = {}, {}
        opened = zipfile.ZipFile(archive) if kind == "zip" else tarfile.open(archive)
        with opened as src:
            for ours, (prefix, files) in sets.items():
                digest = hashlib.sha256()
                for name in progress(sorted(files), desc=f"extract {ours}", unit="file", interval=15.0):
                    rel = PurePosixPath(name).relative_to(prefix)
                    if ".." in rel.parts:
                        raise FetchError(f"{archive}: unsafe member name {name!r}")
                    try:
                        data = src.read(name) if kind == "zip" else src.extractfile(name).read()
                    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, OSError, EOFError) as e:  # CRC
                        raise FetchError(f"{archive}: {name} is damaged ({e}); delete the archive and fetch "
                                         "again") from None
                    out = tmp / ours / Path(*rel.parts)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(data)
                    digest.update(f"{rel.as_posix()} {hashlib.md5(data).hexdigest()}\n".encode())
                counts[ours] = len(files)
                digests[ours] = digest.hexdigest()
        stamp = {"counts": counts, "sha256_of_md5_manifest": digests, "archive": archive.name,
                 "fetched": time.strftime("%Y-%m-%d %H:%M:%S")}
        atomic.write_json(tmp / STAMP, stamp)
    return stamp


def fetch(dest: str | Path, url: str = PACKAGE_URL, archive: str | Path | None = None,
          expected: dict[str, int] | None = None) -> dict:
    """Make `dest` hold train/, test2014/ and test2016/ of the CROHME 2016 package; returns the stamp."""
    dest = Path(dest).expanduser().resolve()
    sets = {k: SETS[k] for k in SETS} if expected is None else {k: (SETS[k][0], n) for k, n in expected.items()}
    counts = {k: n for k, (_, n) in sets.items()}
    if is_complete(dest, counts):
        print(f"CROHME already in {dest}: " + ", ".join(f"{k} {n}" for k, n in counts.items()) + " files")
        return json.loads((dest / STAMP).read_text(encoding="utf-8"))
    if archive is not None:
        archive = Path(archive).expanduser()
        if not archive.is_file():
            raise FetchError(f"{archive}: no such file; {_what_to_do(url)}")
    else:
        cache = dest.parent / ".crohme-download"
        cache.mkdir(parents=True, exist_ok=True)
        name = PurePosixPath(urllib.parse.urlparse(url).path).name or "package.zip"
        archive = cache / name
        if not archive.is_file():
            archive = download(url, cache / (name + ".part"))
    t0 = time.monotonic()
    stamp = extract(archive, dest, sets)
    print(f"CROHME in {dest} ({time.monotonic() - t0:.0f} s): " + ", ".join(
        f"{k} {n}" for k, n in stamp["counts"].items()) + " files, counts checked")
    if archive.parent.name == ".crohme-download":
        shutil.rmtree(archive.parent, ignore_errors=True)  # the archive served its purpose
    return stamp


def _expect(text: str) -> dict[str, int]:
    out = {}
    for part in text.split(","):
        name, _, n = part.partition("=")
        if name not in SETS or not n.isdigit():
            raise SystemExit(f"--expect: give set=count pairs for {', '.join(SETS)}, got {part!r}")
        out[name] = int(n)
    return out


def main(argv: list[str] | None = None) -> int:
    from ..run.notebook import default_home, repo_root  # lazy: run.notebook imports torch; fetching needs none

    ap = argparse.ArgumentParser(prog="python -m lib.crohme", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download (or take) the CROHME 2016 package and extract its three sets")
    f.add_argument("--dest", type=Path, default=None, help="folder to fill (default: <data>/raw/crohme)")
    src = f.add_mutually_exclusive_group()
    src.add_argument("--url", default=PACKAGE_URL, help=f"where to download from (default {PACKAGE_URL})")
    src.add_argument("--archive", type=Path, help="a package archive downloaded by hand (zip or tar)")
    f.add_argument("--expect", type=_expect, default=None, metavar="train=N,test2014=N,test2016=N",
                   help="the file counts of a package other than the public one")
    a = ap.parse_args(argv)
    dest = a.dest or default_home(repo_root()) / "data" / "raw" / "crohme"
    try:
        fetch(dest, a.url, a.archive, a.expect)
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
