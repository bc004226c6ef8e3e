"""Training data: processed lists + vocab -> tensors, bucketed batches, white padding with a mask."""
from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from . import LIST_NAMES, SPLITS, augment
from .images import load_grey
from .vocab import PAD_ID, Vocab


def load_split(processed_dir: str | Path, split: str) -> list[tuple[str, list[str]]]:
    """(image name, tokens) for each line of a split's list (`dev`: validate_filter.lst); errors name the
    file and line."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    processed_dir = Path(processed_dir)
    formulas = (processed_dir / "formulas.norm.lst").read_text(encoding="utf-8").split("\n")
    lst = processed_dir / LIST_NAMES[split]
    out = []
    for n, line in enumerate(lst.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) >= len(formulas):
            raise ValueError(f"{lst}:{n}: expected '<image> <formula index>', got {line!r}")
        out.append((parts[0], formulas[int(parts[1])].split()))
    return out


FINGERPRINTED = ("formulas.norm.lst", *LIST_NAMES.values(), "test_ids.txt", "vocab.json")


def fingerprint(processed_dir: str | Path) -> str | None:
    """A hash of a processed set's formulas, split lists, test ids and vocabulary (None where it has none):
    a model records the set it was trained on, and evaluation refuses to score it against another."""
    d = Path(processed_dir)
    if not (d / "formulas.norm.lst").is_file():
        return None
    h = hashlib.sha1()
    for name in FINGERPRINTED:
        h.update(name.encode() + b"\0" + ((d / name).read_bytes() if (d / name).is_file() else b"-") + b"\0")
    return h.hexdigest()[:16]


def load_vocab(processed_dir: str | Path) -> Vocab:
    return Vocab.load(Path(processed_dir) / "vocab.json")


def get_transform(name: str) -> Callable | None:
    """The augmentation pipeline called `name` from lib.data.augment (None for "none")."""
    return augment.get_transform(name)


class FormulaDataset(Dataset):
    """Items: (image float [1, H, W] in 0..1 with white 1, token ids with <SOS>/<EOS>, image name)."""

    def __init__(self, processed_dir: str | Path, split: str, vocab: Vocab, transform: Callable | None = None,
                 limit: int | None = None):
        self.dir = Path(processed_dir)
        self.samples = load_split(self.dir, split)[:limit]
        self.vocab, self.transform = vocab, transform

    def __len__(self) -> int:
        return len(self.samples)

    def sizes(self) -> list[tuple[int, int]]:
        """(width, height) of each image, from the file headers (cheap)."""
        out = []
        for name, _ in self.samples:
            with Image.open(self.dir / "images" / name) as im:
                out.append(im.size)
        return out

    def __getitem__(self, i: int) -> tuple[torch.Tensor, list[int], str]:
        name, tokens = self.samples[i]
        img = load_grey(self.dir / "images" / name)
        if self.transform is not None:
            img = self.transform(image=img)["image"]
        x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32) / 255.0)[None]
        return x, self.vocab.encode(tokens), name


def bucket_batch_size(width: int, height: int, batch_size: int, max_pixels: int | None = None) -> int:
    """Images per batch for one bucket: `batch_size`, fewer when the pixel budget says so (at least 1)."""
    if not max_pixels:
        return batch_size
    return max(1, min(batch_size, max_pixels // max(1, width * height)))


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of same-size images; with `shuffle`, shuffled within and across buckets, seeded by epoch.

    With `max_pixels`, a bucket's batches hold at most that many pixels in all, so the largest buckets
    (1600x400, 1600x1600) take a few images per batch and memory stays flat across buckets.
    `set_epoch(e, start=k)` skips the first k batches (of this rank's share) of epoch e (resuming mid-epoch).

    With `world` > 1 (data-parallel training, lib/train.py) the epoch's batches are dealt round-robin to the
    `world` processes, rank `rank` taking batches rank, rank + world, ...; the last `len % world` batches are
    left out of that epoch so that every rank has as many batches as the others (a rank with one batch more
    would wait at its end for a gradient exchange that never comes). Every rank computes the same epoch order
    from the seed, so the shares are disjoint and reproducible.
    """

    def __init__(self, sizes: Sequence[tuple[int, int]], batch_size: int, shuffle: bool, seed: int = 0,
                 max_pixels: int | None = None, rank: int = 0, world: int = 1):
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not one of the {world} processes")
        self.batch_size, self.shuffle, self.seed, self.max_pixels = batch_size, shuffle, seed, max_pixels
        self.rank, self.world = rank, world
        self.buckets: dict[tuple[int, int], list[int]] = {}
        for i, s in enumerate(sizes):
            self.buckets.setdefault(tuple(s), []).append(i)
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def batches(self) -> list[list[int]]:
        """This rank's batches of the current epoch, in order (all of them with one process)."""
        out = self.all_batches()
        if self.world > 1:
            out = out[:len(out) - len(out) % self.world][self.rank::self.world]
        return out

    def all_batches(self) -> list[list[int]]:
        """All batches of the current epoch, in order, before they are dealt to the ranks."""
        rng = random.Random(self.seed * 100003 + self.epoch)
        out = []
        for key in sorted(self.buckets):
            idx = list(self.buckets[key])
            if self.shuffle:
                rng.shuffle(idx)
            n = self.bucket_batch(key)
            out += [idx[i:i + n] for i in range(0, len(idx), n)]
        if self.shuffle:
            rng.shuffle(out)
        return out

    def __iter__(self):
        return iter(self.batches()[self.start:])

    def bucket_batch(self, size: tuple[int, int]) -> int:
        return bucket_batch_size(size[0], size[1], self.batch_size, self.max_pixels)

    def per_epoch(self) -> int:
        """Batches of one epoch for this rank."""
        return sum(-(-len(v) // self.bucket_batch(k)) for k, v in self.buckets.items()) // self.world

    def __len__(self) -> int:
        return self.per_epoch() - self.start


def collate(items: list[tuple[torch.Tensor, list[int], str]]) -> dict:
    """Pad images with white (1.0) to the batch's largest size, tokens with <PAD>; mask True = real pixel, or
    None when every image has the batch's size (a bucket's batch: the models then skip masking, with no check
    on the device)."""
    imgs, ids, names = zip(*items)
    h, w = max(x.shape[1] for x in imgs), max(x.shape[2] for x in imgs)
    uniform = all(x.shape[1:] == (h, w) for x in imgs)
    images = torch.ones(len(imgs), 1, h, w)
    mask = None if uniform else torch.zeros(len(imgs), h, w, dtype=torch.bool)
    tgt = torch.full((len(ids), max(map(len, ids))), PAD_ID, dtype=torch.long)
    for i, (x, t) in enumerate(zip(imgs, ids)):
        images[i, :, :x.shape[1], :x.shape[2]] = x
        if mask is not None:
            mask[i, :x.shape[1], :x.shape[2]] = True
        tgt[i, :len(t)] = torch.tensor(t)
    return {"images": images, "mask": mask, "tgt": tgt, "names": list(names)}


def _reseed_transform(dataset, seed: int) -> None:
    transform = getattr(dataset, "transform", None)
    if transform is not None:
        augment.reseed(transform, seed)


def worker_init_fn(worker_id: int) -> None:
    """Give each worker its own augmentation stream (albumentations 2.0.8 repeats it across workers)."""
    info = torch.utils.data.get_worker_info()
    seed = info.seed % 2**32  # base seed (from the loader's generator) + worker id
    random.seed(seed)
    np.random.seed(seed)
    _reseed_transform(info.dataset, seed)


def make_loader(dataset: FormulaDataset, batch_size: int, *, shuffle: bool, seed: int = 0, workers: int = 0,
                device: str | torch.device = "cpu", max_pixels: int | None = None, rank: int = 0,
                world: int = 1) -> DataLoader:
    """A DataLoader over bucketed batches (a pixel budget per batch when given; this rank's share of them when
    `world` > 1); its own generator keeps the global RNG stream untouched. Workers persist across epochs."""
    sampler = BucketBatchSampler(dataset.sizes(), batch_size, shuffle=shuffle, seed=seed, max_pixels=max_pixels,
                                 rank=rank, world=world)
    generator = torch.Generator().manual_seed(seed + 7919 * rank)  # each rank its own augmentation
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=workers,
                      pin_memory=torch.device(device).type == "cuda", worker_init_fn=worker_init_fn,
                      generator=generator, persistent_workers=workers > 0)


def set_epoch(loader: DataLoader, epoch: int, start: int = 0, seed: int = 0) -> None:
    """Position the loader at batch `start` of `epoch`. In-process augmentation gets a stream per epoch; worker
    processes persist, so their streams are seeded when they start (the first epoch of a session) and run on."""
    loader.batch_sampler.set_epoch(epoch, start)
    stream = seed * 1000003 + epoch + 7919 * getattr(loader.batch_sampler, "rank", 0)
    loader.generator.manual_seed(stream)
    if loader.num_workers == 0:  # in-process augmentation: a stream per epoch as well
        _reseed_transform(loader.dataset, stream % 2**32)
