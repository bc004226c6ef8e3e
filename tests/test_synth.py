"""The demo data source (`lib.data.synth`): determinism, the raw demo layout (README, *The demo data set*), formulas, boxes and labels."""
import collections
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib.data.latex import compact
from lib.data.synth import generate, plan, read_truth, split_sizes
from lib.data.synth.__main__ import main
from lib.data.synth.defects import BOX_DEFECTS, LABEL_DEFECTS, label_bytes, ocr_text
from lib.data.synth.grammar import MAX_TOKENS, MIN_TOKENS, sample_formula
from lib.data.synth.render import HAND_FONTSETS, PRINTED_FONTSETS, glyph_outlines, render_formula

PAGES, SEED = 4, 3


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, PAGES, SEED, workers=1)
    return out


@pytest.fixture(scope="module")
def truth(demo) -> list[dict]:
    return read_truth(demo)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(demo, tmp_path):
    generate(tmp_path / "again", PAGES, SEED, workers=1)
    assert _tree(tmp_path / "again") == _tree(demo)
    generate(tmp_path / "other", PAGES, SEED + 1, workers=1)
    other = _tree(tmp_path / "other")
    assert other["truth.jsonl"] != _tree(demo)["truth.jsonl"]


def test_layout_matches_contract(demo, truth):
    assert sorted(p.name for p in demo.iterdir()) == ["answer_key", "ocr", "pages", "synth.json", "truth.jsonl"]
    assert sorted(p.name for p in (demo / "ocr").iterdir()) == ["dev", "train"]
    assert json.loads((demo / "synth.json").read_text())["pages"] == PAGES
    by_page = collections.defaultdict(list)
    for r in truth:
        by_page[(r["split"], r["page"])].append(r)
    assert {s for s, _ in by_page} == {"train", "dev", "test"}
    for (split, page), recs in by_page.items():
        assert re.fullmatch(r"page_\d{4}", page)
        assert [r["k"] for r in recs] == list(range(len(recs)))
        d = demo / "pages" / split
        assert (d / f"{page}.png").is_file()
        ann = d / f"{page}.{'txt' if recs[0]['format'] == 'yolo' else 'xml'}"
        assert ann.is_file()
        for r in recs:
            cid = f"{page}_{r['k']:02d}.txt"
            assert (demo / "ocr" / split / cid).is_file() == (split != "test")
            assert (demo / "answer_key" / "test" / cid).is_file() == (split == "test")
            if split == "test":
                assert (demo / "answer_key" / "test" / cid).read_text(encoding="utf-8") == f"${r['latex']}$\n"
    n_labels = sum(1 for _ in (demo / "ocr").rglob("*.txt")) + sum(1 for _ in (demo / "answer_key").rglob("*.txt"))
    assert n_labels == len(truth)


def test_annotations_parse_and_match_pages(demo, truth):
    pages = {(r["split"], r["page"]) for r in truth}
    yolo_splits = set()
    for split, page in pages:
        recs = [r for r in truth if r["page"] == page]
        w, h = Image.open(demo / "pages" / split / f"{page}.png").size
        assert recs[0]["size"] == [w, h]
        if recs[0]["format"] == "yolo":
            yolo_splits.add(split)
            rows = [line.split() for line in (demo / "pages" / split / f"{page}.txt").read_text().splitlines()]
            assert len(rows) == len(recs) and all(len(r) == 5 and r[0] == "0" for r in rows)
            for row, r in zip(rows, recs):
                cx, bw = float(row[1]), float(row[3])
                assert abs(cx * w - (r["box"][0] + r["box"][2]) / 2) < 1
                assert abs(bw * w - (r["box"][2] - r["box"][0])) < 1
            continue
        root = ET.parse(demo / "pages" / split / f"{page}.xml").getroot()
        assert root.findtext("filename") == f"{page}.png"
        assert (int(root.findtext("size/width")), int(root.findtext("size/height"))) == (w, h)
        corners = ("xmin", "ymin", "xmax", "ymax")
        boxes = [[int(o.findtext(f"bndbox/{t}")) for t in corners] for o in root.iter("object")]
        assert boxes == [r["box"] for r in recs]
    assert yolo_splits, "the small set should include a YOLO page"
    for split in yolo_splits:
        assert (demo / "pages" / split / "classes.txt").read_text().split() == ["formula"]


def test_box_defects_look_like_their_names(truth):
    kinds = collections.Counter(r["box_defect"] for r in truth)
    assert set(BOX_DEFECTS) <= set(kinds)
    for i, r in enumerate(truth):
        (x0, y0, x1, y1), (w, h) = r["box"], r["size"]
        if r["box_defect"] == "zero":
            assert x0 == x1 or y0 == y1
            assert r["label_defect"] == ("none" if r["split"] == "test" else "error")
        elif r["box_defect"] == "outside":
            assert x0 < 1 or x1 > w
        elif r["box_defect"] == "duplicate":
            prev = [p for p in truth if p["page"] == r["page"] and p["latex"] == r["latex"] and p is not r]
            assert any(max(abs(a - b) for a, b in zip(p["box"], r["box"])) <= 1 for p in prev)
        elif r["box_defect"] == "tight":
            ix0, iy0, ix1, iy1 = r["ink_box"]
            assert x0 > ix0 + 1 or y0 > iy0 + 1 or x1 < ix1 or y1 < iy1
        else:
            assert 1 <= x0 < x1 <= w and 1 <= y0 < y1 <= h


def test_label_defects_on_disk(demo, truth):
    assert set(LABEL_DEFECTS) <= {r["label_defect"] for r in truth}
    for r in truth:
        if r["split"] == "test":
            assert r["label_defect"] == "none"
            continue
        raw = (demo / "ocr" / r["split"] / f"{r['page']}_{r['k']:02d}.txt").read_bytes()
        d = r["label_defect"]
        if d == "empty":
            assert raw == b""
        elif d == "gbk":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            assert re.search(r"[\u4e00-\u9fff]", raw.decode("gbk"))
        elif d == "bom":
            assert raw.startswith(b"\xef\xbb\xbf") and raw[3:4] == b"$"
        elif d == "error":
            assert raw.decode().strip() == "error mathpix"
        elif d == "multiline":
            assert "\\begin{array}" in raw.decode() and raw.decode().count("\n") >= 2
        elif d == "chinese":
            assert re.search(r"\\text\{[\u4e00-\u9fff：（）]+\}", raw.decode("utf-8"))
        else:
            text = raw.decode("utf-8").strip()
            assert text.startswith("$") and text.endswith("$") and "\n" not in text


def test_defect_rates_over_many_pages():
    pages = plan(60, seed=11)
    items = [it for p in pages for it in p["items"]]
    boxes = collections.Counter(it["box_defect"] for it in items)
    labels = collections.Counter(it["label_defect"] for it in items if it["split"] != "test")
    assert set(BOX_DEFECTS) <= set(boxes) and set(LABEL_DEFECTS) <= set(labels)
    assert boxes["none"] > 0.7 * len(items) and labels["none"] > 0.7 * sum(labels.values())
    assert 1 <= sum(p["format"] == "yolo" for p in pages) <= 15


def _undo_ocr_habits(label: str) -> str:
    s = label.strip()[1:-1].replace(r"\left(", "(").replace(r"\right)", ")").replace(r"\,", "")
    s = re.sub(r"([\^_])([^{\\\s])", r"\1{\2}", s.replace("slant", ""))
    return s.replace(" ", "")


def test_ocr_labels_carry_the_truth():
    rng = np.random.default_rng(0)
    for _ in range(500):
        latex = sample_formula(rng)
        label = ocr_text(latex, rng)
        assert label.startswith("$") and label.endswith("$")
        assert _undo_ocr_habits(label) == compact(latex).replace(" ", ""), (latex, label)


def test_label_bytes_encodings():
    rng = np.random.default_rng(0)
    gbk = label_bytes("x = 1", "gbk", rng)
    assert gbk.decode("gbk").startswith("$") and "\\text{" in gbk.decode("gbk")
    assert label_bytes("x = 1", "bom", rng).decode("utf-8-sig").strip() in ("$x=1$", "$ x=1 $", "$x = 1$", "$ x = 1 $")


def test_split_sizes():
    assert split_sizes(4) == {"train": 2, "dev": 1, "test": 1}
    assert split_sizes(120) == {"train": 96, "dev": 12, "test": 12}
    for n in (1, 2, 3, 5, 17):
        s = split_sizes(n)
        assert sum(s.values()) == n and s["train"] >= 1 and (n < 3 or min(s.values()) >= 1)


def test_formulas_tokens_and_vocabulary():
    rng = np.random.default_rng(5)
    formulas = [sample_formula(rng) for _ in range(2000)]
    lengths = [len(f.split()) for f in formulas]
    assert MIN_TOKENS <= min(lengths) and max(lengths) <= MAX_TOKENS and 10 < np.mean(lengths) < 40
    assert all(f == " ".join(f.split()) for f in formulas)
    vocab = {t for f in formulas for t in f.split()}
    assert 150 <= len(vocab) <= 250
    for needed in (r"\frac", r"\sqrt", r"\vec", r"\overrightarrow", r"\angle", r"\triangle", r"\perp", r"\parallel",
                   r"\cong", r"\because", r"\therefore", r"\sum", r"\lim", r"\int", r"\log", r"\sin", "|", "_", "^"):
        assert needed in vocab, needed


def test_every_formula_renders_in_mathtext():
    for seed in range(4):  # a wider sweep (thousands of formulas x every fontset) is in the README numbers
        rng = np.random.default_rng(100 + seed)
        for i in range(40):
            latex = sample_formula(rng)
            fontset = (PRINTED_FONTSETS + HAND_FONTSETS)[i % 9]
            assert glyph_outlines(latex, fontset), latex


def test_render_formula_api():
    rng = np.random.default_rng(1)
    for style in ("printed", "handwritten"):
        img = render_formula(r"\frac { 1 } { x ^ { 2 } } + \sqrt { y }", rng, style)
        assert img.dtype == np.uint8 and img.ndim == 2 and img.min() < 100 and img[0].min() > 200
        assert 20 < img.shape[0] < 200 and img.shape[1] > img.shape[0]
    with pytest.raises(ValueError, match="mathtext"):
        render_formula(r"\frac { 1", rng, "printed")


def test_cli(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "--pages" in capsys.readouterr().out
    assert main(["--out", str(tmp_path), "--pages", "1", "--seed", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("demo set: 1 pages") and "boxes train" in line and "\n" not in line
    assert main(["--out", str(tmp_path), "--pages", "1", "--seed", "2", "--reuse"]) == 0
    assert "(reused)" in capsys.readouterr().out


def test_handwriting_font_is_used_when_present(monkeypatch):
    import matplotlib

    from lib.data.synth import fonts, render

    for key in ("rm", "it", "bf", "sf", "fallback"):
        monkeypatch.setitem(matplotlib.rcParams, f"mathtext.{key}", matplotlib.rcParams[f"mathtext.{key}"])
    fonts.handwriting_fontset.cache_clear()
    render._glyphs.cache_clear()
    monkeypatch.setattr(fonts, "handwriting_family", lambda: "DejaVu Serif")  # stands in for e.g. Caveat
    try:
        rng = np.random.default_rng(0)
        styles = [render.random_style(rng, "handwritten") for _ in range(20)]
        assert any(st.fontset == "custom" for st in styles)
        custom = [st for st in styles if st.fontset == "custom"][0]
        img = render_formula(r"\sin ^ { 2 } x = \frac { 1 } { 2 }", rng, custom)
        assert img.min() < 128
    finally:
        fonts.handwriting_fontset.cache_clear()
        render._glyphs.cache_clear()
