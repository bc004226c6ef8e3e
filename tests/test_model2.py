"""Model 2: shapes, masks, sizes, cached decoding equal to full-prefix decoding, attention maps."""
from __future__ import annotations

import pytest
import torch

from lib.models import build_model
from lib.models.posenc import sinusoid_2d

V = 25
TINY = dict(stages=2, d_model=32, layers=2, heads=4, ff=64, dropout=0.1)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("model2", V, **TINY).eval()


def test_default_size_is_about_3m_parameters():
    n = build_model("model2", 200).num_parameters()
    assert 2.5e6 < n < 4.5e6


@pytest.mark.parametrize("resnet,stages,cells", [("resnet18", 2, (10, 50)), ("resnet34", 3, (5, 25)),
                                                 ("resnet18", 4, (3, 13))])
def test_stages_set_the_feature_grid(resnet, stages, cells):
    m = build_model("model2", V, resnet=resnet, stages=stages, d_model=16, layers=1, heads=2, ff=16).eval()
    mem = m.encode(torch.ones(1, 1, 80, 400))
    assert mem["hw"] == cells and mem["memory"].shape == (1, cells[0] * cells[1], 16)


def test_forward_shapes_and_mask(model):
    images, tgt = torch.rand(2, 1, 40, 160), torch.randint(3, V, (2, 6))
    mask = torch.ones(2, 40, 160, dtype=torch.bool)
    mask[1, :, 80:] = False
    assert model(images, tgt, mask).shape == (2, 6, V)
    mem = model.encode(images, mask)
    assert mem["mask"][0].all() and 0 < mem["mask"][1].sum() < mem["mask"].shape[1]


def test_padding_cells_are_masked(model):
    """Feature cells over white padding are masked out; the real cells stay."""
    mask = torch.zeros(1, 40, 128, dtype=torch.bool)
    mask[..., :64] = True
    mem = model.encode(torch.ones(1, 1, 40, 128), mask)
    h, w = mem["hw"]
    grid = mem["mask"].view(h, w)
    assert grid[:, 0].all() and not grid[:, -1].any()


def test_cached_steps_equal_full_prefix(model):
    images, tgt = torch.rand(3, 1, 40, 120), torch.randint(3, V, (3, 9))
    mem = model.encode(images)
    full = model.decode_prefix(mem, tgt)
    state = model.init_state(mem)
    steps = []
    for t in range(tgt.shape[1]):
        logits, state = model.step(mem, state, tgt[:, t])
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-4, atol=1e-4)
    assert state["attn"].shape == (3, mem["memory"].shape[1])
    torch.testing.assert_close(state["attn"].sum(-1), torch.ones(3))


def test_positional_encoding_distinguishes_cells():
    pe = sinusoid_2d(4, 6, 16).flatten(1).T
    assert pe.shape == (24, 16) and torch.cdist(pe, pe).fill_diagonal_(1).min() > 0.1
