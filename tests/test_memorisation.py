"""Both models learn: a handful of formulas memorised to exact match within a bounded number of steps,
with the library's own data pipeline, training step and greedy decoding. A model that stops learning (a
broken mask, a detached attention, a wrong target shift) fails here, long before anyone trains for an hour.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.data.buckets import FIT
from lib.data.dataset import FormulaDataset, load_vocab, make_loader
from lib.inference.decode import greedy
from lib.models import build_model
from lib.run.profiles import get_profile
from lib.training.config import TrainConfig
from lib.training.loop import train_step
from lib.run.precision import choose
from tests.fixtures import make_processed_dataset

SIZES = {
    "model1": dict(cnn_widths=[16, 32, 32, 32, 64, 64], enc_hidden=48, dec_hidden=96, embed=32, dropout=0.0,
                   feed=False),  # the profiles' decoder (input feeding: the tiny overfit of tests/test_model1.py)
    "model2": dict(width=16, d_model=64, layers=2, heads=4, ff=128, dropout=0.0),
}
MAX_STEPS = {"model1": 600, "model2": 400}


def memorise(model_name: str, processed, steps: int, lr: float = 3e-3, seed: int = 0):
    """Train on the train split until greedy decoding reproduces every formula; (model, vocab, steps used)."""
    torch.manual_seed(seed)
    vocab = load_vocab(processed)
    ds = FormulaDataset(processed, "train", vocab)
    loader = make_loader(ds, batch_size=8, shuffle=True, seed=seed)
    model = build_model(model_name, len(vocab), **SIZES[model_name])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    prec = choose("cpu")
    cfg = TrainConfig(grad_clip=1.0)
    scaler = prec.grad_scaler()
    refs = [vocab.encode(t, add_bounds=False) for _, t in ds.samples]
    step = 0
    while step < steps:
        model.train()
        for batch in loader:
            train_step(model, batch, prec, opt, scaler, cfg)
            step += 1
        if step % 5 == 0 or step >= steps:
            model.eval()
            if reproduces(model, ds, refs):
                return model, vocab, step
    return model, vocab, step


def reproduces(model, ds, refs) -> bool:
    out = []
    for i in range(len(ds)):
        x, _, _ = ds[i]
        seqs, _ = greedy(model, x[None], max_len=len(refs[i]) + 5)
        out.append(seqs[0])
    return out == refs


@pytest.fixture(scope="module")
def handful(tmp_path_factory):
    """Six short formulas rendered by mathtext, padded to the fit buckets."""
    return make_processed_dataset(tmp_path_factory.mktemp("handful"), n_train=6, n_dev=2, n_test=1, seed=5,
                                  buckets=FIT)


_MEMORISED: dict = {}


def memorised(model_name: str, processed):
    """memorise(model_name, processed) once per module (the tests below share the trained model)."""
    key = (model_name, str(processed))
    if key not in _MEMORISED:
        _MEMORISED[key] = memorise(model_name, processed, MAX_STEPS[model_name])
    return _MEMORISED[key]


@pytest.mark.parametrize("model_name", ["model1", "model2"])
def test_a_handful_of_formulas_is_learnt_to_exact_match(handful, model_name):
    model, vocab, used = memorised(model_name, handful)
    ds = FormulaDataset(handful, "train", vocab)
    assert reproduces(model.eval(), ds, [vocab.encode(t, add_bounds=False) for _, t in ds.samples]), \
        f"{model_name} did not learn {len(ds)} formulas in {used} steps"
    print(f"{model_name}: {len(ds)} formulas exact after {used} steps")


def test_the_model_reads_not_recites(handful):
    """Memorised formulas are told apart by their images: swapping two images swaps the outputs."""
    model, vocab, _ = memorise("model2", handful, MAX_STEPS["model2"], seed=1)
    ds = FormulaDataset(handful, "train", vocab)
    model.eval()
    outputs = {tuple(greedy(model, ds[i][0][None], max_len=40)[0][0]) for i in range(len(ds))}
    assert len(outputs) == len({tuple(t) for _, t in ds.samples}) > 1


def test_model1_reads_its_images_not_the_formulas_prior(handful):
    """What `python -m lib.bench prior` measures, on the memorised handful: the teacher-forced loss with each image
    swapped for another is far above the loss with the right one (a model stuck on the prior has no such gap)."""
    from lib.bench.prior import probe
    from lib.data.dataset import collate

    model, vocab, _ = memorised("model1", handful)
    ds = FormulaDataset(handful, "train", vocab)
    batch = collate([ds[i] for i in range(len(ds))])  # one batch, padded, so every image can swap with another
    out = probe(model, [batch], choose("cpu"), max_len=40)
    assert out["exact"] == 100.0 and out["loss"] < 0.2  # memorised: stopped at the first exact reproduction
    assert out["gain"] > 1.0, out   # nats per token the image is worth


def test_profiles_models_build(handful):
    vocab = load_vocab(handful)
    for name in ("smoke", "cpu", "gpu"):
        p = get_profile(name)
        from lib.models import model_from_profile

        for model_name in ("model1", "model2"):
            m = model_from_profile(model_name, len(vocab), p).eval()
            sizes = ("m2_d_model", "d_model") if model_name == "model2" else ("m1_dec_hidden", "dec_hidden")
            assert m.hparams[sizes[1]] == getattr(p, sizes[0])
            x = torch.from_numpy(np.full((1, 1, 48, 192), 1.0, np.float32))
            assert m(x, torch.tensor([[1, 4, 5]])).shape == (1, 3, len(vocab))


def test_a_profiles_model_has_its_per_model_sizes():
    """What notebook 03 shows (model_from_profile) is what train_model trains: the profile's per_model included."""
    from lib.models import model_from_profile

    prof = get_profile("smoke").replace(per_model={"model1": {"m1_enc_hidden": 48, "m1_cnn_widths": (8,) * 6}})
    shown = model_from_profile("model1", 50, prof)
    trained = model_from_profile("model1", 50, prof.for_model("model1"))
    assert shown.hparams == trained.hparams
    assert shown.hparams["enc_hidden"] == 48 and shown.hparams["cnn_widths"] == [8] * 6
