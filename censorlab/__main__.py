"""`python -m censorlab` runs the command line."""

import sys

from censorlab.cli import main

sys.exit(main())
