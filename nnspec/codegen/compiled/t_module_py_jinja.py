"""Template module.py.jinja compiled by Jinja; written by tools/precompile_templates.py, do not edit."""
# ruff: noqa

SOURCE_SHA256 = "521321abfec730bdf536c1cf371893767c9e7623c3bbc2ca54aef3d8f9fc9f70"
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'module.py.jinja'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_m = resolve('m')
    pass
    template = environment.get_template('header.jinja', 'module.py.jinja')
    gen = template.root_render_func(template.new_context(context.get_all(), True, {}))
    try:
        for event in gen:
            yield event
    finally: gen.close()
    template = environment.get_template('markers.jinja', 'module.py.jinja')
    gen = template.root_render_func(template.new_context(context.get_all(), True, {}))
    try:
        for event in gen:
            yield event
    finally: gen.close()
    yield '\n'
    for l_1_line in environment.getattr((undefined(name='m') if l_0_m is missing else l_0_m), 'imports'):
        _loop_vars = {}
        pass
        yield str(l_1_line)
        yield '\n'
    l_1_line = missing
    for l_1_helper in environment.getattr((undefined(name='m') if l_0_m is missing else l_0_m), 'helpers'):
        _loop_vars = {}
        pass
        yield '\n\n'
        yield str(l_1_helper)
        yield '\n'
    l_1_helper = missing
    for l_1_cls in environment.getattr((undefined(name='m') if l_0_m is missing else l_0_m), 'classes'):
        _loop_vars = {}
        pass
        yield '\n\n'
        template = environment.get_template('class.jinja', 'module.py.jinja')
        gen = template.root_render_func(template.new_context(context.get_all(), True, {'cls': l_1_cls}))
        try:
            for event in gen:
                yield event
        finally: gen.close()
    l_1_cls = missing
    yield '\n\n'
    template = environment.get_template('main.jinja', 'module.py.jinja')
    gen = template.root_render_func(template.new_context(context.get_all(), True, {}))
    try:
        for event in gen:
            yield event
    finally: gen.close()

blocks = {}
debug_info = '1=12&2=18&4=25&5=28&7=31&10=35&12=38&15=42&19=50'