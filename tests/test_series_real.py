"""The real notebook series, end to end under the smoke profile, in a throw-away home."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks in notebooks/ yet")
def test_smoke_series_demo_end_to_end(tmp_path):
    env = {**os.environ, "IM2LATEX_HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "lib.series", "--profile", "smoke", "--data", "demo",
                        "--run", "e2e"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = tmp_path / "outputs" / "e2e"
    log = json.loads((run / "series.json").read_text())
    assert [e["notebook"] for e in log["notebooks"]] == [p.name for p in NOTEBOOKS]
    assert all(e["status"] == "ok" for e in log["notebooks"])
    for nb in NOTEBOOKS:
        assert (run / "notebooks" / nb.name).stat().st_size > nb.stat().st_size   # executed, with outputs
    names = {p.name[:2] for p in NOTEBOOKS}
    processed = tmp_path / "data" / "processed" / "demo"
    if "02" in names:
        report = json.loads((processed / "cleaning_report.json").read_text())
        for split, s in report["splits"].items():
            assert s["kept"] + sum(s["dropped"].values()) == s["seen"], split
        assert (processed / "vocab.json").exists() and (processed / "formulas.norm.lst").exists()
    for step, nb in (("model1", "03"), ("model2", "04")):
        if nb in names:
            assert (run / step / "best.pt").exists() and (run / step / "last.pt").exists()
    if "05" in names:
        assert json.loads((run / "ablation" / "best.json").read_text())["arm"]
    if "06" in names:
        ids = (processed / "test_ids.txt").read_text().split()
        result = (run / "submission" / "result.txt").read_text().splitlines()
        assert len(result) == len(ids) and all(line.strip() for line in result)
        metrics = json.loads((run / "submission" / "metrics.json").read_text())
        assert metrics  # scored against the demo answer key
        assert (run / "submission.zip").exists()
