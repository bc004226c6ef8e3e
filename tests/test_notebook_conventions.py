"""Every notebook: `parameters` cell first, the one-call start (notebooks/bundle.py), no outputs, kernel python3,
short cells; the start's guard refuses a `lib` imported from elsewhere."""
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CELL_LINES = 20


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"
    for name in ("profile", "data", "run"):
        assert f"{name} =" in code[0].source, f"parameters cell lacks {name}"
    assert code[1].source.startswith("from bundle import start") and "ctx = start(" in code[1].source  # one call
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, c in enumerate(code):
        assert not c.get("outputs") and c.get("execution_count") is None, f"cell {i} has outputs"
        assert len(c.source.splitlines()) <= MAX_CELL_LINES, f"code cell {i} is long: logic belongs in lib/"
    assert any(c.cell_type == "markdown" for c in nb.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_valid_nbformat_with_cell_ids(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert all(c.get("id") for c in nb.cells) and len({c.id for c in nb.cells}) == len(nb.cells)


def test_the_six_steps_are_there():
    assert [p.name[:2] for p in NOTEBOOKS][:6] == ["01", "02", "03", "04", "05", "06"]


def test_the_start_finds_this_bundle_and_refuses_another_lib(tmp_path, monkeypatch):
    import importlib
    import sys

    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    monkeypatch.syspath_prepend(str(notebooks))
    bundle = importlib.import_module("bundle")
    monkeypatch.chdir(notebooks)
    assert bundle._root() == notebooks.parent
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="lib/ not found"):
        bundle._root()
    other = tmp_path / "elsewhere"
    (other / "lib").mkdir(parents=True)
    (other / "lib" / "__init__.py").write_text("")
    monkeypatch.chdir(other)
    monkeypatch.setitem(sys.modules, "lib", importlib.import_module("lib"))  # this bundle's lib, not other's
    with pytest.raises(ImportError, match="pip uninstall lib"):
        bundle.start(step="export")
