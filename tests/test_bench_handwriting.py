"""The handwriting speedrun (`python -m lib.bench learn --data crohme`) on a few real CROHME files, without the
minutes: its figures are in range, its dev split shares no formula with train, its JSON line has every key."""
import json
from pathlib import Path

import pytest

from lib.bench import learn

ROOT = Path(__file__).resolve().parent.parent
CROHME = ROOT.parent / "shared" / "data" / "crohme"
KEYS = ("exprate", "exprate_le1", "exprate_le2", "exprate_greedy", "minutes", "steps", "images_per_s",
        "train_formulas", "minutes_to_exprate")


@pytest.mark.skipif(not CROHME.is_dir(), reason=f"CROHME data not found at {CROHME}")
def test_crohme_speedrun_on_a_few_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IM2LATEX_HOME", str(tmp_path))
    monkeypatch.setenv("IM2LATEX_CROHME_DIR", str(CROHME))
    argv = ["--data", "crohme", "--profile", "smoke", "--train", "80", "--test", "12", "--minutes", "0.05",
            "--pretrain-minutes", "0", "--set", "crohme_symbol_height=20", "--set", "val_limit=8", "--json"]
    assert learn.main(argv) == 0
    out = capsys.readouterr().out
    res = json.loads(out.strip().splitlines()[-1])
    assert all(k in res for k in KEYS), [k for k in KEYS if k not in res]
    assert res["test_formulas"] == 12 and res["train_formulas"] > 40 and res["steps"] > 0
    assert res["changes"] == {"crohme_symbol_height": 20, "val_limit": 8, "pretrain_minutes": 0.0}  # values, not repr
    for k in ("exprate", "exprate_le1", "exprate_le2", "exprate_greedy"):
        assert 0.0 <= res[k] <= 100.0
    assert res["exprate"] <= res["exprate_le1"] <= res["exprate_le2"]
    assert set(res["minutes_to_exprate"]) == {"10", "25", "50"}
    overlap = res["splits"]["overlap_with_train"]
    assert overlap["dev"]["formulas"] > 0 and overlap["dev"]["in_train"] == 0
    exported = json.loads(next((tmp_path / "data" / "bench").rglob("export_report.json")).read_text())
    assert exported["split_by"] == "writer+formula" and res["dev_by"] == "writer" and "dev_minus_test" in res
    assert "test 2014 (12 formulas, greedy)" in out and "beam2" in out
    # the data is made once per recipe, then reused
    assert learn.main(argv[:-1]) == 0
    assert "data reused" in capsys.readouterr().out
    # the recipe's start on the demo set: its minutes count, its figures are reported apart
    longer = [("0.1" if x == "0.05" else x) for x in argv]
    assert learn.main([("0.03" if x == "0" else x) for x in longer]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["pretrain_minutes"] == 0.03 and res["pretrain"]["steps"] > 0 and res["steps"] > res["pretrain"]["steps"]
    assert res["pretrain"]["minutes"] <= res["minutes"] and all(k in res for k in KEYS)


@pytest.mark.skipif(not CROHME.is_dir(), reason=f"CROHME data not found at {CROHME}")
def test_crohme_series_starts_model2_on_the_demo_set(tmp_path):
    """`python -m lib.series --data crohme` (smoke sizes): model 2 spends its first minutes on the demo set,
    made on first use, then trains on CROHME with one vocabulary; its settings say so."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "IM2LATEX_HOME": str(tmp_path), "IM2LATEX_CROHME_DIR": str(CROHME)}
    r = subprocess.run([sys.executable, "-m", "lib.series", "--profile", "smoke", "--data", "crohme", "--only",
                        "01,02,04"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    model2 = tmp_path / "outputs" / "smoke-crohme" / "model2"
    assert (model2 / "pretrain" / "last.pt").is_file() and (model2 / "best.pt").is_file()
    settings = json.loads((model2 / "settings.json").read_text())
    assert settings["init_from"] == str(model2 / "pretrain" / "last.pt") and settings["data"] == "crohme/smoke-s0"
    # the smoke profile's demo set, named for its pages, seed and mix of formulas
    assert [p.name for p in (tmp_path / "data" / "pretrain").glob("demo-p4-s0-m*/processed/vocab.json")]
    report = json.loads((tmp_path / "data" / "processed" / "crohme" / "smoke-s0" / "cleaning_report.json").read_text())
    assert report["overlap_with_train"]["dev"]["in_train"] == 0 and report["ink_scale"]["symbol_height"] == 40.0
