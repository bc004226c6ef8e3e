"""Notebook 06's helpers without models: checkpoint discovery, splits, the choice of the submitted run."""
import json

import pytest

from lib.evaluation import compare as evaluation
from lib.evaluation.compare import Run, Split


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_find_checkpoints_skips_missing_and_reads_ablation(tmp_path):
    run = tmp_path / "outputs" / "r"
    touch(run / "model2" / "best.pt")
    found, notes = evaluation.find_checkpoints(run)
    assert found == [("model2", run / "model2" / "best.pt")]
    assert any("model1: no checkpoint" in n for n in notes) and any("notebook 05 not run" in n for n in notes)
    arm = touch(run / "ablation" / "lr_high" / "best.pt")
    (run / "ablation" / "best.json").write_text(json.dumps({"arm": "lr_high", "checkpoint": "lr_high/best.pt"}))
    found, _ = evaluation.find_checkpoints(run)
    assert found[-1] == ("ablation-lr_high", arm)
    (run / "ablation" / "best.json").write_text(json.dumps({"arm": "lr_high", "checkpoint": "ablation/lr_high/best.pt"}))
    assert evaluation.find_checkpoints(run)[0][-1] == ("ablation-lr_high", arm)  # notebook 05's form
    (run / "ablation" / "best.json").write_text(json.dumps({"arm": "x", "checkpoint": str(tmp_path / "no.pt")}))
    found, notes = evaluation.find_checkpoints(run)
    assert len(found) == 1 and any("best arm 'x' has no checkpoint" in n for n in notes)
    (run / "ablation" / "best.json").write_text("{not json")
    assert any("best.json: unreadable" in n for n in evaluation.find_checkpoints(run)[1])
    (run / "ablation" / "best.json").write_text(json.dumps({"arm": "x"}))
    assert any("best.json: no checkpoint; skipped" in n for n in evaluation.find_checkpoints(run)[1])


def write_processed(d, key: str | None):
    d.mkdir(parents=True)
    (d / "test_ids.txt").write_text("a.png\nb.png\nc.png\n")
    if key is not None:
        (d / "answer_key.txt").write_text(key)
    (d / "formulas.norm.lst").write_text("x + 1\ny\n")
    (d / "validate_filter.lst").write_text("v0.png 0\nv1.png 1\n")
    return d


def test_splits_with_and_without_answer_key(tmp_path):
    d = write_processed(tmp_path / "demo", "x\n-\ny z\n")
    test = evaluation.test_split(d, limit=2)
    assert test.ids == ["a.png", "b.png"] and test.all_ids == ["a.png", "b.png", "c.png"]
    assert test.refs == [["x"], []] and test.paths[0] == d / "images" / "a.png"
    dev = evaluation.dev_split(d, limit=None)
    assert dev.ids == ["v0.png", "v1.png"] and dev.refs == [["x", "+", "1"], ["y"]]
    course = evaluation.test_split(write_processed(tmp_path / "course", None))
    assert course.refs is None and len(course.ids) == 3
    bad = write_processed(tmp_path / "bad", "x\n")
    with pytest.raises(ValueError, match="answer_key.txt has 1 lines but .*test_ids.txt has 3"):
        evaluation.test_split(bad)


def run(model, decoder, dev=None, test=None):
    r = Run(model, decoder, 1 if decoder == "greedy" else 3)
    r.metrics = {k: {"course_score": v} for k, v in (("dev", dev), ("test", test)) if v is not None}
    return r


def test_choose_prefers_dev_then_answer_key():
    runs = [run("model1", "greedy", dev=10, test=90), run("model2", "beam3", dev=20, test=5)]
    best, how = evaluation.choose(runs)
    assert (best.model, best.decoder) == ("model2", "beam3") and "dev" in how
    best, how = evaluation.choose([run("model1", "greedy", test=90), run("model2", "beam3", test=5)])
    assert best.model == "model1" and "answer key" in how
    best, how = evaluation.choose([run("model1", "greedy"), run("model1", "beam3"), run("model2", "greedy")])
    assert best.decoder == "beam3" and "no references" in how


def test_scored_split_and_summary():
    r = run("model2", "beam3", test=50)
    r.lines = {"dev": ["a", "-"], "test": ["b"]}
    dev = Split("dev", ["v.png", "w.png"], [], [["a"], ["c"]], ["v.png", "w.png"])
    test = Split("test", ["t.png"], [], None, ["t.png", "u.png"])
    split, hyps = evaluation.scored_split(r, [dev, test])
    assert split is dev and hyps == [["a"], []]
    none, hyps = evaluation.scored_split(r, [test])
    assert none.name == "none" and none.refs == [] and hyps == []
    s = evaluation.summary([r], r, "how", [dev, test], {"lines": 2}, data="course")
    assert s["submitted"]["model"] == "model2" and s["splits"]["test"] == {"decoded": 1, "total": 2, "scored": False}
    assert s["data"] == "course" and s["result_lines"] == {"lines": 2}
    json.dumps(s)


def test_decode_score_and_submit_with_a_tiny_checkpoint(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from lib.data.vocab import Vocab
    from lib.evaluation import submission
    from lib.models import model_from_profile
    from lib.run.profiles import get_profile
    from lib.models import checkpoint
    from tests.fixtures import make_processed_dataset

    d = make_processed_dataset(tmp_path / "processed", n_train=2, n_dev=2, n_test=3, seed=1)
    (d / "images" / "fix_test_001.png").write_bytes(b"not a png")  # unreadable: its line must be "-"
    vocab = Vocab.load(d / "vocab.json")
    model = model_from_profile("model1", len(vocab), get_profile("smoke"))
    ckpt = checkpoint.save(tmp_path / "run" / "model1" / "best.pt", model, vocab, model_name="model1")
    found, _ = evaluation.find_checkpoints(tmp_path / "run")
    test, dev = evaluation.test_split(d, limit=None), evaluation.dev_split(d, limit=1)
    with pytest.warns(UserWarning, match="fix_test_001.png"):  # the bad image is named, not dropped silently
        runs = evaluation.evaluate_checkpoints(found, [dev, test], beam=2, batch_size=2, max_len=4)
    assert [(r.model, r.decoder) for r in runs] == [("model1", "greedy"), ("model1", "beam2")]
    for r in runs:
        assert len(r.lines["test"]) == 3 and r.lines["test"][1] == "-" and len(r.lines["dev"]) == 1
        assert r.metrics["test"]["n"] == 3 and r.metrics["dev"]["n"] == 1 and r.images_per_s > 0
    only_greedy = evaluation.evaluate_checkpoints(found, [dev], beam=1, max_len=2)  # beam 1 is greedy
    assert [r.decoder for r in only_greedy] == ["greedy"]
    best, how = evaluation.choose(runs)
    report = submission.write_submission(tmp_path / "sub", test.all_ids, dict(zip(test.ids, best.lines["test"])))
    assert report["lines"] == 3 and (tmp_path / "sub" / "result.txt").read_text().splitlines()[1] == "-"
    with pytest.warns(UserWarning, match="fix_test_001.png"):  # the example skips the unreadable image, named
        from lib.viz.attention import attention_example

        assert attention_example("model1", ckpt, test, max_len=3) is not None


def test_a_model_is_never_scored_against_another_processed_set(tmp_path):
    from lib.data.dataset import fingerprint
    from lib.data.vocab import Vocab
    from lib.models import checkpoint, model_from_profile
    from lib.run.profiles import get_profile
    from tests.fixtures import make_processed_dataset

    d = make_processed_dataset(tmp_path / "processed", n_train=2, n_dev=1, n_test=2, seed=1)
    vocab = Vocab.load(d / "vocab.json")
    model = model_from_profile("model2", len(vocab), get_profile("smoke"))
    mine, old = tmp_path / "run" / "model2" / "best.pt", tmp_path / "run" / "model1" / "best.pt"
    checkpoint.save(mine, model, vocab, model_name="model2",
                    config={"data_fingerprint": fingerprint(d), "profile": "smoke", "seed": 0})
    checkpoint.save(old, model, vocab, model_name="model2")  # as written before checkpoints recorded their data
    notes = evaluation.check_data([("model2", mine), ("model1", old)], d)
    assert len(notes) == 1 and "does not record its training data" in notes[0]
    make_processed_dataset(d, n_train=3, n_dev=1, n_test=2, seed=2)  # notebooks 01-02 again, another seed
    assert fingerprint(d) != checkpoint.load(mine).data_fingerprint
    with pytest.raises(evaluation.OtherDataError, match="model2: .*trained on another processed set"):
        evaluation.check_data([("model2", mine)], d)
