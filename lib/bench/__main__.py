"""`python -m lib.bench NAME [--json]`: see lib/bench/__init__.py."""
import sys

from . import main

sys.exit(main())
