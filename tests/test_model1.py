"""Model 1 (im2markup): shapes, masks, attention, incremental decoding, rebuild, a tiny overfit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.data.vocab import EOS_ID, SOS_ID, Vocab
from lib.models import build_model, model_from_profile
from lib.models.cnn import feature_size
from lib.models.im2markup import Im2Markup, hparams_from_profile
from lib.run.profiles import get_profile

TINY = dict(cnn_widths=[8, 16, 16, 16, 32, 32], enc_hidden=16, dec_hidden=32, embed=16, dropout=0.0)
V = 20




def tiny(seed: int = 0, **kw) -> Im2Markup:
    torch.manual_seed(seed)
    return build_model("model1", V, **{**TINY, **kw}).eval()


def padded_batch(sizes: list[tuple[int, int]], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ink on white, padded with white to the largest size (right/bottom), and the pixel mask."""
    g = torch.Generator().manual_seed(seed)
    hmax, wmax = max(h for h, _ in sizes), max(w for _, w in sizes)
    images = torch.ones(len(sizes), 1, hmax, wmax)
    mask = torch.zeros(len(sizes), hmax, wmax, dtype=torch.bool)
    for i, (h, w) in enumerate(sizes):
        images[i, 0, :h, :w] = torch.rand(h, w, generator=g)
        mask[i, :h, :w] = True
    return images, mask


def test_hparams_from_every_profile_rebuild_the_model():
    for name in ("smoke", "cpu", "gpu"):
        profile = get_profile(name)
        hp = hparams_from_profile(profile)
        assert hp["cnn_widths"] == list(profile.m1_cnn_widths) and hp["dec_hidden"] == profile.m1_dec_hidden
    model = model_from_profile("model1", V, get_profile("smoke"), dropout=0.0)
    clone = build_model("model1", V, **model.hparams)
    clone.load_state_dict(model.state_dict())
    x, t = torch.rand(1, 1, 32, 64), torch.randint(1, V, (1, 4))
    assert torch.equal(model.eval()(x, t), clone.eval()(x, t))
    assert model_from_profile("model1", V, get_profile("smoke", m1_dropout=0.5)).hparams["dropout"] == 0.5


def test_shapes_and_mask_on_a_padded_batch_of_different_sizes():
    sizes = [(40, 80), (32, 120), (48, 64)]
    images, mask = padded_batch(sizes)
    model = tiny()
    memory = model.encode(images, mask)
    h, w = memory["hw"]
    assert (h, w) == feature_size(48, 120) == (6, 15)
    assert memory["ctx"].shape == (3, h * w, 2 * TINY["enc_hidden"])
    assert memory["mask"].shape == (3, h * w) and memory["mask"].dtype == torch.bool
    for i, (hi, wi) in enumerate(sizes):
        grid = memory["mask"][i].view(h, w)
        fh, fw = feature_size(hi, wi)
        assert grid[:fh, :fw].all() and grid.sum() == fh * fw
    logits = model(images, torch.randint(1, V, (3, 5)), mask)
    assert logits.shape == (3, 5, V) and torch.isfinite(logits).all()
    assert model.encode(images)["mask"].all()  # no mask: every position is valid


def test_attention_sums_to_one_over_valid_positions_and_is_zero_on_padding():
    images, mask = padded_batch([(40, 80), (24, 48)])
    model = tiny()
    tgt = torch.randint(1, V, (2, 6))
    _, attn = model.attention(images, tgt, mask)
    valid = model.encode(images, mask)["mask"]
    assert attn.shape == (2, 6, valid.shape[1])
    assert torch.all(attn.masked_select(~valid.unsqueeze(1).expand_as(attn)) == 0)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 6))
    memory = model.encode(images, mask)
    _, state = model.step(memory, model.init_state(memory), tgt[:, 0])
    assert torch.all(state["attn"][~valid] == 0)
    torch.testing.assert_close(state["attn"].sum(-1), torch.ones(2))


def test_padding_does_not_change_the_output_in_eval_mode():
    model = tiny()
    images, mask = padded_batch([(40, 80), (48, 128)], seed=3)
    tgt = torch.randint(1, V, (2, 5))
    alone = model(images[:1, :, :40, :80], tgt[:1])
    padded = model(images, tgt, mask)[:1]
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kw", [{"feed": True}, {}], ids=["input-feeding", "no-feed"])
def test_step_by_step_equals_teacher_forcing(kw):
    """Teacher forcing (a loop over the tokens with input feeding, one LSTM call and one batched attention
    without) gives the logits and attention maps that decoding token by token gives."""
    images, mask = padded_batch([(40, 80), (32, 64)], seed=1)
    model = tiny(**kw)
    tgt = torch.randint(1, V, (2, 7))
    with torch.no_grad():
        full, full_attn = model.attention(images, tgt, mask)
        memory = model.encode(images, mask)
        state = model.init_state(memory)
        steps, maps = [], []
        for t in range(tgt.shape[1]):
            logits, state = model.step(memory, state, tgt[:, t])
            steps.append(logits)
            maps.append(state["attn"])
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(torch.stack(maps, 1), full_attn, atol=1e-6, rtol=1e-5)


def test_select_reorders_the_state_for_beams():
    from lib.models.base import index_rows

    images, mask = padded_batch([(40, 80), (32, 64)], seed=2)
    model = tiny()
    memory = model.encode(images, mask)
    _, state = model.step(memory, model.init_state(memory), torch.tensor([SOS_ID, SOS_ID]))
    index = torch.tensor([1, 1, 0])
    mem2, state2 = index_rows(memory, index), model.select(state, index)
    assert mem2["hw"] == memory["hw"] and torch.equal(mem2["mask"][0], memory["mask"][1])
    logits, _ = model.step(mem2, state2, torch.tensor([5, 5, 5]))
    ref, _ = model.step(memory, state, torch.tensor([5, 5]))
    torch.testing.assert_close(logits[0], ref[1])
    torch.testing.assert_close(logits[2], ref[0])


def test_too_small_images_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        tiny().encode(torch.ones(1, 1, 4, 64))


# --- a tiny overfit: a handful of rendered formulas learnt to exact match ---------------------------

FORMULAS = ["x + 1", "a = b", "2 y - 3", "k ^ 2", "c + d = 1", "7 x"]


def render(text: str, size: tuple[int, int] = (32, 96)) -> np.ndarray:
    """Black text on white, float 0..1, with PIL's built-in font."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (size[1], size[0]), 255)
    ImageDraw.Draw(img).text((4, 6), text, fill=0, font=ImageFont.load_default(size=16))
    return np.asarray(img, dtype=np.float32) / 255.0


def local_greedy(model, images: torch.Tensor, max_len: int) -> list[list[int]]:
    """Plain greedy decoding through `step` (independent of lib.inference.decode)."""
    memory = model.encode(images)
    state = model.init_state(memory)
    tokens = torch.full((images.shape[0],), SOS_ID, dtype=torch.long)
    out = []
    for _ in range(max_len):
        logits, state = model.step(memory, state, tokens)
        tokens = logits.argmax(-1)
        out.append(tokens)
    seqs = torch.stack(out, 1).tolist()
    return [s[:s.index(EOS_ID)] if EOS_ID in s else s for s in seqs]


@pytest.fixture(scope="module")
def overfit():
    """Train the tiny model on six rendered formulas until greedy decoding reproduces them all."""
    vocab = Vocab.build([f.split() for f in FORMULAS])
    images = torch.from_numpy(np.stack([render(f) for f in FORMULAS]))[:, None]
    seqs = [vocab.encode(f.split()) for f in FORMULAS]  # <SOS> ... <EOS>
    width = max(map(len, seqs))
    tgt = torch.tensor([s + [0] * (width - len(s)) for s in seqs])
    torch.manual_seed(0)
    model = build_model("model1", len(vocab), **TINY)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=0)
    hyps = []
    for step in range(1, 401):
        model.train()
        logits = model(images, tgt[:, :-1])
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            model.eval()
            with torch.no_grad():
                hyps = local_greedy(model, images, width)
            if hyps == [s[1:-1] for s in seqs]:
                break
    return model.eval(), vocab, images, seqs, hyps, step


def test_tiny_overfit_reaches_exact_match(overfit):
    model, vocab, images, seqs, hyps, steps = overfit
    assert [vocab.decode(h) for h in hyps] == [f.split() for f in FORMULAS], f"after {steps} steps"


def test_lib_decode_greedy_cached_uncached_and_beam_one_agree(overfit):
    from lib.inference import decode

    model, vocab, images, seqs, hyps, _ = overfit
    greedy, _ = decode.greedy(model, images, max_len=12)
    assert greedy == hyps
    assert decode.greedy_uncached(model, images, max_len=12)[0] == greedy
    beam, _ = decode.beam_search(model, images, beam=1, max_len=12, include_greedy=False)
    assert beam == greedy
    beam3, _ = decode.beam_search(model, images, beam=3, max_len=12)
    assert beam3 == greedy  # a model this sure of itself: wider beams find the same answers


def test_attention_plot_over_one_image(overfit, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from lib.inference.decode import attention_maps
    from lib.viz.attention import plot_attention

    model, vocab, images, *_ = overfit
    tokens, maps, hw = attention_maps(model, images[0], vocab, max_len=12)
    assert tokens == FORMULAS[0].split() and maps.shape == (len(tokens) + 1, *hw)
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), 1.0, rtol=1e-5)
    fig = plot_attention(images[0], maps, tokens, steps=[0, 1, 2, 3])
    fig.savefig(tmp_path / "attn.png")
    assert len([ax for ax in fig.axes if ax.images]) == 4


def test_trains_with_the_shared_loop_and_reloads_from_its_checkpoint(tmp_path):
    from lib.models.checkpoint import load_model
    from lib.training.loop import train_model
    from tests.fixtures import make_processed_dataset

    data = make_processed_dataset(tmp_path / "processed", n_train=8, n_dev=2, n_test=0, seed=1)
    result = train_model("model1", data, tmp_path / "model1", get_profile("smoke"), epochs=1, batch_size=8,
                         val_limit=2, **TINY)
    model, vocab, ckpt = load_model(result.best_path)
    assert isinstance(model, Im2Markup) and ckpt.model_name == "model1"
    assert model.hparams == {**TINY, "max_rows": 256, "feed": False}  # the profile's decoder
    x = torch.rand(2, 1, 40, 80)
    assert model(x, torch.full((2, 3), SOS_ID)).shape == (2, 3, len(vocab))


def test_without_input_feeding_the_lstm_reads_tokens_only_and_is_chosen_by_the_profile():
    fed, plain = tiny(feed=True), tiny()
    assert fed.cell.input_size == TINY["embed"] + TINY["dec_hidden"] and not hasattr(fed, "lstm")
    assert plain.lstm.input_size == TINY["embed"] and not hasattr(plain, "cell")
    assert torch.all(plain.lstm.bias_hh_l0[TINY["dec_hidden"]:2 * TINY["dec_hidden"]] == 1.0)  # forget gate
    assert all(hparams_from_profile(get_profile(p))["feed"] is False for p in ("smoke", "cpu", "gpu"))
    assert hparams_from_profile(get_profile("smoke", m1_feed=True))["feed"] is True
    images, mask = padded_batch([(40, 80), (32, 64)], seed=4)
    tgt = torch.randint(1, V, (2, 5))
    logits = plain(images, tgt, mask)
    assert logits.shape == (2, 5, V) and torch.isfinite(logits).all()
    # a checkpoint of either kind rebuilds from its hparams
    clone = build_model("model1", V, **plain.hparams)
    clone.load_state_dict(plain.state_dict())
    torch.testing.assert_close(clone.eval()(images, tgt, mask), logits)


def test_bench_train_measures_model1_with_a_lever_and_refuses_a_misspelt_one(capsys):
    import json

    from lib.bench import train
    from lib.run.profiles import UnknownSetting

    args = ["--model", "model1", "--profile", "smoke", "--steps", "1", "--height", "32", "--width", "64",
            "--tokens", "5", "--json"]
    assert train.main(args + ["--set", "m1_feed=False"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["model"] == "model1" and result["changes"] == {"m1_feed": False} and result["images_per_s"] > 0
    with pytest.raises(UnknownSetting, match="m1_feed"):
        train.main(args + ["--set", "m1_fed=False"])


def test_a_checkpoint_written_before_the_options_were_retired_still_loads(tmp_path):
    """Checkpoints of model 1 saved every constructor argument, the since-retired ones at their kept values
    (attention "luong", init "mean", no positions, presence or CTC heads): they load; one that turned a retired
    option on is refused by name."""
    from lib.data.vocab import Vocab
    from lib.models import checkpoint

    vocab = Vocab.build([["x", "y", "z", "+", "-"]] * 2)
    torch.manual_seed(0)
    model = build_model("model1", len(vocab), **TINY).eval()
    old = {**model.hparams, "attention": "luong", "init": "mean", "positions": False, "presence": False,
           "ctc": False}
    path = tmp_path / "old.pt"
    checkpoint.save(path, model, vocab, model_name="model1")
    raw = torch.load(path, weights_only=False)
    raw["hparams"] = old
    torch.save(raw, path)
    loaded, _, ckpt = checkpoint.load_model(path)
    assert ckpt.hparams == old and loaded.hparams == model.hparams
    images, mask = padded_batch([(40, 80), (32, 64)], seed=5)
    tgt = torch.randint(1, len(vocab), (2, 4))
    torch.testing.assert_close(loaded(images, tgt, mask), model(images, tgt, mask))
    raw["hparams"] = {**old, "presence": True}
    torch.save(raw, path)
    with pytest.raises(ValueError, match="presence=True"):
        checkpoint.load_model(path)
