"""CLI verbs. Each module has `register(subparsers)`, which sets `run` as the handler."""

from nnspec.commands import build, import_, validate

COMMANDS = [build, validate, import_]
