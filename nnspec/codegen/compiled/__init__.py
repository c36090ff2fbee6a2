"""Templates compiled to Python by tools/precompile_templates.py (see
nnspec/codegen/precompiled.py)."""
