"""nnspec's view of nnspec_demo's layers. No torch here: nnspec imports this to validate."""

from nnspec import Arg, declare_layer
from nnspec_demo import record

record(__name__)


def _hidden(a: dict) -> int:
    return max(1, a["channels"] // a["reduction"])


def _se_shape(a: dict, inputs: list) -> tuple:
    if inputs[0][1] != a["channels"]:
        raise ValueError(f"expected {a['channels']} channels, got {inputs[0][1]}")
    return inputs[0]


def _se_checks(a: dict):
    if a["reduction"] <= 0:
        yield "reduction", f"reduction must be positive, got {a['reduction']}"


declare_layer(
    "nnspec_demo.blocks:SqueezeExcite",
    [Arg("channels", "int"), Arg("reduction", "int", 4)],
    shape=_se_shape,
    params=lambda a: 2 * a["channels"] * _hidden(a) + _hidden(a) + a["channels"],
    macs=lambda a, inputs, out: inputs[0][0] * 2 * a["channels"] * _hidden(a),
    state=lambda a: {
        "fc1.weight": ((_hidden(a), a["channels"], 1, 1), True),
        "fc1.bias": ((_hidden(a),), True),
        "fc2.weight": ((a["channels"], _hidden(a), 1, 1), True),
        "fc2.bias": ((a["channels"],), True),
    },
    checks=_se_checks,
    ranks=(4,),
)

# no rules: static shapes stop at it, and parameter totals that include it are unknown
declare_layer("nnspec_demo.blocks:Scale", [Arg("init", "float", 1.0)])

# declared, but blocks.py has no such class: a runtime build reports it
declare_layer("nnspec_demo.blocks:Ghost", [])
