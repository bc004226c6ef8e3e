"""Build small notebooks for tests, with the same parameters and bootstrap cells as the real ones."""
from __future__ import annotations

from pathlib import Path

import nbformat

PARAMETERS = '''profile = "auto"  # smoke | cpu | gpu | auto
data = "demo"  # demo | crohme | course
run = ""  # outputs/<run>/; empty: <profile>-<data>
seed = 0
drive = False  # Colab: keep data/ and outputs/ on Google Drive'''

BOOTSTRAP = '''import sys
from pathlib import Path
root = Path.cwd().resolve()
while not (root / "lib" / "__init__.py").exists():
    if root == root.parent:
        raise RuntimeError("lib/ not found: open this notebook from inside the bundle")
    root = root.parent
sys.path.insert(0, str(root))
import lib
if not Path(lib.__file__).resolve().is_relative_to(root):
    raise ImportError(f"'lib' comes from {lib.__file__}, not {root}: pip uninstall lib")
from lib.run.notebook import start
ctx = start(step=STEP, profile=profile, data=data, run=run, seed=seed, drive=drive)'''


def make_notebook(path: Path, step: str, code_cells: list[str], root: Path | None = None) -> Path:
    """Write a notebook: parameters cell, bootstrap (root fixed when given), then `code_cells`."""
    boot = BOOTSTRAP.replace("STEP", repr(step))
    if root is not None:  # fixture notebooks live outside the repo: point them at it
        boot = boot.replace("root = Path.cwd().resolve()", f"root = Path({str(root)!r})")
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {step}"), params, nbformat.v4.new_code_cell(boot),
                *[nbformat.v4.new_code_cell(c) for c in code_cells]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
