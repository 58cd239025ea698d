"""``python -m sparselabel``: the same as the ``sparselabel`` command."""

import sys

from .cli import main

sys.exit(main())
