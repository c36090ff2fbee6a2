"""Template class.jinja compiled by Jinja; written by tools/precompile_templates.py, do not edit."""
# ruff: noqa

SOURCE_SHA256 = "4c1a38f61086fa395aeef1d16fff7e7c65e71be979bf6c09cd0e72d97b8b85c4"
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'class.jinja'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_cls = resolve('cls')
    pass
    for l_1_line in environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'header'):
        _loop_vars = {}
        pass
        yield str(l_1_line)
        yield '\n'
    l_1_line = missing
    if environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'doc'):
        pass
        for l_1_line in environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'doc'):
            _loop_vars = {}
            pass
            yield str(l_1_line)
            yield '\n'
        l_1_line = missing
        yield '\n'
    for l_1_line in environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'init'):
        _loop_vars = {}
        pass
        yield str(l_1_line)
        yield '\n'
    l_1_line = missing
    if environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'init_weights'):
        pass
        yield '\n'
        for l_1_line in environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'init_weights'):
            _loop_vars = {}
            pass
            yield str(l_1_line)
            yield '\n'
        l_1_line = missing
    if environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'forward'):
        pass
        if environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'init'):
            pass
            yield '\n'
        for l_1_line in environment.getattr((undefined(name='cls') if l_0_cls is missing else l_0_cls), 'forward'):
            _loop_vars = {}
            pass
            yield str(l_1_line)
            yield '\n'
        l_1_line = missing

blocks = {}
debug_info = '1=12&2=15&4=18&5=20&6=23&10=27&11=30&13=33&15=36&16=39&19=42&20=44&23=47&24=50'