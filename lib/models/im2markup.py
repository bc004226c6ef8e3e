"""Model 1, im2markup (Deng et al. 2016): VGG CNN, BiLSTM row encoder, attention LSTM decoder."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..data.vocab import PAD_ID
from ..run.profiles import Profile
from .base import Im2SeqModel
from .cnn import VGGEncoder, check_size

CNN_WIDTHS = (64, 128, 256, 256, 512, 512)
ENC_HIDDEN = 256   # per direction: the context vectors have 2 * ENC_HIDDEN features
DEC_HIDDEN = 512
EMBED = 80
DROPOUT = 0.2
MAX_ROWS = 256     # learned initial states for rows 0..MAX_ROWS-1; lower rows share the last one
# options that were measured and not adopted (docs/learning.md): a checkpoint that holds them at these values
# loads (they are dropped); one that turned them on cannot be rebuilt by this code
RETIRED = {"attention": "luong", "init": "mean", "positions": False, "presence": False, "ctc": False}


def fp32(device: torch.device):
    """Autocast off: the recurrent layers always compute in fp32. Under autocast, cuDNN's RNN wrapper may
    run LSTMs in fp16 even when bf16 was asked for, and bf16 runs have no GradScaler to protect fp16
    gradients; an LSTM is a small share of the model's work, so fp32 costs little."""
    return torch.autocast(device.type, enabled=False)


def hparams_from_profile(profile: Profile) -> dict:
    """Constructor arguments sized by a profile (`m1_dropout` may be given as a profile override)."""
    return dict(cnn_widths=list(profile.m1_cnn_widths), enc_hidden=profile.m1_enc_hidden,
                dec_hidden=profile.m1_dec_hidden, embed=profile.m1_embed,
                dropout=float(profile.extra.get("m1_dropout", DROPOUT)),
                feed=bool(profile.extra.get("m1_feed", False)))


class RowEncoder(nn.Module):
    """A bidirectional LSTM run over every feature-map row, started from a learned state per row."""

    def __init__(self, in_dim: int, hidden: int, max_rows: int = MAX_ROWS):
        super().__init__()
        self.hidden, self.max_rows = hidden, max_rows
        self.rnn = nn.LSTM(in_dim, hidden, batch_first=True, bidirectional=True)
        self.row_init = nn.Embedding(max_rows, 4 * hidden)  # (h, c) x (forward, backward)
        nn.init.normal_(self.row_init.weight, std=0.1)

    def forward(self, feats: Tensor, mask: Tensor | None = None) -> Tensor:
        """feats [B, C, H, W] -> [B, H, W, 2*hidden]; `mask` [B, H, W] marks a valid prefix of each row."""
        b, c, h, w = feats.shape
        seq = feats.permute(0, 2, 3, 1).reshape(b * h, w, c)
        rows = torch.arange(h, device=feats.device).clamp(max=self.max_rows - 1)
        init = self.row_init(rows).view(1, h, 2, 2, self.hidden).expand(b, -1, -1, -1, -1)
        init = init.reshape(b * h, 2, 2, self.hidden).float()
        h0 = init[:, 0].transpose(0, 1).contiguous()  # [2 directions, B*H, hidden]
        c0 = init[:, 1].transpose(0, 1).contiguous()
        with fp32(feats.device):
            seq = seq.float()
            if mask is None or bool(mask.all()):
                out, _ = self.rnn(seq, (h0, c0))
            else:  # the backward direction must start at each row's last real column, not in the padding
                lengths = mask.reshape(b * h, w).sum(1).clamp(min=1).cpu()
                packed = pack_padded_sequence(seq, lengths, batch_first=True, enforce_sorted=False)
                out, _ = self.rnn(packed, (h0, c0))
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=w)
        return out.reshape(b, h, w, 2 * self.hidden)


class Im2Markup(Im2SeqModel):
    """CNN + row encoder + LSTM decoder with attention over all positions.

    The attention is im2markup's bilinear score `ctx_i . (W h_t)`; the decoder starts from tanh(W mean(ctx)) (as
    in Show, Attend and Tell and WAP), so it sees the image from its first token.

    `feed`: False (every profile), the LSTM reads the tokens only and the attention takes its query from h; teacher
    forcing then runs the LSTM over the whole prefix in one call and attends for all steps in one batched product
    (no Python loop over the tokens), about twice as fast on a CPU. True: input feeding as in im2markup (Luong et
    al. 2015), the LSTM's input is the token and the previous step's output o = tanh(W [h; context]), so each step
    waits for the last one's attention.
    """

    name = "model1"
    has_attention_maps = True

    def __init__(self, vocab_size: int, cnn_widths: Sequence[int] = CNN_WIDTHS, enc_hidden: int = ENC_HIDDEN,
                 dec_hidden: int = DEC_HIDDEN, embed: int = EMBED, dropout: float = DROPOUT,
                 max_rows: int = MAX_ROWS, feed: bool = False):
        super().__init__()
        self.hparams = dict(cnn_widths=list(cnn_widths), enc_hidden=enc_hidden, dec_hidden=dec_hidden,
                            embed=embed, dropout=dropout, max_rows=max_rows, feed=feed)
        self.vocab_size = vocab_size
        self.cnn = VGGEncoder(cnn_widths)
        self.rows = RowEncoder(self.cnn.out_channels, enc_hidden, max_rows)
        ctx_dim = 2 * enc_hidden
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=PAD_ID)
        if feed:
            self.cell = nn.LSTMCell(embed + dec_hidden, dec_hidden)   # input: [token; previous output]
        else:
            self.lstm = nn.LSTM(embed, dec_hidden, batch_first=True)   # input: the token only
        self.query = nn.Linear(dec_hidden, ctx_dim, bias=False)       # score = ctx . (W h)
        self.init_proj = nn.Linear(ctx_dim, 2 * dec_hidden)           # h0, c0 = tanh(W mean(ctx))
        self.combine = nn.Linear(dec_hidden + ctx_dim, dec_hidden, bias=False)
        self.drop = nn.Dropout(dropout)
        self.generator = nn.Linear(dec_hidden, vocab_size)
        with torch.no_grad():  # forget-gate bias 1: remember by default early in training
            (self.cell.bias_hh if feed else self.lstm.bias_hh_l0)[dec_hidden:2 * dec_hidden].fill_(1.0)

    @staticmethod
    def upgrade_hparams(hparams: dict) -> dict:
        """A checkpoint's constructor arguments for this code: retired options at their kept value dropped."""
        out = dict(hparams)
        if "attention" in out:  # every checkpoint saved before the retirement; those before `feed` fed the attention
            out.setdefault("feed", True)
        for name, kept in RETIRED.items():
            if name in out:
                if out[name] != kept:
                    raise ValueError(f"a model 1 built with {name}={out[name]!r}: that option was measured, not "
                                     f"adopted, and removed (docs/learning.md); this code cannot rebuild it")
                del out[name]
        return out

    def encode(self, images: Tensor, mask: Tensor | None = None) -> dict:
        """Images [B, 1, H, W] (white = 1) -> {"ctx" [B, N, D], "mask" [B, N], "hw" (H', W')}."""
        check_size(images)
        if mask is not None and bool(mask.all()):
            mask = None  # a batch of one size (the usual case): skip the masking work
        feats, fmask = self.cnn(1.0 - images, mask)  # ink-positive: white paper and padding are 0
        b, _, h, w = feats.shape
        ctx = self.rows(feats, fmask).reshape(b, h * w, -1)
        if torch.is_autocast_enabled(ctx.device.type):  # cast once: autocast would copy it at every step
            ctx = ctx.to(torch.get_autocast_dtype(ctx.device.type))
        if fmask is None:
            fmask = torch.ones(b, h, w, dtype=torch.bool, device=ctx.device)
        fmask = fmask.reshape(b, h * w).clone()
        fmask[:, 0] = True  # never an empty attention set (an all-padding image still gets a position)
        return {"ctx": ctx, "mask": fmask, "hw": (h, w)}

    def init_state(self, memory: dict) -> dict:
        """The LSTM state from the mean of the image's context vectors; zero input feed; `attn` is zero until the
        first step."""
        ctx = memory["ctx"]
        valid = memory["mask"].unsqueeze(2).to(ctx.dtype)
        mean = (ctx * valid).sum(1) / valid.sum(1)
        with fp32(ctx.device):
            h, c = torch.tanh(self.init_proj(mean.float())).chunk(2, dim=-1)
        return {"h": h, "c": c, "feed": torch.zeros_like(h),
                "attn": ctx.new_zeros(ctx.shape[0], ctx.shape[1], dtype=torch.float32)}

    def _recur(self, emb: Tensor, state: dict) -> tuple[Tensor, Tensor]:
        """One LSTM step: the new (h, c) from a token's embedding [B, E] (and the previous output when fed)."""
        with fp32(emb.device):
            h, c = state["h"].float(), state["c"].float()
            if self.hparams["feed"]:
                return self.cell(torch.cat([emb.float(), state["feed"].float()], dim=-1), (h, c))
            _, (h, c) = self.lstm(emb.float().unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
            return h[0], c[0]

    def _attend_all(self, hs: Tensor, memory: dict) -> tuple[Tensor, Tensor]:
        """The attention of T queries at once: hs [B, T, H] -> outputs o = tanh(W [h; context]) [B, T, H] and
        weights [B, T, N] over the valid positions."""
        ctx = memory["ctx"]
        scores = torch.bmm(self.query(hs).to(ctx.dtype), ctx.transpose(1, 2)).float()
        attn = torch.softmax(scores.masked_fill(~memory["mask"].unsqueeze(1), float("-inf")), dim=-1)
        context = torch.bmm(attn.to(ctx.dtype), ctx)
        return self.drop(torch.tanh(self.combine(torch.cat([hs, context.to(hs.dtype)], dim=-1)))), attn

    def step(self, memory: dict, state: dict, tokens: Tensor) -> tuple[Tensor, dict]:
        """One token per row -> (logits [B, V], new state); O(1) in the prefix length."""
        h, c = self._recur(self.embed(tokens), state)
        out, attn = self._attend_all(h.unsqueeze(1), memory)
        state = {"h": h, "c": c, "feed": out[:, 0], "attn": attn[:, 0]}
        return self.generator(state["feed"]), state

    def decode_prefix(self, memory: dict, tokens: Tensor) -> Tensor:
        """Logits [B, T, V] for whole prefixes (as model 2's)."""
        return self._decode(memory, tokens)[0]

    def _decode(self, memory: dict, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """Logits [B, T, V] for whole prefixes and the attention maps [B, T, N]."""
        state = self.init_state(memory)
        embs = self.embed(tokens)
        if self.hparams["feed"]:  # each step waits for the last one's output
            outs, maps = [], []
            for t in range(tokens.shape[1]):
                h, c = self._recur(embs[:, t], state)
                out, attn = self._attend_all(h.unsqueeze(1), memory)
                state = {"h": h, "c": c, "feed": out[:, 0]}
                outs.append(out)
                maps.append(attn)
            return self.generator(torch.cat(outs, dim=1)), torch.cat(maps, dim=1)
        with fp32(embs.device):  # teacher forcing without feeding: the LSTM over the whole prefix in one call
            hs, _ = self.lstm(embs.float(), (state["h"].float().unsqueeze(0), state["c"].float().unsqueeze(0)))
        out, attn = self._attend_all(hs, memory)
        return self.generator(out), attn

    def attention(self, images: Tensor, tgt_in: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Teacher forcing with the attention shown: (logits [B, T, V], attention [B, T, N] over the feature grid,
        row-major; `encode(...)["hw"]` gives its shape). For figures and `python -m lib.bench prior`."""
        return self._decode(self.encode(images, mask), tgt_in)

    def forward(self, images: Tensor, tgt_in: Tensor, mask: Tensor | None = None) -> Tensor:
        """Teacher forcing (`tgt_in` starts with <SOS>): logits [B, T, V]."""
        return self.attention(images, tgt_in, mask)[0]
