"""OCR label files: decode (UTF-8, BOM, GBK fallback) and classify into tokens or a drop reason."""
from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

from . import latex

# Drop reasons of a label, in the order they are checked (also the report's vocabulary).
UNDECODABLE = "undecodable_label"
OCR_ERROR = "ocr_error"
EMPTY = "empty"
MULTILINE = "multiline"
MALFORMED = "malformed_latex"
CHINESE = "chinese"
NOT_WHITELISTED = "not_whitelisted"
TOO_LONG = "too_long"
OCR_ERROR_TEXTS = ("error mathpix", "error")

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class LabelError(ValueError):
    """A label file that cannot be decoded; the message names the file."""


def decode_label(data: bytes, name: str = "<label>") -> tuple[str, str]:
    """(text, encoding): a BOM decides, else strict UTF-8, else GB18030 (a superset of GBK)."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                raise LabelError(f"{name}: starts with a {enc} BOM but does not decode ({e})") from None
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise LabelError(f"{name}: neither UTF-8 nor GBK text")


def read_label(path: str | Path) -> tuple[str, str]:
    """(text, encoding) of a label file; raises LabelError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LabelError(f"{path}: cannot read ({e})") from None
    return decode_label(data, str(path))


@dataclass
class Verdict:
    """A label's tokens when usable, else the reason it is dropped."""

    tokens: list[str] | None
    reason: str | None = None
    detail: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason is None


def classify(text: str, max_tokens: int | None = None, plain: bool = False) -> Verdict:
    """Normalise an OCR label, or say why it cannot be used (one reason, checked in a fixed order)."""
    stripped = text.strip().strip("\ufeff").strip()
    if stripped.lower() in OCR_ERROR_TEXTS or stripped.lower().startswith("error mathpix"):
        return Verdict(None, OCR_ERROR)
    if not latex.tokenize(stripped):
        return Verdict(None, EMPTY)
    if latex.is_multiline(stripped):
        return Verdict(None, MULTILINE)
    try:
        tokens = latex.normalize(stripped, plain=plain)
    except latex.LatexError as e:
        return Verdict(None, MALFORMED, str(e))
    if not tokens:
        return Verdict(None, EMPTY)
    if latex.has_cjk(tokens):
        return Verdict(None, CHINESE, "".join(t for t in tokens if latex.has_cjk(t)))
    outside = latex.outside_whitelist(tokens)
    if outside:
        return Verdict(None, NOT_WHITELISTED, " ".join(outside), {"tokens": outside})
    if max_tokens is not None and len(tokens) > max_tokens:
        return Verdict(None, TOO_LONG, f"{len(tokens)} > {max_tokens} tokens")
    return Verdict(tokens)


def classify_file(path: str | Path, max_tokens: int | None = None, plain: bool = False) -> Verdict:
    """`classify` of a label file; an undecodable file gives the reason `undecodable_label`."""
    try:
        text, encoding = read_label(path)
    except LabelError as e:
        return Verdict(None, UNDECODABLE, str(e))
    verdict = classify(text, max_tokens, plain)
    verdict.extra["encoding"] = encoding
    return verdict
