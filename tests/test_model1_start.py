"""Model 1's levers for leaving the formulas' prior early: guided attention (lib/training/guide.py), 2D positions in
the attention keys (`m1_positions`), the token-presence loss on the encoder (`m1_presence`) and the CTC loss on the
encoder's columns (`m1_ctc`)."""
from __future__ import annotations

import pytest
import torch

from lib.data.vocab import EOS_ID, PAD_ID
from lib.models import build_model
from lib.models.cnn import feature_size
from lib.training.config import TrainConfig
from lib.training.guide import guide_weight, guided_attention_loss
from lib.training.loop import train_step
from lib.run.precision import choose

TINY = dict(cnn_widths=[8, 16, 16, 16, 32, 32], enc_hidden=16, dec_hidden=32, embed=16, dropout=0.0)


def one_hot_attention(cols: list[int], gh: int, gw: int, row: int = 0) -> torch.Tensor:
    """[1, T, gh*gw] attention putting each token t on column cols[t] of one row."""
    attn = torch.zeros(1, len(cols), gh * gw)
    for t, c in enumerate(cols):
        attn[0, t, row * gw + c] = 1.0
    return attn


def test_reading_order_costs_less_than_its_reverse():
    h, w = 32, 160                      # a 4 x 20 feature grid
    gh, gw = feature_size(h, w)
    gold = torch.tensor([[5, 6, 7, 8, EOS_ID]])
    along = one_hot_attention([2, 6, 10, 14, 18], gh, gw)
    backwards = one_hot_attention([18, 14, 10, 6, 2], gh, gw)
    cost_along = float(guided_attention_loss(along, gold, (h, w), None))
    cost_back = float(guided_attention_loss(backwards, gold, (h, w), None))
    assert cost_along < 0.05 < 0.5 < cost_back
    # the row does not matter: the guide is about the reading order across the width
    other_row = float(guided_attention_loss(one_hot_attention([2, 6, 10, 14, 18], gh, gw, row=3), gold, (h, w), None))
    assert other_row == pytest.approx(cost_along)


def test_padding_neither_counts_as_width_nor_as_tokens():
    h, w = 32, 160
    gh, gw = feature_size(h, w)
    gold = torch.tensor([[5, 6, EOS_ID, PAD_ID, PAD_ID]])
    # the image's real part is the left half (80 px = 10 columns): its reading order is over those columns
    mask = torch.zeros(1, h, w, dtype=torch.bool)
    mask[0, :, :80] = True
    attn = one_hot_attention([1, 5, 8, 19, 19], gh, gw)   # the padded tokens' attention is ignored
    assert float(guided_attention_loss(attn, gold, (h, w), mask)) < 0.05
    assert float(guided_attention_loss(attn, gold, (h, w), None)) > 0.2  # over the whole width it is off


def test_a_grid_that_does_not_match_the_image_is_refused():
    with pytest.raises(ValueError, match="feature grid"):
        guided_attention_loss(torch.zeros(1, 2, 7), torch.tensor([[5, EOS_ID]]), (32, 160), None)


def test_the_weight_fades_to_zero():
    assert guide_weight(1.0, 0.5, 0.0) == 1.0
    assert guide_weight(1.0, 0.5, 0.25) == pytest.approx(0.5)
    assert guide_weight(1.0, 0.5, 0.5) == 0.0 == guide_weight(1.0, 0.5, 0.9) == guide_weight(0.0, 0.5, 0.0)


def test_a_guided_step_moves_the_attention_along_the_formula():
    """A few training steps with the guide (and the token loss) draw the attention along the formula."""
    torch.manual_seed(0)
    model = build_model("model1", 12, **TINY)
    images = torch.rand(4, 1, 32, 160)
    tgt = torch.tensor([[1, 5, 6, 7, 8, 9, 10, EOS_ID]] * 4)
    prec = choose("cpu")
    cfg = TrainConfig(lr=3e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    scaler = prec.grad_scaler()

    def penalty() -> float:  # in training mode: batch statistics, as the steps see them (no dropout here)
        with torch.no_grad():
            _, attn = model.train()(images, tgt[:, :-1], None, return_attn=True)
        return float(guided_attention_loss(attn, tgt[:, 1:], (32, 160), None))

    before = penalty()
    for _ in range(40):
        train_step(model, {"images": images, "mask": None, "tgt": tgt}, prec, opt, scaler, cfg, guide=5.0)
    assert penalty() < 0.5 * before


def test_model2_refuses_the_guide(tmp_path):
    from lib.run.profiles import get_profile
    from lib.training.loop import prepare
    from tests.fixtures import make_processed_dataset

    processed = make_processed_dataset(tmp_path / "data", n_train=6)
    with pytest.raises(ValueError, match="no attention maps"):
        prepare("model2", processed, tmp_path / "out", get_profile("smoke"), attention_guide=1.0)


def test_positions_change_the_scores_not_the_values():
    torch.manual_seed(0)
    plain = build_model("model1", 12, **TINY).eval()
    torch.manual_seed(0)
    placed = build_model("model1", 12, positions=True, **TINY).eval()
    images, tgt = torch.rand(2, 1, 32, 160), torch.tensor([[1, 5, 6], [1, 7, 8]])
    mem_plain, mem_placed = plain.encode(images), placed.encode(images)
    assert torch.equal(mem_plain["ctx"], mem_placed["ctx"])          # the values read are the content
    _, attn_plain = plain(images, tgt, None, return_attn=True)
    _, attn_placed = placed(images, tgt, None, return_attn=True)
    assert not torch.allclose(attn_plain, attn_placed)               # where it looks depends on the position
    from lib.models import build_model as rebuild
    again = rebuild("model1", 12, **placed.hparams)
    again.load_state_dict(placed.state_dict())
    assert torch.equal(again.eval()(images, tgt), placed(images, tgt))   # a checkpoint rebuilds it


def test_presence_logits_are_the_best_cell_per_token_and_padding_never_wins():
    torch.manual_seed(0)
    model = build_model("model1", 12, presence=True, **TINY).eval()
    images = torch.rand(2, 1, 32, 160)
    mask = torch.ones(2, 32, 160, dtype=torch.bool)
    mask[1, :, 80:] = False
    images[1, :, :, 80:] = 1.0
    tgt = torch.tensor([[1, 5, 6], [1, 7, 8]])
    logits, presence = model(images, tgt, mask, return_presence=True)
    memory = model.encode(images, mask)
    cells = model.presence(memory["ctx"])
    assert torch.allclose(presence[0], cells[0].amax(0))
    assert torch.allclose(presence[1], cells[1][memory["mask"][1]].amax(0))  # only the real cells
    with pytest.raises(ValueError, match="presence"):
        build_model("model1", 12, **TINY)(images, tgt, mask, return_presence=True)


def test_the_presence_loss_targets_the_formulas_tokens():
    from lib.training.loop import presence_loss

    gold = torch.tensor([[5, 6, EOS_ID, PAD_ID], [7, 7, 7, EOS_ID]])
    right = torch.full((2, 12), -20.0)
    right[0, [5, 6]] = 20.0
    right[1, 7] = 20.0
    wrong = right.clone()
    wrong[0, 8] = 20.0
    assert float(presence_loss(right, gold)) < 1e-6 < 0.1 < float(presence_loss(wrong, gold))
    # the special tokens are not scored: saying <EOS> or <PAD> is present costs nothing
    special = right.clone()
    special[:, [PAD_ID, EOS_ID]] = 20.0
    assert float(presence_loss(special, gold)) < 1e-6


@pytest.mark.parametrize("knob, value, head, refusal", [("m1_presence", 1.0, "presence", "presence"),
                                                         ("m1_ctc", 0.3, "ctc", "CTC")])
def test_an_encoder_loss_run_needs_a_model_with_its_head(tmp_path, knob, value, head, refusal):
    from lib.run.profiles import get_profile
    from lib.training.loop import prepare
    from tests.fixtures import make_processed_dataset

    processed = make_processed_dataset(tmp_path / "data", n_train=6)
    run = prepare("model1", processed, tmp_path / "out", get_profile("smoke").replace(**{knob: value}))
    assert run.net.hparams[head] and getattr(run.cfg, knob) == value
    with pytest.raises(ValueError, match=refusal):
        prepare("model2", processed, tmp_path / "out2", get_profile("smoke").replace(**{knob: value}))


def test_column_logits_read_the_real_columns_left_to_right():
    torch.manual_seed(0)
    model = build_model("model1", 12, ctc=True, **TINY).eval()
    images = torch.rand(2, 1, 32, 160)
    mask = torch.ones(2, 32, 160, dtype=torch.bool)
    mask[1, :, 80:] = False                      # image 1 is 80 px wide, padded to 160
    images[1, :, :, 80:] = 1.0
    _, (logits, lengths) = model(images, torch.tensor([[1, 5], [1, 7]]), mask, return_ctc=True)
    gh, gw = feature_size(32, 160)
    from lib.models.im2markup import CTC_SLOTS
    assert logits.shape == (2, gw * CTC_SLOTS, 12)
    assert lengths.tolist() == [gw * CTC_SLOTS, gw // 2 * CTC_SLOTS]   # only the real columns count
    # column c is the best of its rows: recompute it for image 0 from the memory
    memory = model.encode(images, mask)
    col3 = memory["ctx"][0].view(gh, gw, -1)[:, 3].amax(0)
    assert torch.allclose(logits[0, 3 * CTC_SLOTS:4 * CTC_SLOTS].flatten(), model.ctc_head(col3), atol=1e-5)
    with pytest.raises(ValueError, match="ctc"):
        build_model("model1", 12, **TINY)(images, torch.tensor([[1, 5], [1, 7]]), mask, return_ctc=True)


def test_the_column_ctc_loss_wants_the_formula_in_reading_order():
    from lib.training.loop import column_ctc_loss

    gold = torch.tensor([[5, 6, 7, EOS_ID, PAD_ID]])

    def spelling(tokens):  # logits that say these tokens one per slot, blank between
        logits = torch.full((1, 2 * len(tokens), 12), -20.0)
        for i, t in enumerate(tokens):
            logits[0, 2 * i, t] = 20.0
            logits[0, 2 * i + 1, PAD_ID] = 20.0
        return logits

    lengths = torch.tensor([6])
    right = float(column_ctc_loss(spelling([5, 6, 7]), lengths, gold))
    backwards = float(column_ctc_loss(spelling([7, 6, 5]), lengths, gold))
    assert right < 1e-3 < 10.0 < backwards
    # a formula longer than its slots adds nothing instead of an infinite loss
    assert float(column_ctc_loss(spelling([5]), torch.tensor([2]), gold)) == 0.0


def test_a_ctc_step_teaches_the_columns(tmp_path):
    """A few steps with the column CTC loss lower it (the head and the encoder learn from it)."""
    from lib.training.loop import column_ctc_loss

    torch.manual_seed(0)
    model = build_model("model1", 12, ctc=True, **TINY)
    prec = choose("cpu")
    cfg = TrainConfig(lr=3e-3, m1_ctc=1.0)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    scaler = prec.grad_scaler()
    images = torch.rand(2, 1, 32, 160)
    tgt = torch.tensor([[1, 5, 6, 7, EOS_ID], [1, 8, 9, EOS_ID, PAD_ID]])

    def ctc():
        with torch.no_grad():
            _, cols = model.eval()(images, tgt[:, :-1], None, return_ctc=True)
        return float(column_ctc_loss(*cols, tgt[:, 1:]))

    before = ctc()
    model.train()
    for _ in range(30):
        train_step(model, {"images": images, "mask": None, "tgt": tgt}, prec, opt, scaler, cfg)
    assert ctc() < 0.5 * before
