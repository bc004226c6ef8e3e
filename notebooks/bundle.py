"""The first call of every notebook: `from bundle import start; ctx = start(step=..., profile=profile, ...)`.

It finds this bundle's `lib/` above the notebook's folder, puts it first on the import path, checks that `lib` is
imported from there (not from an installed package of the same name) and hands over to `lib.run.notebook.start`,
which resolves the profile, the folders and the device (and on Colab installs what is missing).
"""
import sys
from pathlib import Path


def _root() -> Path:
    root = Path.cwd().resolve()
    while not (root / "lib" / "__init__.py").exists():
        if root == root.parent:
            raise RuntimeError("lib/ not found: open this notebook from inside the bundle")
        root = root.parent
    return root


def start(**kwargs):
    root = _root()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import lib

    if not Path(lib.__file__).resolve().is_relative_to(root):
        raise ImportError(f"'lib' comes from {lib.__file__}, not {root}: pip uninstall lib")
    from lib.run.notebook import start as start_notebook

    return start_notebook(**kwargs)
