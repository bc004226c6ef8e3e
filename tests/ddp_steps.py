"""Run by tests/test_ddp.py under torchrun: a few optimisation steps of the training loop on 2 processes (gloo).

    torchrun --nproc_per_node=2 tests/ddp_steps.py PROCESSED OUT STEPS BATCH MODEL

Rank 0 writes the model's parameters after STEPS steps to OUT/params.pt.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lib.run.distributed import World  # noqa: E402
from lib.run.profiles import get_profile  # noqa: E402
from lib.training.loop import TrainingInterrupted, prepare, run_epoch  # noqa: E402

STEP_SETTINGS = dict(schedule="constant", warmup_steps=1, m2_dropout=0.0, m1_dropout=0.0, lr=3e-3, batch_pixels=None,
                     workers=0)


def main() -> None:
    processed, out, steps, batch = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    model = sys.argv[5]
    world = World.from_env()
    profile = get_profile("smoke").replace(batch_size=batch, stop_after_steps=steps, **STEP_SETTINGS)
    run = prepare(model, processed, out / "run", profile, seed=0, epochs=100, max_minutes=float("inf"),
                  world=world)
    try:
        run_epoch(run)
    except TrainingInterrupted:
        pass
    if world.main:
        torch.save({k: v.detach().clone() for k, v in run.net.named_parameters()}, out / "params.pt")
    world.close()


if __name__ == "__main__":
    main()
