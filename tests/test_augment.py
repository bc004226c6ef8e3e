"""Augmentation pipelines: uint8, one channel, white paper, formula kept whole; seeding across workers/epochs."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from lib.data import augment
from lib.data.dataset import worker_init_fn
from lib.data.images import INK_THRESHOLD, preprocess


def formula(text: str = "x2+y=z", scale: float = 1.2, thick: int = 2) -> np.ndarray:
    """A black-on-white 'formula' cropped and padded to its bucket, like the processed images."""
    canvas = np.full((120, 60 + 28 * len(text)), 255, np.uint8)
    cv2.putText(canvas, text, (10, 80), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, scale, 0, thick, cv2.LINE_AA)
    return preprocess(canvas)


def border(img: np.ndarray, k: int = 2) -> np.ndarray:
    return np.concatenate([img[:k].ravel(), img[-k:].ravel(), img[:, :k].ravel(), img[:, -k:].ravel()])


def apply(t, img: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
    return t(image=img, other=other)["image"] if other is not None else t(image=img)["image"]


@pytest.mark.parametrize("name", augment.PIPELINES)
def test_every_pipeline_keeps_uint8_one_channel_white_paper(name):
    img, other = formula(), formula("abc")
    t = augment.get_transform(name, p=1.0, seed=0)
    for _ in range(5):
        out = apply(t, img, other if name == "mixup" else None)
        assert out.dtype == np.uint8 and out.ndim == 2 and out.shape == img.shape
        edge = border(out)
        # GaussNoise clips at 255, so paper loses E[min(0, N(0, s))] = 0.4 s grey levels on average:
        # at most 0.4 * 0.06 * 255 = 6 levels (2 % of the ink contrast); 8 leaves room for sampling.
        assert edge.mean() >= (247 if name in ("noise", "all") else 254), name
        # and noise never turns paper into ink (a 55-level dip is 3.6 s at the largest s)
        assert (edge < INK_THRESHOLD).mean() < 0.005, name
        assert (out < INK_THRESHOLD).any(), f"{name} erased the formula"


def test_none_is_identity_and_bad_input_is_refused():
    img = formula()
    assert apply(augment.get_transform("none"), img) is img
    with pytest.raises(ValueError, match="uint8 H x W"):
        augment.get_transform("noise")(image=np.dstack([img] * 3))
    with pytest.raises(ValueError, match="uint8 H x W"):
        augment.get_transform("blur")(image=img.astype(np.float32))
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        augment.get_transform("rotate")
    with pytest.raises(ValueError, match="unknown augmentation option"):
        augment.get_transform("noise", sigma=3)


def ink_box(img: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(img < augment.PAPER)
    return ys.min(), ys.max() + 1, xs.min(), xs.max() + 1


def test_scale_changes_width_and_height_separately_on_the_same_canvas():
    img = np.full((100, 400), 255, np.uint8)
    img[4:44, 4:204] = 0                     # a 200 x 40 'formula' in the top-left corner, like preprocess
    out = augment.scale_ink(img, 0.7, 1.3)
    assert out.shape == img.shape and out.dtype == np.uint8
    y0, y1, x0, x1 = ink_box(out)
    assert (y0, x0) == (4, 4) and x1 - x0 == 140 and y1 - y0 == 52
    assert (out[y1:] == 255).all() and (out[:, x1:] == 255).all()


def test_scale_never_cuts_the_formula_off():
    img = formula("x2+y=z+1")
    h, w = img.shape
    for sx, sy in [(1.3, 1.3), (2.0, 0.5), (0.5, 3.0)]:
        out = augment.scale_ink(img, sx, sy)
        y0, y1, x0, x1 = ink_box(out)
        assert out.shape == img.shape and 0 <= y0 and y1 <= h and 0 <= x0 and x1 <= w
        assert (out < INK_THRESHOLD).sum() > 0.3 * (img < INK_THRESHOLD).sum()
    t = augment.get_transform("scale", p=1.0, scale_x=(0.7, 1.3), scale_y=(0.7, 1.3), seed=1)
    widths = {ink_box(apply(t, img))[3] for _ in range(6)}
    assert len(widths) > 1


def test_reseed_makes_streams_repeatable_and_distinct():
    img = formula()
    for name in ("noise", "all", "mixup"):
        t = augment.get_transform(name, p=1.0)
        def run(seed):
            augment.reseed(t, seed)
            return [apply(t, img, formula("ab") if name == "mixup" else None) for _ in range(3)]
        a, b, c = run(7), run(7), run(8)
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), name
        assert not all(np.array_equal(x, y) for x, y in zip(a, c)), name


class Copies(Dataset):
    """Augmented copies of one image (the transform is the only source of difference)."""

    def __init__(self, img: np.ndarray, transform):
        self.img, self.transform = img, transform

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(self.transform(image=self.img)["image"].copy())


def epochs(init, name: str) -> list[list[torch.Tensor]]:
    ds = Copies(formula(), augment.get_transform(name, p=1.0, seed=0))
    loader = DataLoader(ds, batch_size=1, num_workers=2, worker_init_fn=init)
    return [[b[0] for b in loader] for _ in range(2)]


@pytest.mark.parametrize("name", ["noise", "all"])
def test_workers_and_epochs_repeat_without_reseeding(name):
    """The albumentations 2.0.8 problem this project works around: forked workers share one RNG state."""
    (e1, e2) = epochs(None, name)
    assert torch.equal(e1[0], e1[1]) and torch.equal(e1[2], e1[3])   # worker 0 == worker 1
    assert all(torch.equal(a, b) for a, b in zip(e1, e2))            # epoch 1 == epoch 2


@pytest.mark.parametrize("name", ["noise", "all"])
def test_worker_init_fn_gives_each_worker_and_epoch_its_own_stream(name):
    (e1, e2) = epochs(worker_init_fn, name)
    assert not torch.equal(e1[0], e1[1]) and not torch.equal(e1[2], e1[3])
    assert not any(torch.equal(a, b) for a, b in zip(e1, e2))


def test_mixup_grows_the_canvas_rather_than_cut_a_formula_off():
    a = np.full((60, 140), 255, np.uint8)
    a[10:30, 4:100] = 0
    b = np.full((100, 400), 255, np.uint8)
    b[50:90, 200:390] = 0                    # outside a's canvas
    out = augment.blend(a, b, 0.7)
    assert out.shape == (100, 400) and out.dtype == np.uint8
    assert (out[:60, :140][a < 100] < INK_THRESHOLD).all()           # a's formula, dark
    assert (out[b < 100] < augment.PAPER).all()                      # b's formula, faint but whole
    assert augment.blend(a, b, 0.7, buckets=[(140, 60), (480, 120)]).shape == (120, 480)


def test_mixup_keeps_the_first_canvas_when_nothing_is_lost():
    a = np.full((100, 400), 255, np.uint8)
    a[10:30, 4:300] = 0
    small = np.full((60, 140), 255, np.uint8)
    small[20:40, 10:100] = 0
    out = augment.blend(a, small, 0.6)
    assert out.shape == a.shape and (out[small.shape[0]:] [a[60:] < 100] < INK_THRESHOLD).all()
    assert (out[:60, :140][small < 100] < augment.PAPER).all()
    big_blank = np.full((200, 800), 255, np.uint8)
    big_blank[40:50, 20:60] = 0                          # big canvas, ink inside a's canvas
    assert augment.blend(a, big_blank, 0.6).shape == a.shape


def test_mixup_draws_partners_from_its_own_stream():
    t = augment.get_transform("mixup", p=1.0, seed=0)
    first, second = formula("ab"), formula("cd")
    assert apply(t, first) is first                        # nothing to mix with yet
    out = apply(t, second)
    assert out.shape == second.shape and not np.array_equal(out, second)
    with pytest.raises(ValueError, match="uint8 H x W"):
        t(image=second, other=second.astype(np.float32))
