"""CLI verbs. Each module has `register(subparsers)`, which sets `run` as the handler."""

from nnspec.commands import build, diff, graph, import_, schema, summary, validate

COMMANDS = [build, validate, summary, diff, graph, schema, import_]
