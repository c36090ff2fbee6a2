"""The one exception a verb raises for wrong usage: the CLI prints it and exits 2."""


class UsageError(Exception):
    """Wrong usage found after parsing (a missing file, a malformed --set): exit 2."""
