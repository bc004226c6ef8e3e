"""Code that only a GPU runs, tested by simulating the device: checkpoints loaded elsewhere, other precisions."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lib.run.profiles import get_profile
from lib.models import checkpoint
from lib.training.loop import train_model
from tests.fixtures import make_processed_dataset

TINY = dict(stages=1, d_model=16, layers=1, heads=2, ff=32, dropout=0.1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_processed_dataset(tmp_path_factory.mktemp("processed"), n_train=12, n_dev=4, n_test=2, seed=1)


def _profile(**kw):
    return get_profile("smoke").replace(**{**dict(batch_size=4, max_minutes=None, val_limit=4,
                                                  checkpoint_minutes=1e6), **kw})


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_rng_state_restores_from_a_checkpoint_loaded_onto_another_device(tmp_path):
    """`torch.load(map_location=<GPU>)` moves tensors; RNG states must still restore (here: the meta device)."""
    from lib.data.vocab import Vocab
    from lib.models import build_model

    vocab = Vocab(["<PAD>", "<SOS>", "<EOS>", "<UNK>", "x"])
    path = checkpoint.save(tmp_path / "last.pt", build_model("model2", len(vocab), **TINY), vocab,
                           model_name="model2")
    expected = _draws()
    _draws()  # move every stream on
    ckpt = checkpoint.load(path, "meta")  # as if loaded onto a GPU: every tensor leaves the CPU
    assert next(iter(ckpt.weights.values())).is_meta
    checkpoint.set_rng_state(ckpt.rng)
    assert _draws() == expected


def test_rng_state_of_an_older_checkpoint_on_a_device_is_brought_back():
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    expected = _draws()
    checkpoint.set_rng_state(state)
    assert _draws() == expected
    with pytest.raises(ValueError, match="map_location='cpu'"):
        checkpoint.set_rng_state({**state, "torch": torch.get_rng_state().to("meta")})


@pytest.mark.parametrize("saved_on, resumed_on", [("off", "on"), ("on", "off"), ("on", "on"), ("off", "off")])
def test_grad_scaler_state_moves_between_precisions(saved_on, resumed_on):
    """bf16/CPU runs save an empty (disabled) scaler; fp16 (T4) runs save a real one. Any onto any."""
    def scaler(on: bool):
        return torch.amp.GradScaler("cpu", enabled=on)

    written = scaler(saved_on == "on")
    if saved_on == "on":
        written.scale(torch.ones(1))  # the first scale() creates the scale tensor
        written.update(new_scale=1024.0)
    state = written.state_dict()
    target = scaler(resumed_on == "on")
    loaded = checkpoint.restore_scaler(target, state)
    assert loaded == (saved_on == "on" and resumed_on == "on")
    if loaded:
        assert target.get_scale() == 1024.0


def _fake_precision(monkeypatch, use_scaler: bool):
    """CPU training whose GradScaler is on (fp16 on a T4) or off (bf16 on a 3090): what a resume meets."""
    from lib.training import loop as train
    from lib.run import precision

    def choose(device=None):
        return precision.Precision(torch.device("cpu"), None, use_scaler)

    monkeypatch.setattr(train, "choose", choose)


@pytest.mark.parametrize("first, second", [(False, True), (True, False)], ids=["bf16-to-fp16", "fp16-to-bf16"])
def test_training_resumes_under_another_precision(data, tmp_path, monkeypatch, first, second):
    _fake_precision(monkeypatch, first)
    train_model("model2", data, tmp_path, _profile(), epochs=1, **TINY)
    assert checkpoint.load(tmp_path / "last.pt").epoch == 1
    _fake_precision(monkeypatch, second)
    result = train_model("model2", data, tmp_path, _profile(), epochs=2, allow_changes=True, **TINY)
    assert result.epochs_run == 2 and [r["epoch"] for r in result.history] == [1, 2]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_model1_recurrent_layers_compute_in_fp32_under_autocast(dtype):
    """cuDNN's RNN autocast wrapper may run LSTMs in fp16 even under bf16 autocast, with no GradScaler to
    protect the gradients: model 1 runs every recurrent layer in fp32 whatever the autocast dtype."""
    from lib.models import build_model

    torch.manual_seed(0)
    model = build_model("model1", 12, cnn_widths=[8, 16, 16, 16, 32, 32], enc_hidden=16, dec_hidden=32, embed=16,
                        feed=True)  # input feeding: the LSTMCell path too
    seen = []

    def hook(module, args, out):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        tensors += [t for a in args if isinstance(a, tuple) for t in a if isinstance(t, torch.Tensor)]
        outs = out if isinstance(out, tuple) else (out,)
        tensors += [t for o in outs for t in (o if isinstance(o, tuple) else (o,)) if isinstance(t, torch.Tensor)]
        seen.append((type(module).__name__, {t.dtype for t in tensors}))

    for m in model.modules():
        if isinstance(m, (torch.nn.LSTM, torch.nn.LSTMCell, torch.nn.GRU, torch.nn.GRUCell, torch.nn.RNN)):
            m.register_forward_hook(hook)
    images, tgt = torch.rand(2, 1, 32, 64), torch.randint(4, 12, (2, 5))
    with torch.autocast("cpu", dtype=dtype):
        logits = model(images, tgt)
    logits.float().sum().backward()
    assert {name for name, _ in seen} == {"LSTM", "LSTMCell"}
    assert all(dtypes == {torch.float32} for _, dtypes in seen), seen
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize("name", ["model1", "model2"])
def test_beam_search_never_copies_the_image_memory_after_the_start(name):
    """The memory (and model 2's per-layer keys/values of it) is the same along every beam of an image:
    it is repeated once for the beams, then every step reads that same tensor."""
    from lib.inference.decode import beam_search
    from lib.models import build_model

    torch.manual_seed(0)
    hp = TINY if name == "model2" else dict(cnn_widths=[8, 16, 16, 16, 32, 32], enc_hidden=16, dec_hidden=32,
                                            embed=16)
    model = build_model(name, 12, **hp).eval()
    seen: list[set] = []
    step = model.step

    def watched(memory, state, tokens):
        seen.append({t.data_ptr() for t in _tensors(memory)})
        return step(memory, state, tokens)

    model.step = watched
    beam_search(model, torch.rand(2, 1, 32, 64), beam=3, max_len=6, min_len=6, include_greedy=False)
    assert len(seen) == 6 and all(s == seen[0] for s in seen)


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    return []


def test_pixel_budget_shrinks_batches_of_large_buckets():
    from lib.data.buckets import COURSE
    from lib.data.dataset import BucketBatchSampler
    from lib.run.profiles import get_profile

    assert (1600, 400) in COURSE  # the step between 1600x200 and 1600x1600 (InkML renders: <= 1600x400)
    gpu = get_profile("gpu")
    sizes = [(240, 100)] * 70 + [(1600, 400)] * 9 + [(1600, 1600)] * 3
    s = BucketBatchSampler(sizes, batch_size=gpu.batch_size, shuffle=True, seed=0, max_pixels=gpu.batch_pixels)
    batches = list(s)
    assert sorted(i for b in batches for i in b) == list(range(len(sizes))) and len(batches) == len(s)
    by_size = {}
    for b in batches:
        by_size.setdefault(sizes[b[0]], []).append(len(b))
    assert max(by_size[(240, 100)]) == gpu.batch_size
    assert max(by_size[(1600, 1600)]) == 1 and max(by_size[(1600, 400)]) <= gpu.batch_pixels // (1600 * 400)
    for size, lens in by_size.items():
        assert max(lens) * size[0] * size[1] <= max(gpu.batch_pixels, size[0] * size[1])


def test_prediction_batches_keep_the_pixel_budget(monkeypatch):
    from lib.data.vocab import Vocab
    from lib.inference import predict
    from lib.models import build_model

    seen = []
    monkeypatch.setattr(predict, "greedy", lambda model, x, max_len: (seen.append(tuple(x.shape)) or
                                                                       ([[4]] * x.shape[0], None)))
    vocab = Vocab(["<PAD>", "<SOS>", "<EOS>", "<UNK>", "x"])
    images = [np.full((100, 240), 255, np.uint8)] * 20 + [np.full((1600, 1600), 255, np.uint8)] * 3
    lines = predict.predict_arrays(build_model("model2", len(vocab), **TINY), vocab, images, batch_size=16,
                                   max_pixels=4 * 240 * 100)
    assert lines == ["x"] * 23
    assert sorted(seen) == sorted([(4, 1, 100, 240)] * 5 + [(1, 1, 1600, 1600)] * 3)


@pytest.mark.parametrize("feed", [True, False], ids=["input-feeding", "no-feed"])
def test_model1_casts_its_memory_once_under_autocast(feed):
    """Under autocast every step's attention would otherwise keep its own low-precision copy of the whole
    memory for backward (T copies of [N, D]: gigabytes at large buckets)."""
    from lib.models import build_model

    torch.manual_seed(0)
    model = build_model("model1", 12, cnn_widths=[8, 16, 16, 16, 32, 32], enc_hidden=24, dec_hidden=32, embed=16,
                        feed=feed)
    images, tgt = torch.rand(1, 1, 64, 128), torch.randint(4, 12, (1, 20))
    n_ctx = (64 // 8) * (128 // 8) * 48
    copies = set()

    def pack(t):
        if t.numel() == n_ctx:
            copies.add(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.autocast("cpu", dtype=torch.bfloat16):
        model(images, tgt)
    assert 1 <= len(copies) <= 2, f"{len(copies)} saved copies of the memory for 20 steps"


def test_memory_prediction_grows_linearly_with_area():
    from lib.bench import memory
    from lib.models import model_from_profile

    for name in ("model1", "model2"):
        model = model_from_profile(name, memory.VOCAB, get_profile("smoke")).train()
        cost = memory.per_image_cost(model, 20, torch.bfloat16)
        measured = memory.saved_bytes(model, 384, 192, 20, torch.bfloat16)
        predicted = cost[0] + cost[1] * 384 * 192
        assert abs(predicted - measured) <= 0.1 * measured, (name, predicted, measured)


def test_gpu_profile_fits_a_24gb_card_on_every_bucket(capsys):
    import json

    from lib.bench import memory

    assert memory.main(["--profile", "gpu", "--data", "crohme", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["peak_gib"] <= 22.0
    sizes = {r["size"]: r for r in result["buckets"]}
    assert sizes["1600x400"]["batch"] < sizes["640x128"]["batch"] <= get_profile("gpu").batch_size
    assert all(r["model1_gib"] <= 22.0 and r["model2_gib"] <= 22.0 for r in result["buckets"])


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "400000 100000\n"}, 4.0),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu.max": "garbage"}, None),
    ({}, None),
], ids=["v2-unlimited", "v2-4", "v2-1.5", "v1-3", "v1-unlimited", "unreadable", "none"])
def test_cgroup_quota_caps_process_pools(tmp_path, monkeypatch, files, expected):
    """An AutoDL container sees all 64-128 host cores but may use a few: pools follow the quota."""
    from lib.run import parallel

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert parallel.cgroup_cpus(tmp_path) == expected
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(96)))
    workers = parallel.default_workers(tmp_path)
    assert workers == (96 if expected is None else max(1, int(expected)))
    assert parallel.loader_workers(4, tmp_path) == min(4, workers - 1)


def test_loader_workers_leave_a_core_for_training(tmp_path, monkeypatch):
    from lib.run import parallel

    (tmp_path / "cpu.max").write_text("200000 100000\n")  # Colab: 2 vCPUs
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1})
    assert parallel.loader_workers(4, tmp_path) == 1 and parallel.loader_workers(0, tmp_path) == 0


def test_data_parallel_processes_share_the_loader_cores(tmp_path, monkeypatch):
    """torchrun with 4 processes on a 16-core quota: each process's loader gets 16 / 4 - 1 = 3 workers, not 4."""
    from lib.run import parallel

    (tmp_path / "cpu.max").write_text("1600000 100000\n")
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(64)))
    assert parallel.loader_workers(4, tmp_path) == 4
    assert parallel.loader_workers(4, tmp_path, processes=4) == 3
    assert parallel.loader_workers(4, tmp_path, processes=16) == 0


def test_a_checkpoint_is_one_typed_record_written_and_read_in_one_place(data, tmp_path):
    """best.pt and last.pt read back as `Checkpoint` with every field; foreign files and a last.pt without a
    training position are refused naming the file."""
    train_model("model2", data, tmp_path, _profile(), epochs=1, **TINY)
    last, best = checkpoint.load(tmp_path / "last.pt"), checkpoint.load(tmp_path / "best.pt")
    for ckpt in (last, best):
        assert ckpt.model_name == "model2" and ckpt.hparams["d_model"] == 16 and ckpt.epoch == 1 and ckpt.step > 0
        assert ckpt.vocabulary().to_dict() == ckpt.vocab and ckpt.weights and ckpt.best_metric is not None
        assert ckpt.preprocess.buckets and all(len(b) == 2 for b in ckpt.preprocess.buckets)
        assert ckpt.data_fingerprint and ckpt.decode_limit == ckpt.config["train"]["max_len"]
    assert last.train_state["epoch"] == 1 and last.optimizer and last.rng and best.metrics["epoch"] == 1
    assert best.train_state is None and best.optimizer is None and best.rng is None  # best.pt: no resume state
    again = checkpoint.Checkpoint.from_dict(last.to_dict())
    assert again.to_dict().keys() == last.to_dict().keys() and again.step == last.step
    torch.save({"weights": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match=r"foreign.pt: not a checkpoint of this project \(no model, model_name"):
        checkpoint.load(tmp_path / "foreign.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "best.pt").read_bytes()[:200])
    with pytest.raises(ValueError, match="cut.pt: not a readable checkpoint"):
        checkpoint.load(tmp_path / "cut.pt")
    (tmp_path / "last.pt").write_bytes((tmp_path / "best.pt").read_bytes())
    with pytest.raises(ValueError, match="last.pt: holds no training position"):
        train_model("model2", data, tmp_path, _profile(), epochs=2, **TINY)
