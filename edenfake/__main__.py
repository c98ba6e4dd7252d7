"""``python -m edenfake``: the command line."""

import sys

from edenfake.cli import main

sys.exit(main())
