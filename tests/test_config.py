import pytest

from lib.data.buckets import COURSE, FIT, of_profile
from lib.run.profiles import PROFILES, get_profile, resolve_profile_name


def test_profiles_exist_and_grow():
    smoke, cpu, gpu = (get_profile(p) for p in PROFILES)
    assert smoke.demo_pages < cpu.demo_pages < gpu.demo_pages
    assert smoke.m2_d_model <= cpu.m2_d_model <= gpu.m2_d_model
    assert gpu.m1_cnn_widths == (64, 128, 256, 256, 512, 512)   # the paper's CNN
    assert all(of_profile(p) in (COURSE, FIT) for p in (smoke, cpu, gpu))


def test_auto_uses_env_then_hardware(monkeypatch):
    monkeypatch.setenv("IM2LATEX_PROFILE", "cpu")
    assert resolve_profile_name("auto") == "cpu"
    monkeypatch.delenv("IM2LATEX_PROFILE")
    import torch
    assert resolve_profile_name("auto") == ("gpu" if torch.cuda.is_available() else "cpu")
    assert resolve_profile_name("smoke") == "smoke"


def test_unknown_profile_refused():
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        get_profile("huge")


def test_overrides_known_and_extra():
    p = get_profile("smoke", epochs=5, m1_dropout=0.2)
    assert p.epochs == 5 and p.extra["m1_dropout"] == 0.2
    assert get_profile("smoke").epochs == 2 and get_profile("smoke").extra == {}  # the stored profile is unchanged


def test_a_misspelt_setting_is_refused_with_the_nearest_name():
    from lib.run.profiles import UnknownSetting

    with pytest.raises(UnknownSetting, match="unknown setting 'max_minutess'; did you mean 'max_minutes'"):
        get_profile("smoke", max_minutess=30)
    with pytest.raises(UnknownSetting, match="'lrr'; did you mean 'lr'"):
        get_profile("cpu").replace(lrr=1e-3)
    with pytest.raises(UnknownSetting, match="in per_model"):
        get_profile("cpu").replace(per_model={"model1": {"max_minute": 3}})


def test_every_training_knob_can_be_set():
    from lib.run.profiles import Profile
    from lib.training.config import field_names

    assert field_names() - {"max_len"} <= Profile.setting_names()  # max_len follows max_tokens


def test_bench_refuses_a_misspelt_set(capsys):
    from lib.bench import learn
    from lib.run.profiles import UnknownSetting

    with pytest.raises(UnknownSetting, match="'lrr'; did you mean 'lr'"):
        learn.main(["--set", "lrr=1e-3", "--minutes", "0.1"])


def test_series_refuses_a_misspelt_parameter_before_running(tmp_path, monkeypatch):
    from lib.run import series

    monkeypatch.setenv("IM2LATEX_HOME", str(tmp_path))
    with pytest.raises(SystemExit, match="unknown notebook parameter 'max_minutess'; did you mean 'max_minutes'"):
        series.run_series(profile="smoke", only="04", extra_parameters={"max_minutess": 1})
    assert not list((tmp_path / "outputs").rglob("*.ipynb"))  # nothing ran


def test_a_runs_settings_are_resolved_in_one_place():
    """Profile, its per_model overrides, the notebook's budget and named changes, resolved by `resolve_run`: a
    profile setting changes the profile (so it sizes the model), a model argument goes to the model, a misspelt
    name is refused naming the nearest, and the per_model budget yields to an explicit one."""
    from lib.models import model_from_profile
    from lib.run.profiles import UnknownSetting
    from lib.training.config import resolve_run

    cpu = get_profile("cpu")
    run = resolve_run(cpu, "model1", lr=1e-3, m1_dropout=0.3, m1_enc_hidden=48, weight_decay=0.0, dropout=0.0)
    assert run.train.lr == 1e-3 and run.train.weight_decay == 0.0 and run.train.max_minutes == 25.0  # per_model
    assert run.train.max_steps == 4500 and resolve_run(cpu, "model2").train.max_steps == 9000
    assert run.profile.extra["m1_dropout"] == 0.3 and run.model == {"dropout": 0.0}
    assert model_from_profile("model1", 20, run.profile).hparams["enc_hidden"] == 48
    assert resolve_run(cpu, "model1", max_minutes=3).train.max_minutes == 3.0
    assert resolve_run(cpu, "model2", d_model=16, m2_width=8).model == {"d_model": 16}
    with pytest.raises(UnknownSetting, match="'warmup_step'; did you mean 'warmup_steps'"):
        resolve_run(cpu, "model2", warmup_step=10)
    with pytest.raises(UnknownSetting, match="'d_modle'; did you mean 'd_model'"):
        resolve_run(cpu, "model2", d_modle=16)
