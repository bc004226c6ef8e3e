"""Sub-expressions cut from InkML files (lib/data/inkml_parts.py) and the writer-held-out dev split: a piece's
strokes are the strokes of its symbols, files whose MathML and LaTeX disagree are refused with a reason, and
no dev or test stroke reaches a training image."""
import collections
import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lib.data import crohme, inkml, inkml_parts

ROOT = Path(__file__).resolve().parent.parent
CROHME = ROOT.parent / "shared" / "data" / "crohme"
needs_crohme = pytest.mark.skipif(not CROHME.is_dir(), reason=f"CROHME data not found at {CROHME}")

# x^2 + 1 = y: five symbols, one stroke each (the "+" two)
MATHML = """<math xmlns="http://www.w3.org/1998/Math/MathML"><mrow>
  <msup><mi xml:id="x_1">x</mi><mn xml:id="2_1">2</mn></msup>
  <mrow><mo xml:id="+_1">+</mo><mrow><mn xml:id="1_1">1</mn>
  <mrow><mo xml:id="=_1">=</mo><mi xml:id="y_1">y</mi></mrow></mrow></mrow></mrow></math>"""
SYMBOLS = [("x_1", ["0 0, 10 10", "10 0, 0 10"]), ("2_1", ["12 -8, 16 -8, 12 -2, 16 -2"]),
           ("+_1", ["20 5, 30 5", "25 0, 25 10"]), ("1_1", ["35 0, 35 10"]),
           ("=_1", ["40 3, 48 3", "40 7, 48 7"]), ("y_1", ["52 0, 56 6, 60 0", "56 6, 54 14"])]


def pen_file(path: Path, truth: str = "$x^2+1=y$", mathml: str = MATHML, symbols=SYMBOLS,
             writer: str | None = "w1") -> Path:
    traces, groups, n = [], [], 0
    for sid, strokes in symbols:
        views = ""
        for s in strokes:
            traces.append(f'<trace id="{n}">{s}</trace>')
            views += f'<traceView traceDataRef="{n}"/>'
            n += 1
        groups.append(f'<traceGroup><annotation type="truth">{sid.split("_")[0]}</annotation>'
                      f'<annotationXML href="{sid}"/>{views}</traceGroup>')
    who = f'<annotation type="writer">{writer}</annotation>' if writer else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'<ink xmlns="http://www.w3.org/2003/InkML"><annotation type="truth">{truth}</annotation>{who}'
                    f'<annotationXML type="truth" encoding="Content-MathML">{mathml}</annotationXML>'
                    f'{"".join(traces)}<traceGroup><annotation type="truth">Segmentation</annotation>'
                    f'{"".join(groups)}</traceGroup></ink>')
    return path


def six_writers(src: Path, files: int) -> Path:
    """A CROHME-shaped folder: 6 writers with `files` distinct formulas each (x^2+k=y), and one test file."""
    for w in range(6):
        for i in range(files):
            k = i + 10 * w
            pen_file(src / "train" / "Col" / f"w{w}_f{i}.inkml", truth=f"$x^2+{k}=y$",
                     mathml=MATHML.replace(">1</mn>", f">{k}</mn>"), writer=f"writer{w}")
    pen_file(src / "test2014" / "t.inkml")
    return src


def test_a_file_is_cut_into_its_scripts_terms_and_sides(tmp_path):
    ink, pieces = inkml_parts.decompose(pen_file(tmp_path / "a.inkml"))
    got = {p.tex: p.traces for p in pieces}
    # the relation's sides and the terms around "+"; no single symbols, not the whole formula
    assert set(got) == {"x ^ { 2 } + 1", "1 = y", "x ^ { 2 }"}
    assert got["x ^ { 2 }"] == [0, 1, 2]                  # x's two strokes and the 2's
    assert got["1 = y"] == [5, 6, 7, 8, 9]
    image = inkml.render(inkml_parts.piece_ink(ink, pieces[0]))
    assert image.min() < 100 and image.shape[1] < inkml.render(ink).shape[1]


def test_files_that_cannot_be_cut_say_why(tmp_path):
    wrong = pen_file(tmp_path / "wrong.inkml", truth="$x^3+1=y$")          # the MathML reads x^2
    with pytest.raises(inkml_parts.PartsError, match="MathML reads") as e:
        inkml_parts.decompose(wrong)
    assert e.value.reason == inkml_parts.DISAGREES and "wrong.inkml" in str(e.value)
    unsegmented = pen_file(tmp_path / "u.inkml", symbols=[s for s in SYMBOLS if s[0] != "y_1"])
    with pytest.raises(inkml_parts.PartsError) as e:
        inkml_parts.decompose(unsegmented)
    assert e.value.reason == inkml_parts.UNSEGMENTED and "y_1" in str(e.value)
    no_math = pen_file(tmp_path / "n.inkml", mathml="")
    assert inkml_parts.list_parts(str(no_math))[1] == inkml_parts.NO_MATHML


def _labels(path: Path, traces: list[int]) -> list[str]:
    """The symbol labels of the trace groups that hold these strokes (read independently of inkml_parts)."""
    ns = inkml.NS
    root = ET.parse(path).getroot()
    order = [t.get("id") for t in root.iter(f"{ns}trace") if (t.text or "").strip()]
    wanted = {order[i] for i in traces}
    out = []
    for g in root.iter(f"{ns}traceGroup"):
        refs = {v.get("traceDataRef") for v in g.findall(f"{ns}traceView")}
        truth = g.find(f"{ns}annotation")
        if refs and refs <= wanted and truth is not None:
            out.append(truth.text.strip())
    return out


STRUCTURE = {"{", "}", "^", "_"}


@needs_crohme
def test_real_pieces_strokes_and_latex_agree():
    """On real files, the symbols whose strokes a piece holds are the symbols its LaTeX writes."""
    files = sorted((CROHME / "train" / "KAIST").glob("*.inkml"))[:25] + \
        sorted((CROHME / "train" / "HAMEX").glob("*.inkml"))[:25]
    checked = 0
    for f in files:
        try:
            _, pieces = inkml_parts.decompose(f)
        except inkml_parts.PartsError:
            continue
        for p in pieces:
            drawn = collections.Counter(_labels(f, p.traces))
            written = collections.Counter(t for t in p.tex.split() if t not in STRUCTURE)
            drawn["\\frac"] = drawn.pop("-", 0) - written["-"]          # a fraction bar is written \frac
            drawn["-"] = written["-"]
            assert +drawn == +written, (f, p.tex, drawn, written)
            checked += 1
    assert checked > 60


def test_writer_split_holds_out_writers_and_their_formulas(tmp_path):
    src = tmp_path / "c"
    for w in range(8):
        for i in range(6):
            shared = i < 2                                   # formulas 0, 1 written by every writer
            truth = f"$x^2+{i}=y$" if shared else f"$x^2+{i + 10 * w}=y$"
            pen_file(src / "train" / "Col" / f"w{w}_f{i}.inkml", truth=truth, writer=f"writer{w}")
    pen_file(src / "test2014" / "t.inkml")
    jobs = crohme.plan(src, None, None, 0.3, seed=1)
    who = {f: crohme.writer_key(f) for f, s, _ in jobs if s != "test"}
    split_writers = collections.defaultdict(set)
    for f, s, _ in jobs:
        if s != "test":
            split_writers[who[f]].add("held" if s in ("dev", "unused") else s)
    assert all(len(v) == 1 for v in split_writers.values())            # a writer is held out whole
    formulas = {s: {crohme.formula_key(f) for f, sp, _ in jobs if sp == s} for s in ("train", "dev", "unused")}
    assert formulas["dev"] and not formulas["dev"] & formulas["train"]
    assert formulas["unused"] and formulas["unused"] <= formulas["train"]  # held writers' shared formulas
    report = crohme.export_crohme(src, tmp_path / "out", None, None, 0.3, seed=1, workers=0)
    assert report["split_by"] == "writer+formula"
    assert report["splits"]["dev"]["dropped"][crohme.UNUSED] == len([j for j in jobs if j[1] == "unused"])
    with pytest.raises(ValueError, match="crohme_dev_by"):
        crohme.plan(src, None, None, 0.3, dev_by="page")


def test_parts_come_from_training_files_only(tmp_path):
    src = six_writers(tmp_path / "c", 4)
    out = tmp_path / "out"
    report = crohme.export_crohme(src, out, None, None, 0.34, seed=0, workers=0, parts=2)
    parts = report["parts"]
    trained = report["splits"]["train"]["kept"]
    assert parts["parts_written"] == 2 * parts["files_cut"] and parts["files_not_cut"] == {}
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    train_files = {r["source"] for r in rows if r["split"] == "train" and "#" not in r["source"]}
    held = {r["source"] for r in rows if r["split"] != "train"}
    pieces = [r for r in rows if "#" in r["source"]]
    assert len(pieces) == parts["parts_written"] and trained == len(train_files) + len(pieces)
    assert held and all(r["source"].split("#")[0] in train_files for r in pieces)   # no dev or test stroke
    for r in pieces:
        label = (out / "train" / r["label"]).read_text().strip()
        assert label == r["source"].split("#", 1)[1] and (out / "train" / f"{r['crop_id']}.png").is_file()
    # "x ^ { 2 }" is a piece of every file and a dev formula of none; "1 = y"-like sides are per file
    assert parts["distinct_formulas"] >= 2 and parts["dropped_dev_formula"] == 0


def test_a_piece_that_is_a_dev_formula_is_not_trained_on(tmp_path):
    src = tmp_path / "c"
    pen_file(src / "train" / "Col" / "a.inkml", writer="alice")                        # x^2+1=y
    square = """<math xmlns="http://www.w3.org/1998/Math/MathML"><msup><mi xml:id="x_1">x</mi>
      <mn xml:id="2_1">2</mn></msup></math>"""
    pen_file(src / "train" / "Col" / "b.inkml", truth="$x^2$", mathml=square, symbols=SYMBOLS[:2], writer="bob")
    pen_file(src / "test2014" / "t.inkml")

    def split_of(seed):
        return {crohme.writer_key(f): s for f, s, _ in crohme.plan(src, None, None, 0.5, seed=seed)}

    seed = next(s for s in range(200) if split_of(s).get("Col:alice") == "train" and split_of(s)["Col:bob"] == "dev")
    report = crohme.export_crohme(src, tmp_path / "out", None, None, 0.5, seed=seed, workers=0, parts=5)
    assert report["parts"]["dropped_dev_formula"] == 1                     # x^2 is bob's dev formula
    labels = {p.read_text().strip() for p in (tmp_path / "out" / "train").glob("*~p*.txt")}
    assert labels == {"x ^ { 2 } + 1", "1 = y"}
