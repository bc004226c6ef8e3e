"""`python -m lib.evaluate`: score a prediction file against an answer key (lib/evaluation/score_file.py)."""
import sys

from .evaluation.score_file import main

if __name__ == "__main__":
    sys.exit(main())
