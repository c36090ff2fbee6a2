"""CLI verbs. Each module has `register(subparsers)`, which sets `run` as the handler."""

from nnspec.commands import build, schema, validate

COMMANDS = [build, validate, schema]
