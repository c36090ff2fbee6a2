"""The packaged templates, compiled ahead of time to Python modules in `nnspec.codegen.compiled`.

Rendering a template Jinja has to compile costs lexing, parsing, generating and compiling its
Python on every run, and `build --check` runs in pre-commit hooks and CI loops. The loader here
reads each template's source as before and, when a compiled module records that same source's
digest, renders with the module instead; any other source (a `--templates` override, or a
packaged template edited since) is compiled by Jinja as before, so the output never depends on
whether a compiled module exists. `python tools/precompile_templates.py` rewrites the modules
after a template changes; tests/test_codegen_precompiled.py checks they are current.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import MutableMapping
from typing import Any

import jinja2

PACKAGE = "nnspec.codegen.compiled"


def module_name(template: str) -> str:
    """`module.py.jinja` -> `t_module_py_jinja`."""
    return "t_" + re.sub(r"\W", "_", template)


def digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def module_text(environment: jinja2.Environment, name: str, source: str) -> str:
    """The compiled module of template `name`, as Jinja's ModuleLoader modules are made."""
    code = environment.compile(source, name, name, raw=True, defer_init=True)
    return (f'"""Template {name} compiled by Jinja; written by tools/precompile_templates.py, '
            f'do not edit."""\n# ruff: noqa\n\nSOURCE_SHA256 = "{digest(source)}"\n{code}')


class PrecompiledLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that renders with a compiled module where one matches the source."""

    def load(self, environment: jinja2.Environment, name: str,
             globals: MutableMapping[str, Any] | None = None) -> jinja2.Template:
        source, _, _ = self.get_source(environment, name)
        try:
            module = importlib.import_module(f"{PACKAGE}.{module_name(name)}")
        except ImportError:
            module = None
        if module is None or getattr(module, "SOURCE_SHA256", None) != digest(source):
            return super().load(environment, name, globals)
        return environment.template_class.from_module_dict(
            environment, module.__dict__, globals if globals is not None else {})


def compiled_modules(environment: jinja2.Environment) -> dict[str, str]:
    """Module file name -> text, for every template the environment's loader lists."""
    loader = environment.loader
    assert loader is not None
    return {f"{module_name(name)}.py":
            module_text(environment, name, loader.get_source(environment, name)[0])
            for name in environment.list_templates()}
