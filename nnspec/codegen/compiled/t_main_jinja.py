"""Template main.jinja compiled by Jinja; written by tools/precompile_templates.py, do not edit."""
# ruff: noqa

SOURCE_SHA256 = "285f558d5266a82040a14f9d44ca95bd79eccbe74dae78940185a11ab2d7a42f"
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'main.jinja'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_m = resolve('m')
    pass
    yield 'if __name__ == "__main__":\n    # Self-check: build the model and run the spec\'s declared inputs through it.\n'
    for l_1_line in environment.getattr((undefined(name='m') if l_0_m is missing else l_0_m), 'self_check'):
        _loop_vars = {}
        pass
        yield str(l_1_line)
        yield '\n'
    l_1_line = missing

blocks = {}
debug_info = '3=13&4=16'