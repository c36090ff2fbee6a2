"""Backend: the IR as standalone, readable PyTorch source, rendered through Jinja templates.

Python here decides what each statement says, as syntax trees built from validated identifiers,
the spec's checked expressions and literal values: calls name only arguments that differ from
the defaults, keyword arguments where the spec used them, children as `self.<name>` in
`forward`. `nnspec.formatter` lays each statement out exactly as `ruff format` would. The
templates in `templates/` decide the file's layout, header and self-check, and a user can
override any of them by name (`--templates DIR`). Nothing from a spec reaches the output
except through `nnspec.formatter`, which writes identifiers and literal reprs only.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import jinja2

from nnspec.codegen.classes import ClassSource, ClassWriter, module_names
from nnspec.codegen.deferred import REPLAY_INIT
from nnspec.codegen.imports import Usage, user_names
from nnspec.codegen.precompiled import PrecompiledLoader
from nnspec.codegen.selfcheck import self_check
from nnspec.formatter import literal
from nnspec.ir.program import (
    Program,
)
from nnspec.language.expr import make_divisible
from nnspec.output import write

TEMPLATE_NAME = "module.py.jinja"


class TemplateError(Exception):
    """A template (usually a user's override) failed to render, or dropped the markers."""


def template_dirs(override: str | Path | None = None) -> list[str]:
    """User templates first (they replace ours by name), then the packaged ones."""
    package = Path(__file__).resolve().parent.parent  # nnspec/
    packaged = package / "templates"
    if not packaged.is_dir():  # running from a source checkout: the top-level folder
        packaged = package.parent / "templates"
    return ([str(override)] if override else []) + [str(packaged)]


def environment(override: str | Path | None = None) -> jinja2.Environment:
    return jinja2.Environment(
        loader=PrecompiledLoader(template_dirs(override)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


@dataclass
class ModuleSource:
    """Everything the templates see. Every string is already safe Python or comment text."""

    spec: str  # the spec's path, relative to the output file, safe inside a comment
    command: str  # the arguments that regenerate the file, shell-quoted
    spec_sha256: str
    body_sha256: str  # a placeholder until `write.seal` fills in the real digest
    root: str
    imports: list[str]
    helpers: list[str]
    classes: list[ClassSource]
    self_check: list[str]


def generate(program: Program, spec_label: str | None = None,
             templates: str | Path | None = None,
             overrides: dict[str, Any] | None = None) -> str:
    """The generated module's full text, sealed with its body digest."""
    source = describe(program, spec_label, overrides)
    try:
        text = environment(templates).get_template(TEMPLATE_NAME).render(m=source)
        text = write.seal(text)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}") from None
    except jinja2.TemplateError as exc:
        where = f" ({exc.filename}:{exc.lineno})" if getattr(exc, "filename", None) else \
            _template_frame(exc)
        raise TemplateError(f"template error{where}: {exc.message}") from None
    except ValueError as exc:
        raise TemplateError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a user template's own failure is the user's
        if templates is None:  # the packaged templates: nnspec's bug
            raise
        raise TemplateError(f"template error{_template_frame(exc)}: {type(exc).__name__}: "
                            f"{exc}") from None
    try:
        ast.parse(text)
    except SyntaxError as exc:
        raise TemplateError(f"the templates produced invalid Python (line {exc.lineno}): "
                            f"{exc.msg}") from None
    return text


def _template_frame(exc: BaseException) -> str:
    """` (FILE:LINE)` of the innermost template line in `exc`'s traceback (jinja2 rewrites
    frames to point at templates), or ""."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.endswith(".jinja")]
    return f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def describe(program: Program, spec_label: str | None = None,
             overrides: dict[str, Any] | None = None) -> ModuleSource:
    """Everything the templates need, as plain strings and lists."""
    usage = Usage(user_names(program))
    taken = module_names(program, usage)
    classes = [ClassWriter(cls, program, usage, taken).write()
               for cls in program.classes.values()]
    check = self_check(program, usage)
    label = spec_label if spec_label is not None else program.source
    sets = [f"{name}={literal(value)}" for name, value in (overrides or {}).items()]
    allow = [a for p in program.allow_import for a in ("--allow-import", p)]
    command = " ".join(shlex.quote(arg) for arg in [label, *(a for s in sets
                                                              for a in ("--set", s)), *allow])
    return ModuleSource(
        spec=comment_safe(label),
        command=comment_safe(command),
        spec_sha256=program.digest,
        body_sha256="0" * 64,
        root=program.root,
        imports=usage.imports(),
        helpers=([make_divisible_source()] if usage.make_divisible else []) + [REPLAY_INIT],
        classes=classes,
        self_check=check,
    )


def spec_label(spec: str | os.PathLike[str], output: str | None = None) -> str:
    """How the header names the spec: its path relative to the output file's directory (or
    to the working directory), with POSIX separators, never absolute."""
    start = os.path.dirname(os.path.abspath(output)) if output not in (None, "-") else "."
    try:
        relative = os.path.relpath(os.path.abspath(spec), os.path.abspath(start))
    except ValueError:  # another drive (Windows): no relative path exists
        relative = os.path.basename(spec)
    return PurePath(relative).as_posix()


def comment_safe(text: str) -> str:
    """Text that cannot end a comment line or hide characters: escaped unless printable."""
    return text if text.isprintable() else ascii(text)[1:-1]


@functools.cache
def make_divisible_source() -> str:
    """The generated file carries the same helper the evaluator uses, so both round alike
    (read from its source when a spec needs it: reading it costs more than most specs)."""
    return inspect.getsource(make_divisible).rstrip()
