"""InkML pen traces -> grey formula images: `python -m lib.data.inkml SRC_DIR OUT_DIR [--workers N]`.

Devices record at very different scales, so each file is scaled to put its median symbol (trace group,
or stroke when there are no groups) at `SYMBOL_HEIGHT` pixels; strokes are drawn with round joints at a
few times the size and reduced, which anti-aliases them: dark ink on white, like the other sources.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..run import atomic
from ..run.parallel import parallel_map
from .images import png_bytes

NS = "{http://www.w3.org/2003/InkML}"
SYMBOL_HEIGHT = 40      # pixels for the median symbol: formulas come out ~100 px high (median)
STROKE = 2.6            # pen width in pixels
MARGIN = 8              # white border in pixels
SUPERSAMPLE = 3         # draw at 3x, then reduce: anti-aliased strokes
MAX_SIZE = (1600, 400)  # larger drawings are scaled down to fit
INK = 20                # grey value of the ink

# skip reasons
PARSE_ERROR = "xml_parse_error"
NO_TRUTH = "no_truth"
NO_TRACES = "no_usable_traces"
BAD_TRACE = "bad_trace"


class InkmlError(ValueError):
    """An InkML file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | Path, reason: str, detail: str):
        super().__init__(f"{path}: {detail}")
        self.reason = reason


@dataclass
class Ink:
    """Strokes (N x 2 float arrays), symbol groups (lists of stroke indices) and the truth LaTeX."""

    traces: list[np.ndarray]
    groups: list[list[int]]
    truth: str | None
    empty_traces: int = 0
    notes: list[str] = field(default_factory=list)
    trace_index: dict[str, int] = field(default_factory=dict)  # a <trace>'s id -> its place in `traces`


def _parse_xml(path: Path) -> ET.Element:
    data = path.read_bytes()
    try:
        return ET.fromstring(data)
    except ET.ParseError as first:
        try:  # a stray non-UTF-8 byte (seen in a MathML annotation) should not cost the whole file
            return ET.fromstring(data.decode("utf-8", "replace"))
        except (ET.ParseError, ValueError):
            raise InkmlError(path, PARSE_ERROR, f"XML does not parse ({first})") from None


def _points(text: str | None) -> np.ndarray:
    """"x y [t], x y [t], ..." -> N x 2; raises ValueError on garbage."""
    rows = [p.split() for p in (text or "").split(",") if p.strip()]
    if not rows:
        return np.zeros((0, 2))
    pts = np.array([[float(r[0]), float(r[1])] for r in rows], dtype=np.float64)
    if not np.isfinite(pts).all():
        raise ValueError("non-finite coordinate")
    return pts


def _truth(root: ET.Element) -> str | None:
    # only the document's own annotation: trace groups carry a "truth" of their own ("Segmentation", symbols)
    truth = next((a.text for a in root.findall(f"{NS}annotation") if a.get("type") == "truth"), None)
    return truth.strip() if truth and truth.strip() else None


def read_truth(path: str | Path) -> str | None:
    """Only the truth LaTeX of a file (None when it has none); raises InkmlError when the XML is bad."""
    try:
        return _truth(_parse_xml(Path(path)))
    except OSError as e:
        raise InkmlError(path, PARSE_ERROR, f"cannot read ({e})") from None


def read_inkml(path: str | Path) -> Ink:
    """Parse one InkML file; raises InkmlError (with a `reason`) when it cannot be rendered."""
    return ink_of(read_root(path), path)


def read_root(path: str | Path) -> ET.Element:
    """The file's XML root; InkmlError when it cannot be read or parsed."""
    try:
        return _parse_xml(Path(path))
    except OSError as e:
        raise InkmlError(path, PARSE_ERROR, f"cannot read ({e})") from None


def ink_of(root: ET.Element, path: str | Path) -> Ink:
    """The strokes, symbol groups and truth of a parsed file (`path` names it in errors)."""
    truth = _truth(root)
    traces: list[np.ndarray] = []
    index: dict[str, int] = {}
    empty = 0
    for tr in root.iter(f"{NS}trace"):
        try:
            pts = _points(tr.text)
        except (ValueError, IndexError) as e:
            raise InkmlError(path, BAD_TRACE, f"trace {tr.get('id')!r} does not parse ({e})") from None
        if len(pts) == 0:
            empty += 1
            continue
        index[tr.get("id", str(len(traces)))] = len(traces)
        traces.append(pts)
    if not traces:
        raise InkmlError(path, NO_TRACES, f"no trace with points ({empty} empty)")
    groups = []
    for g in root.iter(f"{NS}traceGroup"):
        refs = [index[v.get("traceDataRef")] for v in g.findall(f"{NS}traceView") if v.get("traceDataRef") in index]
        if refs:
            groups.append(refs)
    return Ink(traces, groups, truth, empty, trace_index=index)


def symbol_size(ink: Ink) -> float:
    """Median of the symbols' (or strokes') larger side, in the file's own units."""
    parts = [np.concatenate([ink.traces[i] for i in g]) for g in ink.groups] or ink.traces
    sizes = [float(np.ptp(p, axis=0).max()) for p in parts]
    sizes = [s for s in sizes if s > 0]
    return float(np.median(sizes)) if sizes else 1.0


def render(ink: Ink, symbol_height: float = SYMBOL_HEIGHT, stroke: float = STROKE, margin: int = MARGIN,
           max_size: tuple[int, int] = MAX_SIZE) -> np.ndarray:
    """Draw the strokes: uint8 (H, W), white background, dark anti-aliased ink."""
    pts = np.concatenate(ink.traces)
    lo, span = pts.min(axis=0), np.ptp(pts, axis=0)
    scale = symbol_height / symbol_size(ink)
    fit = [(m - 2 * margin) / s for m, s in zip(max_size, span) if s * scale > m - 2 * margin]
    scale = min([scale, *fit])
    w, h = (int(math.ceil(s * scale)) + 2 * margin for s in span)
    ss = SUPERSAMPLE
    canvas = Image.new("L", (w * ss, h * ss), 255)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(stroke * ss))
    r = width / 2
    for tr in ink.traces:
        xy = ((tr - lo) * scale + margin) * ss
        flat = [tuple(p) for p in xy]
        if len(flat) > 1:
            draw.line(flat, fill=INK, width=width, joint="curve")
        for x, y in (flat[0], flat[-1]):  # round pen ends (and single-point dots)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=INK)
    return np.asarray(canvas.reduce(ss), dtype=np.uint8)


def render_at(ink: Ink, symbol_height: float = SYMBOL_HEIGHT) -> np.ndarray:
    """`render` at another scale: the median symbol `symbol_height` pixels high, the pen width in proportion."""
    return render(ink, symbol_height=symbol_height, stroke=STROKE * symbol_height / SYMBOL_HEIGHT)


def render_file(job: tuple) -> dict:
    """Worker: (inkml path, png path, label path or "" [, symbol height]) -> result dict; problems are
    returned, not raised."""
    src, png, label = job[:3]
    symbol_height = job[3] if len(job) > 3 else SYMBOL_HEIGHT
    try:
        ink = read_inkml(src)
        if ink.truth is None:
            raise InkmlError(src, NO_TRUTH, "no <annotation type=\"truth\">")
        img = render_at(ink, symbol_height)
        atomic.write_bytes(png, png_bytes(img))
        if label:
            atomic.write_text(label, ink.truth + "\n")
        return {"src": src, "ok": True, "empty_traces": ink.empty_traces, "height": img.shape[0],
                "width": img.shape[1]}
    except InkmlError as e:
        return {"src": src, "ok": False, "reason": e.reason, "error": str(e)}


def summarise(results: list[dict], seconds: float) -> dict:
    """Counts per reason, examples, image sizes and speed of a batch of `render_file` results."""
    reasons = Counter(r["reason"] for r in results if not r["ok"])
    examples: dict[str, list[str]] = {}
    for r in results:
        if not r["ok"] and len(examples.setdefault(r["reason"], [])) < 5:
            examples[r["reason"]].append(r["error"])
    heights = [r["height"] for r in results if r["ok"]]
    return {"seen": len(results), "rendered": len(heights), "skipped": dict(reasons), "examples": examples,
            "empty_traces_dropped": sum(r.get("empty_traces", 0) for r in results if r["ok"]),
            "median_height": float(np.median(heights)) if heights else None,
            "seconds": round(seconds, 2), "files_per_s": round(len(results) / max(seconds, 1e-9), 1)}


def file_id(path: Path, root: Path) -> str:
    """A file-name-safe id from the path below `root`: `HAMEX/x.inkml` -> `HAMEX_x`."""
    rel = path.relative_to(root).with_suffix("")
    return "_".join(rel.parts).replace(" ", "_")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.data.inkml", description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="folder searched recursively for *.inkml")
    ap.add_argument("out", type=Path, help="writes <id>.png, <id>.txt (truth) and render_report.json")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    ap.add_argument("--limit", type=int, default=None, help="render only the first N files (sorted)")
    a = ap.parse_args(argv)
    if not a.src.is_dir():
        print(f"{a.src}: no such folder", file=sys.stderr)
        return 2
    files = sorted(a.src.rglob("*.inkml"))[:a.limit]
    jobs = [(str(f), str(a.out / f"{file_id(f, a.src)}.png"), str(a.out / f"{file_id(f, a.src)}.txt"))
            for f in files]
    t0 = time.monotonic()
    results = parallel_map(render_file, jobs, a.workers, desc="render", unit="file")
    report = summarise(results, time.monotonic() - t0)
    atomic.write_json(a.out / "render_report.json", report)
    print(f"{report['rendered']}/{report['seen']} rendered in {report['seconds']}s "
          f"({report['files_per_s']} files/s); skipped {report['skipped']} -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
