"""`python -m lib.predict`: LaTeX for a folder of formula images (the code is lib/inference/predict.py)."""
import sys

from .inference.predict import main

if __name__ == "__main__":
    sys.exit(main())
