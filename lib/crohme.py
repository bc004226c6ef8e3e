"""`python -m lib.crohme fetch`: download the CROHME 2016 package (the code is lib/data/crohme_fetch.py)."""
import sys

from .data.crohme_fetch import main

if __name__ == "__main__":
    sys.exit(main())
