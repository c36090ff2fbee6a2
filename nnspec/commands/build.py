"""`nnspec build SPEC`: print the module tree and a summary line from a real forward pass."""

from __future__ import annotations

import argparse

from nnspec.commands.common import (
    add_check_args,
    add_spec_args,
    existing,
    load_checked,
    overrides,
    report,
)
from nnspec.diagnostics import SpecError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build the model and print its module tree",
                       description="Build the spec's model, print it exactly as print(model) "
                       "does, then a summary line: parameters, and input -> output shapes from "
                       "a forward pass on the declared inputs (batch 1, eval mode).")
    add_spec_args(p)
    add_check_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec, diagnostics = load_checked(args, existing(args.spec), overrides(args))
    if spec is None:
        raise SpecError(diagnostics)
    report(args, diagnostics)
    print(summary_text(spec))
    return 0


def summary_text(spec) -> str:
    """The printed tree, then `Net: N parameters; x [1, 3, 32, 32] float32 -> [1, 10] float32`."""
    from nnspec import runtime

    torch = runtime.torch
    model = runtime.instantiate(spec.program)
    params = sum(p.numel() for p in model.parameters())
    unknown = [c.name for c in spec.program.classes.values() if c.forward_unknown]
    if unknown:  # an imported printed tree: no forward pass to run
        return f"{model}\n{spec.name}: {params:,} parameters; forward unknown in " \
            f"{', '.join(unknown)}"
    inputs = runtime.example_inputs(spec.program, batch=1)
    model.eval()
    try:
        with torch.no_grad():
            output = model(*inputs)
    except Exception as exc:
        error = runtime.forward_error(spec.program, spec.tree, model, exc)
        if error is None:
            raise
        raise error from exc
    shown_in = ", ".join(f"{i.name} {_shape(t)}" for i, t in zip(spec.program.inputs, inputs))
    return f"{model}\n{spec.name}: {params:,} parameters; {shown_in} -> {_shape(output)}"


def _shape(value) -> str:
    from nnspec.runtime import torch

    if isinstance(value, torch.Tensor):
        return f"{list(value.shape)} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_shape(v) for v in value) + ")"
    return type(value).__name__
