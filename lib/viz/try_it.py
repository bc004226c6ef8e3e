"""Notebook 07's "Try it" panel: draw, upload or pick a formula, choose a model, read it back.

A thin layer of ipywidgets (and ipycanvas for the pen) over `lib.inference.reader`; every callback reports
problems in the panel's status line, never as a traceback.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from ..data.images import load_grey
from ..inference import reader
from ..models.checkpoint import Checkpoint, load_model
from .attention import attention_overlay
from .formulas import formula_png

CANVAS = (720, 220)     # drawing area in pixels (width, height)
PANEL_WIDTH = "760px"


def enable_colab_widgets() -> bool:
    """Colab shows third-party widgets (ipycanvas) only after this; True on Colab."""
    try:
        from google.colab import output  # type: ignore
    except ImportError:
        return False
    output.enable_custom_widget_manager()
    return True


def _png(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def _show_image(widget, img: np.ndarray, zoom: float = 2.0, max_width: int = 720) -> None:
    """An image widget at its own size (zoomed for small model inputs), never wider than the panel."""
    widget.value = _png(img)
    width = min(max_width, int(img.shape[1] * zoom))
    widget.width, widget.height = str(width), str(int(img.shape[0] * width / img.shape[1]))


def _short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


class DrawPad:
    """A canvas that records pen strokes (mouse, pen or touch) as lists of points; undo and clear."""

    def __init__(self, width: int = CANVAS[0], height: int = CANVAS[1]):
        import ipywidgets as W
        from ipycanvas import Canvas

        self.strokes: list[list[tuple[float, float]]] = []
        self._down = False
        self.canvas = Canvas(width=width, height=height, layout=W.Layout(width=f"{width}px", height=f"{height}px",
                                                                         border="1px solid #999"))
        self.pen = W.IntSlider(value=4, min=1, max=12, description="pen", layout=W.Layout(width="220px"))
        clear, undo = W.Button(description="Clear", icon="trash"), W.Button(description="Undo", icon="undo")
        clear.on_click(lambda _: self.clear())
        undo.on_click(lambda _: self.undo())
        self.canvas.on_mouse_down(self._start)
        self.canvas.on_mouse_move(self._move)
        self.canvas.on_mouse_up(self._end)
        self.canvas.on_mouse_out(self._end)
        self.canvas.on_touch_start(lambda pts: pts and self._start(*pts[0]))
        self.canvas.on_touch_move(lambda pts: pts and self._move(*pts[0]))
        self.canvas.on_touch_end(lambda pts: self._end())
        self.widget = W.VBox([self.canvas, W.HBox([clear, undo, self.pen])])
        self.redraw()

    def _start(self, x: float, y: float) -> None:
        self._down = True
        self.strokes.append([(x, y)])
        self._dot(x, y)

    def _move(self, x: float, y: float) -> None:
        if not self._down:
            return
        (px, py) = self.strokes[-1][-1]
        self.strokes[-1].append((x, y))
        c = self.canvas
        c.line_width, c.stroke_style, c.line_cap = self.pen.value, "#111", "round"
        c.stroke_line(px, py, x, y)

    def _end(self, *_) -> None:
        self._down = False

    def _dot(self, x: float, y: float) -> None:
        self.canvas.fill_style = "#111"
        self.canvas.fill_circle(x, y, self.pen.value / 2)

    def redraw(self) -> None:
        from ipycanvas import hold_canvas

        c = self.canvas
        with hold_canvas():
            c.clear()
            c.fill_style = "white"
            c.fill_rect(0, 0, c.width, c.height)
            c.line_width, c.stroke_style, c.line_cap = self.pen.value, "#111", "round"
            for stroke in self.strokes:
                self._dot(*stroke[0])
                for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
                    c.stroke_line(x0, y0, x1, y1)

    def undo(self) -> None:
        if self.strokes:
            self.strokes.pop()
        self.redraw()

    def clear(self) -> None:
        self.strokes = []
        self.redraw()


class TryIt:
    """The whole panel. `TryIt(outputs_dir, test_images).widget` is what the notebook displays."""

    def __init__(self, outputs: str | Path, test_images: list[Path] | None = None, device: str = "cpu",
                 max_len: int = 150, run: str = ""):
        import ipywidgets as W

        self.device, self.max_len, self.loaded = device, max_len, None
        self.checkpoints = reader.find_checkpoints(outputs)
        chosen = reader.pick_checkpoint(outputs, run=run)
        self.test_images = list(test_images or [])
        self.status = W.HTML()
        self.model = W.Dropdown(options=[(c.label, i) for i, c in enumerate(self.checkpoints)],
                                description="model", layout=W.Layout(width=PANEL_WIDTH))
        if chosen is not None:  # this run's model 2 (else model 1), not whichever was written last
            self.model.value = next(i for i, c in enumerate(self.checkpoints) if c.path == chosen.path)
        self.beam = W.IntSlider(value=5, min=1, max=10, description="beam")
        self.pad = DrawPad()
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="Upload an image")
        self.picker = W.Dropdown(options=[(p.name, str(p)) for p in self.test_images], description="test image",
                                 layout=W.Layout(width="420px"))
        self.source = W.Tab(children=[self.pad.widget, W.VBox([self.upload, W.HTML(
            "PNG or JPEG: a photo, a scan or a screenshot of one formula.")]), self.picker])
        for i, title in enumerate(("Draw", "Upload", "Test image")):
            self.source.set_title(i, title)
        self.button = W.Button(description="Read", button_style="primary", icon="eye")
        self.button.on_click(lambda _: self.on_read())
        self.view = W.Image(format="png")
        self.latex = W.Textarea(description="greedy", layout=W.Layout(width=PANEL_WIDTH, height="48px"))
        self.rendered = W.Image(format="png")
        self.candidates = W.HTML()
        self.token = W.IntSlider(value=0, min=0, max=0, description="token")
        self.token.observe(lambda _: self.show_attention(), names="value")
        self.attention, self.token_name, self.timing = W.Image(format="png"), W.HTML(), W.HTML()
        self.reading: reader.Reading | None = None
        results = W.VBox([W.HTML("<b>The image as the model sees it</b>"), self.view, self.latex, self.rendered,
                          W.HTML("<b>Beam candidates</b> (the beam ranks by length-normalised log-probability; the greedy reading "
                                 "above, which the attention below follows, is marked)"), self.candidates,
                          W.HTML("<b>Attention of each token</b>"), W.HBox([self.token, self.token_name]),
                          self.attention, self.timing])
        self.widget = W.VBox([self.model, self.source, W.HBox([self.button, self.beam]), self.status, results],
                             layout=W.Layout(width=PANEL_WIDTH))
        if not self.checkpoints:
            self.say("No trained model under outputs/ yet: run notebook 04 (model 2) or 03 (model 1) first, "
                     "then run this notebook again.", error=True)
            self.button.disabled = True

    def say(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#333"
        self.status.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

    def image(self, ckpt: Checkpoint | None = None) -> np.ndarray:
        """The image of the chosen tab: the drawing (at the checkpoint's pen scale), the upload or the test image."""
        tab = self.source.selected_index
        if tab == 0:
            return reader.strokes_to_image(self.pad.strokes, reader.symbol_height(ckpt))
        if tab == 1:
            files = self.upload.value
            if not files:
                raise reader.ReadError("choose a file to upload first")
            f = files[0] if isinstance(files, (list, tuple)) else next(iter(files.values()))
            return reader.read_upload(bytes(f["content"]), f.get("name", "upload"))
        if not self.picker.value:
            raise reader.ReadError("no test images: run notebook 02 first")

        return load_grey(self.picker.value)

    def load(self):

        info = self.checkpoints[self.model.value]
        if self.loaded is None or self.loaded[0] != info.path:
            self.loaded = (info.path, *load_model(info.path, self.device))
        return self.loaded[1:]

    def on_read(self) -> None:
        try:
            self.say("reading...")
            model, vocab, ckpt = self.load()
            r = reader.read(model, vocab, ckpt, self.image(ckpt), beam=self.beam.value, max_len=self.max_len,
                            device=self.device)
        except reader.ReadError as e:
            self.say(str(e), error=True)
            return
        except Exception as e:  # shown in the panel, never as a traceback
            self.say(f"could not read it: {type(e).__name__}: {e}", error=True)
            return
        self.show(r)
        self.say(f"read with {self.checkpoints[self.model.value].label}")

    def show(self, r: reader.Reading) -> None:
        self.reading = r
        _show_image(self.view, r.model_view)
        self.latex.value = r.latex or "-"
        self.rendered.value = formula_png(" ".join(r.tokens) or "-", fontsize=22)
        rows = "".join(f"<tr><td>{i + 1}</td><td><img src='data:image/png;base64,"
                       f"{base64.b64encode(formula_png(latex, fontsize=16)).decode()}' "
                       "style='max-width:330px'/></td>"
                       f"<td><code>{html.escape(_short(latex))}</code>{' (greedy)' if latex == r.latex else ''}"
                       f"</td><td>{score:.3f}</td></tr>"
                       for i, (latex, score) in enumerate(r.candidates))
        self.candidates.value = ("<table style='table-layout:fixed; width:740px'><tr><th style='width:24px'>#</th>"
                                 "<th>formula</th><th>LaTeX</th><th style='width:60px'>score</th></tr>"
                                 f"{rows}</table>") if rows else "(beam 1: greedy only)"
        self.token.max = max(0, len(r.attention) - 1)
        self.token.value = 0
        self.show_attention()
        self.timing.value = f"decoding: {1000 * r.seconds:.0f} ms on {self.device}"

    def show_attention(self) -> None:
        r = self.reading
        if r is None or not len(r.attention):
            return
        i = min(self.token.value, len(r.attention) - 1)
        names = r.tokens + ["<EOS>"]
        self.token_name.value = f"<code>{html.escape(names[i] if i < len(names) else '?')}</code>"
        _show_image(self.attention, attention_overlay(r.model_view, r.attention[i]))
