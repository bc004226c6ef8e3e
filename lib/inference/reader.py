"""Read one formula the way notebook 07 does: pen strokes, an uploaded file or a test image -> LaTeX.

The logic behind the "Try it" notebook, without widgets, so it is tested without a browser: which
checkpoints there are, strokes drawn through the InkML renderer of the `crohme` source, uploads checked,
and one image read with greedy decoding, the beam's n best and the attention of every token.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from ..data import inkml
from ..data.images import ImageError, dark_ink, has_ink, load_grey, preprocess, to_grey
from ..data.latex import compact
from ..models import checkpoint
from ..models.checkpoint import Checkpoint, load_model
from .decode import attention_maps, nbest

MAX_UPLOAD_BYTES = 25 * 2 ** 20     # a phone photo is a few MB
MAX_UPLOAD_PIXELS = 50_000_000      # larger images are refused before they are decoded


class ReadError(ValueError):
    """An input that cannot be read; the message is meant for the person who gave it."""


@dataclass
class CheckpointInfo:
    """A trained model found under outputs/: where it is and what the menu says about it."""

    path: Path
    run: str
    step: str
    model_name: str
    data: str
    val_exact_match: float | None
    val_edit_score: float | None

    @property
    def label(self) -> str:
        scores = "" if self.val_edit_score is None else (
            f", validation exact {self.val_exact_match:.1f} %, edit {self.val_edit_score:.1f}")
        return f"{self.run} / {self.step}: {self.model_name}, {self.data} data{scores}"


def find_checkpoints(outputs: str | Path) -> list[CheckpointInfo]:
    """Every best.pt under `outputs/` (model 1, model 2, ablation arms), newest first."""
    outputs = Path(outputs)
    found = []
    paths = sorted(outputs.glob("*/**/best.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in paths:
        try:
            ckpt = checkpoint.load(path, "cpu")
        except (OSError, ValueError):  # a half-copied or foreign file is not offered
            continue
        rel = path.parent.relative_to(outputs)
        metrics = ckpt.metrics or {}
        run = rel.parts[0]
        found.append(CheckpointInfo(path, run, "/".join(rel.parts[1:]) or ".", ckpt.model_name,
                                    ckpt.config.get("data") or run.rsplit("-", 1)[-1],
                                    metrics.get("val_exact_match"), metrics.get("val_edit_score")))
    return found


def strokes_to_image(strokes: Sequence[Sequence[Sequence[float]]],
                     symbol_height: float = inkml.SYMBOL_HEIGHT) -> np.ndarray:
    """Pen strokes (lists of (x, y) in canvas pixels) drawn exactly as the `crohme` source draws InkML traces,
    at the symbol height a checkpoint was trained with (`symbol_height(ckpt)`)."""
    traces = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]
    if not traces:
        raise ReadError("nothing drawn yet: write a formula on the canvas first")
    return inkml.render_at(inkml.Ink(traces, [], None), symbol_height)


def symbol_height(ckpt: Checkpoint | None) -> float:
    """The InkML symbol height of a checkpoint's training data (recorded with its ink scale), else the default."""
    return ckpt.symbol_height if ckpt is not None else inkml.SYMBOL_HEIGHT


def read_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """An uploaded file as a grey image; ReadError with a plain message for anything else."""
    if not data:
        raise ReadError(f"{name}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ReadError(f"{name}: {len(data) / 2 ** 20:.0f} MB is too large (at most "
                        f"{MAX_UPLOAD_BYTES // 2 ** 20} MB); crop the photo to the formula")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_UPLOAD_PIXELS:
                raise ReadError(f"{name}: {im.width}x{im.height} pixels is too large; crop it to the formula")
            im.load()
            return to_grey(im)
    except ReadError:
        raise
    except Exception as e:  # PIL raises several kinds (UnidentifiedImageError, DecompressionBombError, OSError)
        raise ReadError(f"{name}: not an image this reader knows (PNG, JPEG, GIF, BMP, TIFF, WebP): "
                        f"{type(e).__name__}") from None


@dataclass
class Reading:
    """One image read by one model."""

    model_view: np.ndarray                         # the image as the model sees it (preprocessed)
    tokens: list[str]                              # greedy decoding
    candidates: list[tuple[str, float]]            # the beam's n best: (LaTeX, length-normalised log-prob)
    attention: np.ndarray                          # [steps, h, w]: each token's attention, then <EOS>'s
    seconds: float                                 # decoding time, greedy and beam, image preparation excluded
    notes: list[str] = field(default_factory=list)

    @property
    def latex(self) -> str:
        """The greedy result as LaTeX to copy (`x^{2}`), "" when the model wrote nothing."""
        return compact(" ".join(self.tokens))


def read(model, vocab, ckpt: Checkpoint, image: np.ndarray, beam: int = 5, max_len: int = 150,
         device: str | torch.device = "cpu") -> Reading:
    """Read a grey image (any size, any polarity) with a loaded checkpoint."""

    if image is None or image.size == 0 or not has_ink(dark_ink(image)):
        raise ReadError("the image holds no ink: nothing to read")
    buckets, scale = ckpt.preprocess.buckets, ckpt.preprocess.ink_scale
    view = preprocess(image, buckets, scale=scale)
    t0 = time.perf_counter()
    tokens, maps, _ = attention_maps(model, view, vocab, max_len=max_len, device=device)
    x = torch.from_numpy(view.astype(np.float32) / 255.0)[None, None].to(device)
    best = nbest(model.eval(), x, beam=beam, max_len=max_len) if beam > 1 else []
    seconds = time.perf_counter() - t0
    candidates = [(compact(" ".join(vocab.decode(seq))), score) for seq, score in best]
    return Reading(view, tokens, candidates, maps, seconds)


def pick_checkpoint(outputs: str | Path, wanted: str | Path = "", run: str = "") -> CheckpointInfo | None:
    """The checkpoint asked for (a path), else this run's model 2, else its model 1, else the one with the best
    validation exact match (then edit score), so another run's ablation arm is never taken only for being newest."""
    found = find_checkpoints(outputs)
    if wanted:
        path = Path(wanted).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such checkpoint")
        return next((c for c in found if c.path.resolve() == path.resolve()), None) or CheckpointInfo(
            path, "?", path.parent.name, "?", "?", None, None)
    for step in ("model2", "model1"):
        hit = next((c for c in found if c.run == run and c.step == step), None)
        if hit:
            return hit
    scored = sorted(found, key=lambda c: (c.val_exact_match or 0.0, c.val_edit_score or 0.0), reverse=True)
    return scored[0] if scored else None


def read_files(info: CheckpointInfo, paths: Sequence[str | Path], beam: int = 5, max_len: int = 150,
               device: str = "cpu") -> list[dict]:
    """Each image read by the checkpoint: file, LaTeX (greedy), the beam's best, decoding ms; errors as text."""

    model, vocab, ckpt = load_model(info.path, device)
    rows = []
    for path in paths:
        try:
            r = read(model, vocab, ckpt, load_grey(path), beam=beam, max_len=max_len, device=device)
            rows.append({"file": Path(path).name, "latex": r.latex or "-",
                         "beam best": r.candidates[0][0] if r.candidates else "", "ms": round(1000 * r.seconds)})
        except (ReadError, ImageError) as e:
            rows.append({"file": Path(path).name, "latex": f"({e})", "beam best": "", "ms": ""})
    return rows


def test_images(processed: str | Path) -> list[Path]:
    """The processed test images in submission order (empty before notebook 02 has run)."""
    ids = Path(processed) / "test_ids.txt"
    if not ids.is_file():
        return []
    names = [n.strip() for n in ids.read_text(encoding="utf-8").splitlines() if n.strip()]
    return [Path(processed) / "images" / n for n in names if (Path(processed) / "images" / n).is_file()]
