"""`python -m lib.im2latex fetch`: download im2latex-100k, or typeset its images with LaTeX (lib/data/im2latex_fetch.py)."""
import sys

from .data.im2latex_fetch import main

if __name__ == "__main__":
    sys.exit(main())
