"""Fonts found on the system: a handwriting font for students' answers (optional) and a text font."""
from __future__ import annotations

import re
from functools import lru_cache

import matplotlib
from matplotlib import font_manager

# Family names of common handwriting-like fonts (Google Fonts, Windows, macOS, xkcd).
HAND_PATTERN = re.compile(
    r"hand|script|comic|print|caveat|kalam|indie flower|patrick|architect|shadows|marker|xkcd|humor|chalk|"
    r"gochi|rock salt|permanent|gloria|dancing|schoolbell|reenie|nanum pen|kristen|bradley", re.I)


@lru_cache(maxsize=1)
def handwriting_family() -> str | None:
    """The first handwriting-like font family installed (sorted by name), or None."""
    names = sorted({f.name for f in font_manager.fontManager.ttflist if HAND_PATTERN.search(f.name)})
    return names[0] if names else None


@lru_cache(maxsize=1)
def handwriting_fontset() -> bool:
    """Point mathtext's `custom` fontset at the handwriting font; False when none is installed."""
    fam = handwriting_family()
    if fam is None:
        return False
    for key in ("rm", "it", "bf", "sf"):
        matplotlib.rcParams[f"mathtext.{key}"] = fam + (":italic" if key == "it" else "")
    matplotlib.rcParams["mathtext.fallback"] = "stixsans"  # symbols a hand font lacks
    return True


@lru_cache(maxsize=4)
def text_font_path(serif: bool = True) -> str:
    """A TrueType file for printed page text (matplotlib ships DejaVu, so one always exists)."""
    family = "DejaVu Serif" if serif else "DejaVu Sans"
    return font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=True)
