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
from .posenc import sinusoid_2d

CNN_WIDTHS = (64, 128, 256, 256, 512, 512)
ENC_HIDDEN = 256   # per direction: the context vectors have 2 * ENC_HIDDEN features
DEC_HIDDEN = 512
EMBED = 80
DROPOUT = 0.2
MAX_ROWS = 256     # learned initial states for rows 0..MAX_ROWS-1; lower rows share the last one
ATTENTIONS = ("luong", "coverage")
ATTN_DIM, COVERAGE_KERNEL, COVERAGE_CHANNELS = 128, 5, 16
CTC_SLOTS = 2      # CTC outputs per feature-grid column (a column of 8 px may hold more than one token)
INITS = ("mean", "zero")


def fp32(device: torch.device):
    """Autocast off: the recurrent layers always compute in fp32. Under autocast, cuDNN's RNN wrapper may
    run LSTMs in fp16 even when bf16 was asked for, and bf16 runs have no GradScaler to protect fp16
    gradients; an LSTM is a small share of the model's work, so fp32 costs little."""
    return torch.autocast(device.type, enabled=False)


def hparams_from_profile(profile: Profile) -> dict:
    """Constructor arguments sized by a profile (`m1_dropout` may be given as a profile override)."""
    return dict(cnn_widths=list(profile.m1_cnn_widths), enc_hidden=profile.m1_enc_hidden,
                dec_hidden=profile.m1_dec_hidden, embed=profile.m1_embed,
                dropout=float(profile.extra.get("m1_dropout", DROPOUT)), attention=profile.m1_attention,
                init=str(profile.extra.get("m1_init", "mean")),
                positions=bool(profile.extra.get("m1_positions", False)),
                presence=float(profile.extra.get("m1_presence", 0.0)) > 0,
                ctc=float(profile.extra.get("m1_ctc", 0.0)) > 0,
                feed=bool(profile.extra.get("m1_feed", True)))


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
    """CNN + row encoder + LSTM decoder with attention over all positions (and input feeding).

    `attention`: "luong", the bilinear score `ctx_i . (W h_t)` of the public im2markup; or "coverage", an
    additive score `v . tanh(U ctx_i + W h_t + F conv(coverage)_i)` whose coverage is the attention given so far
    to each position (WAP, Zhang et al. 2017): it sees where it has already read, which helps it learn to move
    along the formula instead of falling back on the likeliest formula whatever the image.

    `feed`: True, input feeding as in im2markup (Luong et al. 2015): the LSTM's input is the token and the previous
    step's output o = tanh(W [h; context]), so each step waits for the last one's attention. False: the LSTM reads
    the tokens only, and the attention takes its query from h; teacher forcing then runs the LSTM over the whole
    prefix in one call and attends for all steps in one batched product (no Python loop over the tokens), which
    trains about twice as fast on a CPU. The decoder still attends at every step; it just does not feed the
    attention's output back into the LSTM.
    """

    name = "model1"
    has_attention_maps = True

    def __init__(self, vocab_size: int, cnn_widths: Sequence[int] = CNN_WIDTHS, enc_hidden: int = ENC_HIDDEN,
                 dec_hidden: int = DEC_HIDDEN, embed: int = EMBED, dropout: float = DROPOUT,
                 max_rows: int = MAX_ROWS, attention: str = "luong", init: str = "mean", positions: bool = False,
                 presence: bool = False, ctc: bool = False, feed: bool = True):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}: choose one of {', '.join(ATTENTIONS)}")
        if init not in INITS:
            raise ValueError(f"unknown decoder init {init!r}: choose one of {', '.join(INITS)}")
        self.hparams = dict(cnn_widths=list(cnn_widths), enc_hidden=enc_hidden, dec_hidden=dec_hidden,
                            embed=embed, dropout=dropout, max_rows=max_rows, attention=attention, init=init,
                            positions=positions, presence=presence, ctc=ctc, feed=feed)
        if positions and (2 * enc_hidden) % 4:
            raise ValueError(f"positions need 2 * enc_hidden divisible by 4, got enc_hidden={enc_hidden}")
        self.coverage = attention == "coverage"
        self.vocab_size = vocab_size
        self.cnn = VGGEncoder(cnn_widths)
        self.rows = RowEncoder(self.cnn.out_channels, enc_hidden, max_rows)
        ctx_dim = 2 * enc_hidden
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=PAD_ID)
        if feed:
            self.cell = nn.LSTMCell(embed + dec_hidden, dec_hidden)   # input: [token; previous output]
        else:
            self.lstm = nn.LSTM(embed, dec_hidden, batch_first=True)   # input: the token only
        if self.coverage:
            self.key = nn.Linear(ctx_dim, ATTN_DIM, bias=False)      # U ctx: once per image
            self.query = nn.Linear(dec_hidden, ATTN_DIM)              # W h
            self.cov_conv = nn.Conv2d(1, COVERAGE_CHANNELS, COVERAGE_KERNEL, padding=COVERAGE_KERNEL // 2)
            self.cov_proj = nn.Linear(COVERAGE_CHANNELS, ATTN_DIM, bias=False)
            self.score = nn.Linear(ATTN_DIM, 1, bias=False)          # v
        else:
            self.query = nn.Linear(dec_hidden, ctx_dim, bias=False)   # score = ctx . (W h)
        if init == "mean":  # h0, c0 = tanh(W mean(ctx)): the decoder sees the image from its first token
            self.init_proj = nn.Linear(ctx_dim, 2 * dec_hidden)
        self.combine = nn.Linear(dec_hidden + ctx_dim, dec_hidden, bias=False)
        self.drop = nn.Dropout(dropout)
        self.generator = nn.Linear(dec_hidden, vocab_size)
        if presence:  # which tokens the formula holds, read from each cell (max over cells): lib/training/loop.py
            self.presence = nn.Linear(ctx_dim, vocab_size)
        if ctc:  # the formula read left to right off the grid's columns (CTC, blank = <PAD>): lib/training/loop.py
            self.ctc_head = nn.Linear(ctx_dim, CTC_SLOTS * vocab_size)
        with torch.no_grad():  # forget-gate bias 1: remember by default early in training
            (self.cell.bias_hh if feed else self.lstm.bias_hh_l0)[dec_hidden:2 * dec_hidden].fill_(1.0)

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
        memory = {"ctx": ctx, "mask": fmask, "hw": (h, w)}
        keyed = ctx
        if self.hparams.get("positions"):  # where each cell is, in the keys only: the values stay the content
            pe = sinusoid_2d(h, w, ctx.shape[-1], ctx.device).flatten(1).t().to(ctx.dtype)
            keyed = ctx + pe.unsqueeze(0)
            if not self.coverage:
                memory["pkeys"] = keyed
        if self.coverage:
            memory["keys"] = self.key(keyed)
        return memory

    def init_state(self, memory: dict) -> dict:
        """The LSTM state from the mean of the image's context vectors ("mean", as in Show, Attend and Tell
        and WAP) or zero ("zero", the public im2markup); zero input feed; `attn` is zero until the first step."""
        ctx = memory["ctx"]
        zeros = ctx.new_zeros(ctx.shape[0], self.hparams["dec_hidden"], dtype=torch.float32)
        h, c = zeros, zeros.clone()
        if self.hparams["init"] == "mean":
            valid = memory["mask"].unsqueeze(2).to(ctx.dtype)
            mean = (ctx * valid).sum(1) / valid.sum(1)
            with fp32(ctx.device):
                h, c = torch.tanh(self.init_proj(mean.float())).chunk(2, dim=-1)
        state = {"h": h, "c": c, "feed": zeros.clone(),
                 "attn": ctx.new_zeros(ctx.shape[0], ctx.shape[1], dtype=torch.float32)}
        if self.coverage:
            state["cov"] = state["attn"].clone()  # the attention each position has had so far
        return state

    def _scores(self, h: Tensor, memory: dict, state: dict) -> Tensor:
        """Coverage attention scores [B, N] (float32) of the decoder state over the memory positions (the bilinear
        score is `_attend_all`'s)."""
        b, n = state["cov"].shape
        gh, gw = memory["hw"]
        cov = self.cov_conv(state["cov"].view(b, 1, gh, gw).to(memory["keys"].dtype))
        cov = self.cov_proj(cov.flatten(2).transpose(1, 2))
        return self.score(torch.tanh(memory["keys"] + self.query(h).unsqueeze(1) + cov)).squeeze(-1).float()

    def _attend(self, h: Tensor, memory: dict, state: dict) -> tuple[Tensor, Tensor]:
        """Weights over valid positions and the output o = tanh(W [h; context])."""
        if not self.coverage:  # the bilinear score: one step is the batched attention of one query
            out, attn = self._attend_all(h.unsqueeze(1), memory)
            return out[:, 0], attn[:, 0]
        ctx = memory["ctx"]
        scores = self._scores(h, memory, state)
        attn = torch.softmax(scores.masked_fill(~memory["mask"], float("-inf")), dim=-1)
        context = torch.bmm(attn.to(ctx.dtype).unsqueeze(1), ctx).squeeze(1)
        out = torch.tanh(self.combine(torch.cat([h, context.to(h.dtype)], dim=-1)))
        return self.drop(out), attn

    def _recur(self, emb: Tensor, state: dict) -> tuple[Tensor, Tensor]:
        """One LSTM step: the new (h, c) from a token's embedding [B, E] (and the previous output when fed)."""
        with fp32(emb.device):
            h, c = state["h"].float(), state["c"].float()
            if self.hparams["feed"]:
                return self.cell(torch.cat([emb.float(), state["feed"].float()], dim=-1), (h, c))
            _, (h, c) = self.lstm(emb.float().unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
            return h[0], c[0]

    def _advance(self, memory: dict, state: dict, emb: Tensor) -> dict:
        h, c = self._recur(emb, state)
        out, attn = self._attend(h, memory, state)
        new = {"h": h, "c": c, "feed": out, "attn": attn}
        if self.coverage:
            new["cov"] = state["cov"] + attn
        return new

    def step(self, memory: dict, state: dict, tokens: Tensor) -> tuple[Tensor, dict]:
        """One token per row -> (logits [B, V], new state); O(1) in the prefix length."""
        state = self._advance(memory, state, self.embed(tokens))
        return self.generator(state["feed"]), state

    def decode_prefix(self, memory: dict, tokens: Tensor, return_attn: bool = False
                      ) -> Tensor | tuple[Tensor, Tensor]:
        """Logits [B, T, V] for whole prefixes (and the attention maps [B, T, N] when asked)."""
        state = self.init_state(memory)
        embs = self.embed(tokens)
        if not self.hparams["feed"] and not self.coverage:
            return self._decode_parallel(memory, state, embs, return_attn)
        outs, maps = [], []
        for t in range(tokens.shape[1]):
            state = self._advance(memory, state, embs[:, t])
            outs.append(state["feed"])
            if return_attn:
                maps.append(state["attn"])
        logits = self.generator(torch.stack(outs, dim=1))
        return (logits, torch.stack(maps, dim=1)) if return_attn else logits

    def _attend_all(self, hs: Tensor, memory: dict) -> tuple[Tensor, Tensor]:
        """The bilinear attention of T queries at once: hs [B, T, H] -> outputs [B, T, H], weights [B, T, N]."""
        ctx = memory["ctx"]
        keys = memory.get("pkeys", ctx)
        scores = torch.bmm(self.query(hs).to(keys.dtype), keys.transpose(1, 2)).float()
        attn = torch.softmax(scores.masked_fill(~memory["mask"].unsqueeze(1), float("-inf")), dim=-1)
        context = torch.bmm(attn.to(ctx.dtype), ctx)
        return self.drop(torch.tanh(self.combine(torch.cat([hs, context.to(hs.dtype)], dim=-1)))), attn

    def _decode_parallel(self, memory: dict, state: dict, embs: Tensor, return_attn: bool
                         ) -> Tensor | tuple[Tensor, Tensor]:
        """Teacher forcing without input feeding: the LSTM over the whole prefix in one call, then the attention
        of every step at once (`_attend_all`, the code `step` runs for one token)."""
        with fp32(embs.device):
            hs, _ = self.lstm(embs.float(), (state["h"].float().unsqueeze(0), state["c"].float().unsqueeze(0)))
        out, attn = self._attend_all(hs, memory)
        logits = self.generator(out)
        return (logits, attn) if return_attn else logits

    def column_logits(self, memory: dict) -> tuple[Tensor, Tensor]:
        """CTC logits [B, T, V] read off the feature grid's columns from left to right (per column the highest
        value of each feature over its real rows, CTC_SLOTS outputs per column) and each image's number of
        real slots [B]."""
        ctx, mask = memory["ctx"], memory["mask"]
        (h, w), b = memory["hw"], ctx.shape[0]
        grid = mask.view(b, h, w)
        cols = ctx.view(b, h, w, -1).masked_fill(~grid.unsqueeze(3), float("-inf")).amax(1)
        real = grid.any(1)                                          # [B, w]: columns with a real cell
        cols = cols.masked_fill(~real.unsqueeze(2), 0.0)
        logits = self.ctc_head(cols).float().view(b, w * CTC_SLOTS, self.vocab_size)
        return logits, real.sum(1) * CTC_SLOTS

    def forward(self, images: Tensor, tgt_in: Tensor, mask: Tensor | None = None, return_attn: bool = False,
                return_presence: bool = False, return_ctc: bool = False) -> Tensor | tuple:
        """Teacher forcing (`tgt_in` starts with <SOS>): logits [B, T, V]; with `return_attn` also the attention
        [B, T, N], with `return_presence` also the token-presence logits [B, V] (a model built with `presence`):
        for each token, the highest score any feature cell gives it; with `return_ctc` also the column logits
        and their lengths (a model built with `ctc`: `column_logits`)."""
        memory = self.encode(images, mask)
        out = self.decode_prefix(memory, tgt_in, return_attn)
        if not (return_presence or return_ctc):
            return out
        extra = list(out) if return_attn else [out]
        if return_presence:
            if not self.hparams.get("presence"):
                raise ValueError("return_presence needs a model 1 built with presence=True (m1_presence > 0)")
            cells = self.presence(memory["ctx"]).float().masked_fill(~memory["mask"].unsqueeze(2), float("-inf"))
            extra.append(cells.amax(1))
        if return_ctc:
            if not self.hparams.get("ctc"):
                raise ValueError("return_ctc needs a model 1 built with ctc=True (m1_ctc > 0)")
            extra.append(self.column_logits(memory))
        return tuple(extra)
