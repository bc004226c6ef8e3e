"""`python -m lib.series`: run the numbered notebooks in order (the runner is lib/run/series.py)."""
import sys

from .run.series import main

if __name__ == "__main__":
    sys.exit(main())
