"""Atomic writes: a temp file in the same folder, then `os.replace`, so a crash never leaves half a file."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def _atomic(path: str | os.PathLike, write: Callable[[Any], None], mode: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text (UTF-8) atomically."""
    return _atomic(path, lambda f: f.write(text), "w")


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write bytes atomically."""
    return _atomic(path, lambda f: f.write(data), "wb")


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write JSON (UTF-8, non-ASCII kept readable) atomically."""
    return write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def write_with(path: str | os.PathLike, writer: Callable[[Any], None], binary: bool = True) -> Path:
    """Call `writer(file)` on a temp file, then move it into place (for zip files and the like)."""
    return _atomic(path, writer, "wb" if binary else "w")


def torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """`torch.save` atomically (checkpoints survive a kill mid-write)."""
    import torch

    return _atomic(path, lambda f: torch.save(obj, f), "wb")
