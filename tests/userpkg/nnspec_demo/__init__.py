"""A user's own layer package, as the user-layer tests use it (tests/userpkg is put on the path).

Each module records its import in the file named by $NNSPEC_DEMO_MARKER, so tests can prove
which of them nnspec imported, even in a subprocess.
"""

import os


def record(name: str) -> None:
    marker = os.environ.get("NNSPEC_DEMO_MARKER")
    if marker:
        with open(marker, "a", encoding="utf-8") as f:
            f.write(name + "\n")


record(__name__)
