"""Template markers.jinja compiled by Jinja; written by tools/precompile_templates.py, do not edit."""
# ruff: noqa

SOURCE_SHA256 = "cc698002e9642566cf23f87bb7256426a1797f7e0c2a76d8a0596304c7e802bb"
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'markers.jinja'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_m = resolve('m')
    pass
    yield '# nnspec-spec-sha256: '
    yield str(environment.getattr((undefined(name='m') if l_0_m is missing else l_0_m), 'spec_sha256'))
    yield '\n# nnspec-body-sha256: '
    yield str(environment.getattr((undefined(name='m') if l_0_m is missing else l_0_m), 'body_sha256'))
    yield '\n'

blocks = {}
debug_info = '1=13&2=15'