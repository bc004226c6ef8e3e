"""The JSON records steps hand to each other: written and read in lib/run/records.py only."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lib.run import records

LIB = Path(__file__).resolve().parents[1] / "lib"


def test_records_round_trip_and_refuse_what_they_cannot_read(tmp_path):
    assert records.read_settings(tmp_path) is None and records.ink_scale(tmp_path) is None  # none yet: None
    records.write_settings(tmp_path, {"profile": "cpu", "train": {"lr": 3e-3}})
    assert records.read_settings(tmp_path)["train"] == {"lr": 3e-3}
    records.write_cleaning_report(tmp_path, {"ink_scale": {"stroke_px": 2.0, "symbol_height": 20.0}})
    assert records.ink_scale(tmp_path) == {"stroke_px": 2.0, "symbol_height": 20.0}
    (tmp_path / records.EXPORT_REPORT).write_text("[1, 2]")
    with pytest.raises(records.RecordError, match=r"export_report.json: not a record \(a JSON list"):
        records.read_export_report(tmp_path)
    (tmp_path / records.ABLATION_BEST).write_text('{"arm": "scale"}')
    with pytest.raises(records.RecordError, match="best.json: no checkpoint"):
        records.read_ablation_best(tmp_path)


def test_no_module_names_a_record_file_but_records_py():
    """Each record's file name appears in code once (docstrings and comments may mention it)."""
    names = {records.EXPORT_REPORT, records.CLEANING_REPORT, records.SETTINGS, records.ABLATION_BEST}
    found = []
    for path in LIB.rglob("*.py"):
        if path.name == "records.py" and path.parent.name == "run":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        found += [f"{path.relative_to(LIB)}:{n.lineno} {n.value}" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and n.value in names and id(n) not in docs]
    assert not found, found
