"""Test-wide settings: the smoke profile, plain progress lines, and a throw-away home for data/outputs."""
import os
import tempfile

os.environ.setdefault("IM2LATEX_PROFILE", "smoke")
os.environ.setdefault("IM2LATEX_HEADLESS", "1")
# Notebooks run by nbval write data/ and outputs/ here, never over a user's own runs.
os.environ.setdefault("IM2LATEX_HOME", tempfile.mkdtemp(prefix="im2latex-test-home-"))
