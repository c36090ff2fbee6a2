"""`python -m nnspec` is the `nnspec` command."""

import sys

from nnspec.cli.entry import main

sys.exit(main())
