"""`python -m nnspec` is the `nnspec` command."""

import sys

from nnspec.cli import main

sys.exit(main())
