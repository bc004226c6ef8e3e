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
            "--set", "crohme_symbol_height=20", "--set", "val_limit=8", "--json"]
    assert learn.main(argv) == 0
    out = capsys.readouterr().out
    res = json.loads(out.strip().splitlines()[-1])
    assert all(k in res for k in KEYS), [k for k in KEYS if k not in res]
    assert res["test_formulas"] == 12 and res["train_formulas"] > 40 and res["steps"] > 0
    for k in ("exprate", "exprate_le1", "exprate_le2", "exprate_greedy"):
        assert 0.0 <= res[k] <= 100.0
    assert res["exprate"] <= res["exprate_le1"] <= res["exprate_le2"]
    assert set(res["minutes_to_exprate"]) == {"10", "25", "50"}
    overlap = res["splits"]["overlap_with_train"]
    assert overlap["dev"]["formulas"] > 0 and overlap["dev"]["in_train"] == 0
    assert "test 2014 (12 formulas, greedy)" in out and "beam2" in out
    # the data is made once per recipe, then reused
    assert learn.main(argv[:-1]) == 0
    assert "data reused" in capsys.readouterr().out
