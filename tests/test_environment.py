"""requirements.txt and environment.yml must agree; torch and torchvision pinned as a pair."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _reqs(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        if line and not line.endswith(":") and re.match(r"^[A-Za-z0-9_.\-\[\]]+\s*([=<>!~]=?.*)?$", line):
            name = re.split(r"[=<>!~]", line, 1)[0].strip().lower()
            out[name] = line.replace(" ", "")
    return out


def test_requirements_and_environment_agree():
    req = _reqs((ROOT / "requirements.txt").read_text().splitlines())
    yml = (ROOT / "environment.yml").read_text().splitlines()
    pip_start = next(i for i, l in enumerate(yml) if l.strip() == "- pip:")
    env = _reqs(yml[pip_start + 1:])
    assert req == env
    assert "python=3.11" in "\n".join(yml)


def test_torch_pair_and_packages_pinned():
    req = _reqs((ROOT / "requirements.txt").read_text().splitlines())
    assert req["torch"] == "torch==2.14.1" and req["torchvision"] == "torchvision==0.29.1"
    assert req["albumentations"] == "albumentations==2.0.8"
    for name in ("jupyterlab", "matplotlib", "papermill", "nbval", "editdistance", "nltk", "tqdm", "pytest"):
        assert name in req, name
    assert "==" not in req["numpy"] and "==" not in req["matplotlib"]   # no hard pins that break Colab


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make series" in readme
