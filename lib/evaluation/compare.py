"""Notebook 06's work: find the checkpoints, decode dev/test with greedy and beam, score, pick the best."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..data.dataset import fingerprint, load_split
from ..inference.predict import load_images as preprocessed
from ..inference.predict import predict_arrays
from ..models import REGISTRY
from ..models import checkpoint
from ..models.checkpoint import load_model
from ..run import records
from ..run.progress import progress
from . import metrics
from .score_file import read_lines
from .submission import read_test_ids


@dataclass
class Split:
    """Image names, their paths and (where known) reference token lists, in submission order."""

    name: str
    ids: list[str]
    paths: list[Path]
    refs: list[list[str]] | None = None
    all_ids: list[str] = field(default_factory=list)  # every id of the split, past the limit too


@dataclass
class Run:
    """One checkpoint decoded one way: its result lines per split, metrics and speed."""

    model: str
    decoder: str
    beam: int
    lines: dict = field(default_factory=dict)      # split -> result lines
    metrics: dict = field(default_factory=dict)    # split -> metrics.score dict
    seconds: float = 0.0                           # decoding time on the test split
    images_per_s: float = 0.0


@dataclass
class Settings:
    """Notebook 06's decoding settings, resolved from its parameters and the profile."""

    beam: int
    test_limit: int | None   # test images decoded (None: all)
    dev_limit: int | None    # dev images decoded to choose the submission (None: all)
    max_len: int


def resolve_settings(profile, beam: int | None = None, eval_limit: int | None = None, max_len: int | None = None,
                     threads: int | None = None) -> Settings:
    """Notebook 06's parameters, None taking the profile's: beam width, images per split (`eval_limit`; the dev
    split also at most `profile.eval_dev_limit`), the longest decoded formula. `threads` sets torch's threads."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    beam = int(beam) if beam is not None else profile.beam
    limit = int(eval_limit) if eval_limit is not None else profile.eval_limit
    dev_limit = min((x for x in (limit, profile.eval_dev_limit) if x is not None), default=None)
    max_len = int(max_len) if max_len is not None else profile.decode_limit
    if beam < 1 or max_len < 1 or (limit is not None and limit < 1):
        raise ValueError(f"beam, eval_limit and max_len must be positive, got {beam}, {limit}, {max_len}")
    return Settings(beam, limit, dev_limit, max_len)


def resolve_path(raw: str, run_dir: Path) -> Path:
    """A checkpoint path from best.json: absolute, or relative to the run (notebook 05 writes
    `ablation/<arm>/best.pt`), its ablation/ folder or home."""
    p = Path(raw)
    if p.is_absolute():
        return p
    home = run_dir.parent.parent
    for base in (run_dir, run_dir / "ablation", home, Path.cwd()):
        if (base / p).is_file():
            return base / p
    return run_dir / p


def find_checkpoints(run_dir: str | Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """(name, best.pt) of model1, model2 and the best ablation arm; notes on what is missing."""
    run_dir = Path(run_dir)
    found, notes = [], []
    for name in REGISTRY:
        path = run_dir / name / "best.pt"
        if path.is_file():
            found.append((name, path))
        else:
            notes.append(f"{name}: no checkpoint at {path} (run its training notebook first); skipped")
    try:
        info = records.read_ablation_best(run_dir / "ablation")
    except records.RecordError as e:
        notes.append(f"ablation: {e}; skipped")
        return found, notes
    if info is None:
        notes.append(f"ablation: no {run_dir / 'ablation' / records.ABLATION_BEST} (notebook 05 not run); "
                     f"only the two models are compared")
        return found, notes
    arm, path = str(info["arm"]), resolve_path(str(info["checkpoint"]), run_dir)
    if path.is_file():
        found.append((f"ablation-{arm}", path))
    else:
        notes.append(f"ablation: best arm {arm!r} has no checkpoint at {path}; skipped")
    return found, notes


class OtherDataError(ValueError):
    """A checkpoint trained on another processed set than the one it would be scored on."""


def check_data(checkpoints: list[tuple[str, Path]], processed_dir: str | Path) -> list[str]:
    """Refuse to score a checkpoint against a processed set other than the one it was trained on (a re-run of
    notebooks 01-02 with other data settings under the same profile and seed re-makes data/processed/<source>/<key>); notes for checkpoints that
    record no set."""
    now, notes = fingerprint(processed_dir), []
    for name, path in checkpoints:
        ckpt = checkpoint.load(path, "cpu")
        config, trained_on = ckpt.config, ckpt.data_fingerprint
        if trained_on is None:
            notes.append(f"{name}: {path} does not record its training data; scored against {processed_dir}")
        elif trained_on != now:
            raise OtherDataError(
                f"{name}: {path} was trained on another processed set than {processed_dir} holds now (fingerprint "
                f"{trained_on}, now {now}): notebooks 01-02 were run again since. Score it against its own data "
                f"(re-run 01-02 with the settings of this run: {config.get('profile')} profile, seed "
                f"{config.get('seed')}), or train it again on this data (notebooks 03-05).")
    return notes


def settings_line(path: str | Path) -> str:
    """One line of the settings a checkpoint was trained with (its `settings.json`), for notebook 06."""
    st = records.read_settings(Path(path).parent)
    if st is None:
        return f"(no {records.SETTINGS} beside it)"
    train = st.get("train") or {}
    return (f"profile {st.get('profile')}, data {st.get('data')}, seed {st.get('seed')}, augment {st.get('augment')}, "
            + ", ".join(f"{k} {train.get(k)}" for k in ("epochs", "max_minutes", "lr", "batch_size", "max_len")))


def test_split(processed_dir: str | Path, limit: int | None = None) -> Split:
    """The test ids (first `limit`), their image paths and the answer key when there is one."""
    d = Path(processed_dir)
    ids = read_test_ids(d / "test_ids.txt")
    refs = None
    key = d / "answer_key.txt"
    if key.is_file():
        lines = read_lines(key)
        if len(lines) != len(ids):
            raise ValueError(f"{key} has {len(lines)} lines but {d / 'test_ids.txt'} has {len(ids)} ids")
        refs = [metrics.tokens(x) for x in lines][:limit]
    return Split("test", ids[:limit], [d / "images" / i for i in ids[:limit]], refs, all_ids=ids)


def dev_split(processed_dir: str | Path, limit: int | None = None) -> Split | None:
    """The dev images with their formulas, or None where the list is missing or empty."""
    d = Path(processed_dir)
    if not (d / "validate_filter.lst").is_file():
        return None
    samples = load_split(d, "dev")
    if not samples:
        return None
    chosen = samples[:limit]
    return Split("dev", [n for n, _ in chosen], [d / "images" / n for n, _ in chosen],
                 [t for _, t in chosen], all_ids=[n for n, _ in samples])


def evaluate_checkpoints(checkpoints: list[tuple[str, Path]], splits: list[Split], beam: int,
                         batch_size: int = 16, device: str = "cpu", max_len: int = 150) -> list[Run]:
    """Decode every split with every checkpoint, greedy and (beam > 1) beam; score splits with references.

    Images are read and preprocessed once, before any timing: `images_per_s` measures the model's decoding
    on `device`, not the disk and the CPU's image preprocessing.
    """

    arrays: dict[str, dict[str, list]] = {}  # images prepared the way each checkpoint was trained, once each
    runs = []
    decoders = [("greedy", 1)] + ([(f"beam{beam}", beam)] if beam > 1 else [])
    jobs = [(name, path, dec, k) for name, path in checkpoints for dec, k in decoders]
    loaded: dict[str, tuple] = {}
    for name, path, dec, k in progress(jobs, desc="decoding", interval=10.0):
        if name not in loaded:
            loaded = {name: load_model(path, device)}  # one model in memory at a time
        model, vocab, ckpt = loaded[name]
        buckets, scale = ckpt.preprocess.buckets, ckpt.preprocess.ink_scale
        key = repr((buckets, sorted((scale or {}).items())))
        if key not in arrays:
            arrays[key] = {split.name: preprocessed(split.paths, buckets, scale) for split in splits}
        run = Run(name, dec, k)

        def decode(images: list) -> list[str]:
            return predict_arrays(model, vocab, images, beam=k, batch_size=batch_size, device=device,
                                  max_len=max_len)

        for split in splits:
            images = arrays[key][split.name]
            if split.name == "test" and images:  # warm-up: first calls pay one-off set-up costs
                decode(images[:1])
            t0 = time.perf_counter()
            run.lines[split.name] = decode(images)
            elapsed = time.perf_counter() - t0
            if split.name == "test":
                run.seconds, run.images_per_s = elapsed, len(images) / max(elapsed, 1e-9)
            if split.refs is not None:
                run.metrics[split.name] = metrics.score_lines([metrics.line_of(r) for r in split.refs],
                                                              run.lines[split.name])
        runs.append(run)
    return runs


def choose(runs: list[Run]) -> tuple[Run, str]:
    """The run to submit: best dev course score, else best test score (answer key), else the last
    beam run; and how it was chosen."""
    for split, how in (("dev", "course score on the dev split"), ("test", "course score on the answer key")):
        scored = [r for r in runs if split in r.metrics]
        if scored:
            return max(scored, key=lambda r: r.metrics[split]["course_score"]), how
    beams = [r for r in runs if r.beam > 1] or runs
    return beams[-1], "no references to score against: the last model with beam search"


def metrics_rows(runs: list[Run], split: str = "test") -> list[dict]:
    """One table row per run with the metrics of `split` (rows without references get none)."""
    rows = []
    for r in runs:
        m = r.metrics.get(split, {})
        rows.append({"model": r.model, "decoder": r.decoder,
                     **{k: m[k] for k in metrics.KEYS if k in m}, "images/s": r.images_per_s})
    return rows


def scored_split(run: Run, splits: list[Split]) -> tuple[Split, list[list[str]]]:
    """The split analysed for errors (test with an answer key, else dev) and the run's token lists;
    an empty split named "none" when nothing has references."""
    for split in sorted(splits, key=lambda s: s.name != "test"):
        if split.refs is not None and split.name in run.lines:
            return split, [metrics.tokens(x) for x in run.lines[split.name]]
    return Split("none", [], [], []), []


def summary(runs: list[Run], chosen: Run, how: str, splits: list[Split], report: dict, **info) -> dict:
    """Everything metrics.json records: the choice, the submitted run's scores, every run, the lines."""
    return {**info, "submitted": {"model": chosen.model, "decoder": chosen.decoder, "chosen_by": how,
                                  **{f"{k}_metrics": metrics.rounded(v) for k, v in chosen.metrics.items()}},
            "splits": {s.name: {"decoded": len(s.ids), "total": len(s.all_ids), "scored": s.refs is not None}
                       for s in splits},
            "runs": [{"model": r.model, "decoder": r.decoder, "beam": r.beam,
                      "metrics": {k: metrics.rounded(v) for k, v in r.metrics.items()},
                      "test_seconds": round(r.seconds, 3), "test_images_per_s": round(r.images_per_s, 3)}
                     for r in runs],
            "result_lines": report}
