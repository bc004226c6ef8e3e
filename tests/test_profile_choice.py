"""A GPU run that cannot surprise: the gpu profile is refused without CUDA (unless forced), `auto` says what it chose
and why, the series prints each training's budget first, and a machine with several GPUs trains on one unless
asked for more. CUDA is faked where a test needs it to be there."""
import pytest
import torch

from lib.run import profiles
from lib.run.notebook import start
from lib.run.series import budget_lines, run_series


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(profiles.PROFILE_ENV, raising=False)
    monkeypatch.delenv(profiles.FORCE_ENV, raising=False)


def test_the_gpu_profile_without_cuda_is_refused_unless_forced(no_cuda, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IM2LATEX_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="without a CUDA GPU.*--force"):
        start(step="export", profile="gpu")
    with pytest.raises(SystemExit, match="without a CUDA GPU"):
        run_series(profile="gpu", data="demo", only="01")
    monkeypatch.setenv(profiles.FORCE_ENV, "1")
    ctx = start(step="export", profile="gpu")
    assert ctx.profile.name == "gpu" and "profile=gpu (asked for)" in capsys.readouterr().out


def test_auto_says_what_it_chose_and_why(no_cuda, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("IM2LATEX_HOME", str(tmp_path))
    assert profiles.choose_profile("auto") == ("cpu", "auto: no CUDA GPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "NVIDIA GeForce RTX 3090")
    assert profiles.choose_profile("auto") == ("gpu", "auto: CUDA GPU NVIDIA GeForce RTX 3090")
    profiles.refuse_gpu_profile_without_cuda("gpu")                    # CUDA there: nothing to refuse
    monkeypatch.setenv(profiles.PROFILE_ENV, "smoke")
    assert profiles.choose_profile("auto") == ("smoke", f"${profiles.PROFILE_ENV}")
    start(step="export", profile="auto")
    assert "profile=smoke ($IM2LATEX_PROFILE)" in capsys.readouterr().out


def test_the_series_prints_each_trainings_budget_and_every_gpu_training_has_a_cap():
    gpu = profiles.get_profile("gpu")
    lines = budget_lines(gpu.for_data("demo"), ["01", "02", "03", "04", "05", "06"])
    assert lines[0] == "training budget:" and len(lines) == 4
    assert "03 model1: at most 40 min" in lines[1] and "04 model2: at most 30 min" in lines[2]
    for data in ("demo", "crohme"):
        for model in ("model1", "model2"):
            assert gpu.for_data(data).for_model(model).max_minutes is not None, (data, model)
    crohme = budget_lines(profiles.get_profile("cpu").for_data("crohme"), ["04"])
    assert crohme == ["training budget:", "  04 model2: at most 34 min (100 epochs; its first 15 min on the demo set)"]
    assert budget_lines(gpu, ["01", "02", "06"]) == []


def test_several_gpus_train_on_one_unless_asked(monkeypatch, capsys):
    from lib import train

    monkeypatch.setattr(train, "visible_gpus", lambda: 2)
    assert train.processes_for(1) == 1
    assert "2 GPUs visible, training on one (gpus=2" in capsys.readouterr().out
    assert train.processes_for(None) == 2 and train.processes_for(2) == 2
    with pytest.raises(ValueError, match="gpus=3"):
        train.processes_for(3)
