"""`python -m vgan.cli ...`, the same as `vgan ...`."""

import sys

from . import main

sys.exit(main())
