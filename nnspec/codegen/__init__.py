"""Code generation backend: the IR as standalone PyTorch source, through Jinja templates."""
