"""The padding layers beside ZeroPad: constant, reflection, replication and circular padding."""

from __future__ import annotations

from nnspec.catalog.layers.common import Family, expect_rank, no_macs, no_params, with_sizes
from nnspec.catalog.layers.reshape import zeropad_shape
from nnspec.catalog.types import Arg, Args, LayerDef, Shape, as_tuple

FAMILY = Family()
register = FAMILY.add


def _pairs(args: Args, n: int, x: Shape) -> list[tuple[int, int, int]]:
    """(size, before, after) per padded dim, first dim first; `padding` runs from the last."""
    pad = as_tuple(args["padding"], 2 * n)
    return [(x[-1 - i], pad[2 * i], pad[2 * i + 1]) for i in reversed(range(n))]


def _mode_shape(n: int, mode: str):
    """reflect: each side's padding below the size it reflects; circular: at most the size (it
    wraps around once); replicate: any. All take (N, C, *n) or (C, *n) inputs."""
    def rule(args: Args, inputs: list[Shape]) -> Shape:
        x = inputs[0]
        expect_rank(x, n + 1, n + 2)
        pairs = _pairs(args, n, x)
        for size, before, after in pairs:
            if mode == "reflect" and max(before, after) >= size:
                raise ValueError(f"padding {args['padding']!r} must be smaller than the "
                                 f"padded sizes of input {list(x)}")
            if mode == "circular" and max(before, after) > size:
                raise ValueError(f"padding {args['padding']!r} wraps around input {list(x)} "
                                 "more than once")
        return with_sizes(x[:-n], (size + a + b for size, a, b in pairs), x)
    return rule


for _n in (1, 2, 3):
    _ints = f"int{2 * _n}"
    register(LayerDef(f"ConstantPad{_n}d", (Arg("padding", _ints), Arg("value", "float")),
                      shape=zeropad_shape(_n), params=no_params, macs=no_macs,
                      input_dtype="any"))
    for _kind, _mode in (("Reflection", "reflect"), ("Replication", "replicate"),
                         ("Circular", "circular")):
        register(LayerDef(f"{_kind}Pad{_n}d", (Arg("padding", _ints),),
                          shape=_mode_shape(_n, _mode), params=no_params, macs=no_macs))
