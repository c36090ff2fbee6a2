"""`python -m nnspec` is the `nnspec` command."""

import sys

from nnspec.cli.main import main

sys.exit(main())
