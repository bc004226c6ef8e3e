"""Test-wide settings: the smoke profile, plain progress lines, and a throw-away home for data/outputs."""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("IM2LATEX_PROFILE", "smoke")
os.environ.setdefault("IM2LATEX_HEADLESS", "1")
# Notebooks run by nbval write data/ and outputs/ here, never over a user's own runs.
if not os.environ.get("IM2LATEX_HOME"):
    _home = tempfile.mkdtemp(prefix="im2latex-test-home-")
    os.environ["IM2LATEX_HOME"] = _home
    atexit.register(shutil.rmtree, _home, ignore_errors=True)
