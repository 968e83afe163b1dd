"""``python -m mart``: the command line."""

import sys

from mart.cli import main

sys.exit(main())
