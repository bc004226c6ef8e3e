"""Device and numeric precision, chosen once: bf16 autocast on Ampere+, fp16 + GradScaler below, fp32 on CPU."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Precision:
    """Where to run and in which autocast dtype (None: plain fp32)."""

    device: torch.device
    amp_dtype: torch.dtype | None
    use_scaler: bool

    @property
    def name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[self.amp_dtype]

    def autocast(self):
        """Context for forward passes (a no-op in fp32)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def grad_scaler(self) -> "torch.amp.GradScaler":
        """A GradScaler that is active only for fp16 (bf16 and fp32 need none)."""
        return torch.amp.GradScaler(self.device.type if self.use_scaler else "cpu", enabled=self.use_scaler)

    def __str__(self) -> str:
        return f"{self.device} {self.name}"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The asked device, else CUDA when available, else CPU."""
    if device in (None, "", "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def choose(device: str | torch.device | None = None) -> Precision:
    """Precision for a device. Capability decides, not `torch.cuda.is_bf16_supported()` (it says yes on a T4)."""
    dev = pick_device(device)
    if dev.type != "cuda":
        return Precision(dev, None, False)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    major, _ = torch.cuda.get_device_capability(dev)
    if major >= 8:  # Ampere and later (3090, A100, H100): bf16 has fp32's range, no scaler
        return Precision(dev, torch.bfloat16, False)
    return Precision(dev, torch.float16, True)  # Turing/Volta (Colab T4): fp16 needs loss scaling
