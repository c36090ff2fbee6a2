"""The packaged templates' compiled modules are current, used for the packaged sources only, and
render exactly what Jinja renders from the sources."""

from __future__ import annotations

from pathlib import Path

import jinja2

from nnspec.codegen import precompiled
from nnspec.codegen.generate import TEMPLATE_NAME, environment, template_dirs

COMPILED = Path(precompiled.__file__).parent / "compiled"


def test_compiled_modules_match_the_templates():
    modules = precompiled.compiled_modules(environment())
    on_disk = {p.name: p.read_text() for p in COMPILED.glob("t_*.py")}
    assert on_disk == modules, "run: python tools/precompile_templates.py"


def test_packaged_templates_load_from_their_compiled_modules():
    template = environment().get_template(TEMPLATE_NAME)
    assert template.filename is not None
    assert Path(template.filename).parent == COMPILED


def test_a_changed_source_is_compiled_from_the_source(tmp_path):
    (tmp_path / "header.jinja").write_text("# changed header {{ m }}\n")
    template = environment(tmp_path).get_template("header.jinja")
    assert template.filename == str(tmp_path / "header.jinja")
    assert template.render(m=1) == "# changed header 1\n"


def test_compiled_and_source_templates_render_alike():
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(template_dirs()),
                               undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True, autoescape=False)
    fast = environment()

    class Source:
        spec, command, spec_sha256, body_sha256, root = "a.yaml", "a.yaml", "0", "1", "Net"
        imports, helpers, classes, self_check = ["import torch"], [], [], ["pass"]

    assert fast.get_template(TEMPLATE_NAME).render(m=Source) == \
        plain.get_template(TEMPLATE_NAME).render(m=Source)
