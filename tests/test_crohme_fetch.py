"""`python -m lib.crohme fetch` on packages the test builds from a few files of ../shared/data/crohme."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lib.data import crohme
from lib.data.crohme_fetch import SETS, FetchError, fetch

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "crohme"
pytestmark = pytest.mark.skipif(not (SHARED / "train").is_dir(), reason=f"CROHME data not found at {SHARED}")
COUNTS = {"train": 6, "test2014": 3, "test2016": 2}


def _sources() -> dict[str, list[Path]]:
    """A few InkML files per set: train from two writers' folders, the 2014 test; 2016 stands in with 2014's."""
    train = sorted((SHARED / "train" / "HAMEX").glob("*.inkml"))[:4] + sorted(
        (SHARED / "train" / "KAIST").glob("*.inkml"))[:2]
    test = sorted((SHARED / "test2014").glob("*.inkml"))
    return {"train": train, "test2014": test[:3], "test2016": test[3:5]}


def make_package(path: Path, root: str = "offline-crohme-master/CROHME_labeled_2016", drop: str | None = None,
                 extra_copy: bool = True) -> Path:
    """A zip laid out like the public package (TrainINKML/<writer>/, TestEM2014GT/, TEST2016_INKML_GT/)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for ours, files in _sources().items():
            theirs = SETS[ours][0]
            if theirs == drop:
                continue
            for f in files:
                sub = f"{f.parent.name}/" if ours == "train" else ""
                z.write(f, f"{root}/{theirs}/{sub}{f.name}")
        if extra_copy:  # the package also holds a copy of a train folder and older years: not taken
            f = _sources()["train"][0]
            z.write(f, f"{root}/HAMEX/{f.name}")
            z.write(f, f"{root}/CROHME_training/{f.name}")
        z.writestr(f"{root[:root.index('/')]}/README.md", "CROHME")
    return path


def _count(dest: Path) -> dict[str, int]:
    return {name: len(list((dest / name).rglob("*.inkml"))) for name in COUNTS}


def test_archive_fetch_extracts_the_sets_and_is_idempotent(tmp_path, capsys):
    package = make_package(tmp_path / "package.zip")
    dest = tmp_path / "data" / "raw" / "crohme"
    stamp = fetch(dest, archive=package, expected=COUNTS)
    assert _count(dest) == COUNTS == stamp["counts"]
    assert (dest / "train" / "HAMEX").is_dir() and (dest / "train" / "KAIST").is_dir()
    assert sorted(p.name for p in dest.iterdir()) == ["fetched.json", "test2014", "test2016", "train"]
    before = (dest / "fetched.json").stat().st_mtime_ns
    capsys.readouterr()
    fetch(dest, archive=package, expected=COUNTS)  # a second call finds the data and returns
    assert "already" in capsys.readouterr().out and (dest / "fetched.json").stat().st_mtime_ns == before
    found = crohme.find_dir("", tmp_path, tmp_path / "repo", "2016")  # the source looks in <home>/data/raw/crohme
    assert found == dest.resolve()


def test_url_fetch_resumes_an_interrupted_download(tmp_path):
    package = make_package(tmp_path / "package.zip")
    dest = tmp_path / "raw" / "crohme"
    cache = dest.parent / ".crohme-download"
    cache.mkdir(parents=True)
    data = package.read_bytes()
    (cache / "package.zip.part").write_bytes(data[: len(data) // 2])  # what a dropped connection left
    stamp = fetch(dest, url=package.as_uri(), expected=COUNTS)
    assert stamp["counts"] == COUNTS and _count(dest) == COUNTS
    assert not cache.exists()  # the archive is removed once extracted


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "bad member", "wrong layout", "wrong count"])
def test_bad_archives_are_refused_and_nothing_is_left_half_written(tmp_path, damage):
    dest = tmp_path / "raw" / "crohme"
    package = tmp_path / "package.zip"
    expected = dict(COUNTS)
    if damage == "corrupt":
        package.write_bytes(b"<html>rate limited</html>")
        message = "not a zip or tar archive"
    elif damage == "truncated":
        good = make_package(tmp_path / "good.zip").read_bytes()
        package.write_bytes(good[: len(good) - 2000])
        message = "damaged"
    elif damage == "bad member":  # a flipped byte inside one file's data: its CRC no longer matches
        data = bytearray(make_package(tmp_path / "good.zip", extra_copy=False).read_bytes())
        with zipfile.ZipFile(tmp_path / "good.zip") as z:
            info = z.infolist()[3]
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        data[start + info.compress_size // 2] ^= 0xFF
        package.write_bytes(bytes(data))
        message = "damaged"
    elif damage == "wrong layout":
        make_package(package, drop="TestEM2014GT")
        message = "no TestEM2014GT/ folder"
    else:
        make_package(package)
        expected["train"] = 8836
        message = "holds 6 InkML files, the package has 8836"
    with pytest.raises(FetchError, match=message):
        fetch(dest, archive=package, expected=expected)
    assert not dest.exists() and not any(p.name.startswith(".crohme") for p in dest.parent.glob(".*"))


def test_offline_download_says_what_to_do(tmp_path):
    with pytest.raises(FetchError, match="--archive"):
        fetch(tmp_path / "crohme", url="http://127.0.0.1:9/nothing.zip", expected=COUNTS)
    assert not (tmp_path / "crohme").exists()


def test_the_command_line(tmp_path):
    package = make_package(tmp_path / "package.zip")
    env = {**os.environ, "IM2LATEX_HOME": str(tmp_path / "home")}
    expect = ",".join(f"{k}={v}" for k, v in COUNTS.items())
    r = subprocess.run([sys.executable, "-m", "lib.crohme", "fetch", "--archive", str(package), "--expect", expect],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    dest = tmp_path / "home" / "data" / "raw" / "crohme"
    assert json.loads((dest / "fetched.json").read_text())["counts"] == COUNTS
    r = subprocess.run([sys.executable, "-m", "lib.crohme", "fetch", "--archive", str(tmp_path / "missing.zip")],
                       cwd=ROOT, env={**env, "IM2LATEX_HOME": str(tmp_path / "other")}, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 1 and "missing.zip: no such file" in r.stderr and "Traceback" not in r.stderr


def test_no_crohme_anywhere_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.delenv("IM2LATEX_CROHME_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="python -m lib.crohme fetch"):
        crohme.find_dir("", tmp_path / "home", tmp_path / "repo")


def test_fetched_data_feeds_the_crohme_source(tmp_path):
    """fetch --archive, then the series with --data crohme reads the fetched folder (not ../shared)."""
    package = make_package(tmp_path / "package.zip")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "IM2LATEX_CROHME_DIR"}
    env["IM2LATEX_HOME"] = str(home)
    expect = ",".join(f"{k}={v}" for k, v in COUNTS.items())
    r = subprocess.run([sys.executable, "-m", "lib.crohme", "fetch", "--archive", str(package), "--expect", expect],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "lib.series", "--profile", "smoke", "--data", "crohme", "--only", "01",
                        "-p", "crohme_test='2016'"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    report = json.loads((home / "data" / "interim" / "crohme" / "smoke-s0" / "export_report.json").read_text())
    assert report["params"]["dir"] == str((home / "data" / "raw" / "crohme").resolve())
    assert report["params"]["test_set"] == "2016" and report["splits"]["test"]["kept"] == COUNTS["test2016"]
