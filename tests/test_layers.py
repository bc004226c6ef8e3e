"""lib/ in layers: each sub-package imports only from those below it (every import, also inside functions)."""
import ast
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lib"
# bottom to top; the modules directly in lib/ (thin command-line entry points) sit above everything
LAYERS = ("run", "data", "models", "inference", "evaluation", "training", "viz", "bench")
TOP = len(LAYERS)


def layer_of(parts: list[str]) -> int:
    return LAYERS.index(parts[0]) if len(parts) > 1 and parts[0] in LAYERS else TOP


def imports(path: Path):
    """(line, imported module as parts below lib/, inside a function?) of every lib import in a file."""
    pkg = list(path.relative_to(LIB).parent.parts)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function |= {id(n) for n in ast.walk(node) if n is not node}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[:len(pkg) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            names = [target + [a.name] for a in node.names] if not node.module else [target]
            for t in names:
                yield node.lineno, t, id(node) in in_function
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for m in mods:
                if m == "lib" or m.startswith("lib."):
                    yield node.lineno, m.split(".")[1:], id(node) in in_function


def violations() -> list[str]:
    found = []
    for path in sorted(LIB.rglob("*.py")):
        here = layer_of(list(path.relative_to(LIB).parts))
        for line, target, _ in imports(path):
            there = layer_of(target + ["x"]) if target else TOP
            if there > here:
                found.append(f"{path.relative_to(LIB.parent)}:{line} imports lib.{'.'.join(target)} "
                             f"({LAYERS[here] if here < TOP else 'entry'} -> "
                             f"{LAYERS[there] if there < TOP else 'entry'})")
    return found


def test_no_upward_imports():
    assert violations() == []


def test_imports_inside_functions_say_why():
    """An import inside a function only saves start-up time, and its line says what it saves (`# lazy: ...`)."""
    unexplained = []
    for path in sorted(LIB.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        unexplained += [f"{path.relative_to(LIB.parent)}:{n}" for n, _, inside in imports(path)
                        if inside and "# lazy:" not in lines[n - 1]]
    assert unexplained == []


def test_every_subpackage_has_a_layer():
    packages = {p.name for p in LIB.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS), packages ^ set(LAYERS)


def test_the_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    fake = tmp_path / "lib"
    (fake / "run").mkdir(parents=True)
    (fake / "run" / "__init__.py").write_text("")
    (fake / "run" / "x.py").write_text("def f():\n    from ..training.loop import train_model\n")
    import sys

    monkeypatch.setattr(sys.modules[__name__], "LIB", fake)
    assert violations() == ["lib/run/x.py:2 imports lib.training.loop (run -> training)"]
