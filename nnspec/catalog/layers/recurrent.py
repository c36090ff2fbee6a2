"""The recurrent layers RNN, LSTM and GRU and their one-step cells, with their forward rules."""

from __future__ import annotations

from typing import Any

from nnspec.catalog.layers.common import (
    Family,
    Problems,
    State,
    dropout_check,
    expect_rank,
    expect_size,
    non_negative,
    positive,
    state_params,
    tensor_shape,
)
from nnspec.catalog.types import Arg, Args, LayerDef

FAMILY = Family()
register = FAMILY.add

# recurrent layers: gates per cell type
_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _rnn_checks(args: Args) -> Problems:
    yield from positive(args, "input_size", "hidden_size", "num_layers")
    yield from dropout_check(args)
    proj, hidden = args.get("proj_size", 0), args.get("hidden_size")
    yield from non_negative(args, "proj_size")
    if isinstance(proj, int) and isinstance(hidden, int) and proj >= hidden > 0:
        yield "proj_size", f"proj_size={proj} must be smaller than hidden_size={hidden}"


def _rnn_dims(args: Args) -> tuple[int, int, int]:
    """(directions, hidden size, output size per direction: proj_size when projecting)."""
    hidden = args["hidden_size"]
    return 1 + args["bidirectional"], hidden, args.get("proj_size", 0) or hidden


def _rnn_state(cell: str):
    """Per layer, per direction: weight_ih, weight_hh, the two biases, weight_hr (LSTM proj)."""
    def rule(args: Args) -> State:
        dirs, hidden, out = _rnn_dims(args)
        gates = _GATES[cell] * hidden
        state: State = {}
        for layer in range(args["num_layers"]):
            size = args["input_size"] if layer == 0 else out * dirs
            for suffix in ("", "_reverse")[:dirs]:
                name = f"l{layer}{suffix}"
                state[f"weight_ih_{name}"] = ((gates, size), True)
                state[f"weight_hh_{name}"] = ((gates, out), True)
                if args["bias"]:
                    state[f"bias_ih_{name}"] = ((gates,), True)
                    state[f"bias_hh_{name}"] = ((gates,), True)
                if out != hidden:
                    state[f"weight_hr_{name}"] = ((out, hidden), True)
        return state
    return rule


def _rnn_forward(cell: str):
    """`rnn(input, hx=None)`: (output, h_n), or (output, (h_n, c_n)) for an LSTM."""
    def rule(args: Args, input: Any, hx: Any = None) -> tuple[Any, int]:
        x = tensor_shape(input, "input")
        expect_rank(x, 2, 3)
        expect_size(x, -1, args["input_size"], "input_size")
        batched, first = len(x) == 3, args["batch_first"]
        steps, batch = ((x[1], x[0]) if first else (x[0], x[1])) if batched else (x[0], 1)
        dirs, hidden, out = _rnn_dims(args)
        lead = (dirs * args["num_layers"], *((batch,) if batched else ()))
        states = ((*lead, out), (*lead, hidden)) if cell == "LSTM" else ((*lead, out),)
        if hx is not None:
            given = hx if cell == "LSTM" else (hx,)
            if not isinstance(given, tuple) or len(given) != len(states):
                raise ValueError("an LSTM's hx is a tuple (h_0, c_0)")
            for name, value, want in zip(("h_0", "c_0"), given, states):
                if tensor_shape(value, name) != want:
                    raise ValueError(f"{name} should be {list(want)}, got {list(value.shape)}")
        output = ((batch, steps) if first else (steps, batch)) if batched else (steps,)
        # per step and sequence: input and hidden matmuls for every gate, then the projection
        macs = 0
        for layer in range(args["num_layers"]):
            size = args["input_size"] if layer == 0 else out * dirs
            gates = _GATES[cell] * hidden
            per_step = gates * (size + out) + (hidden * out if out != hidden else 0)
            macs += dirs * steps * batch * per_step
        final = states if cell == "LSTM" else states[0]
        return ((*output, dirs * out), final), macs
    return rule


def _rnn(cell: str) -> LayerDef:
    extra = {"RNN": (Arg("nonlinearity", "str", "tanh", choices=("tanh", "relu")),)}
    state = _rnn_state(cell)
    return register(LayerDef(
        cell,
        (
            Arg("input_size", "int"),
            Arg("hidden_size", "int"),
            Arg("num_layers", "int", 1),
            *extra.get(cell, ()),
            Arg("bias", "bool", True),
            Arg("batch_first", "bool", False),
            Arg("dropout", "float", 0.0),
            Arg("bidirectional", "bool", False),
            *((Arg("proj_size", "int", 0),) if cell == "LSTM" else ()),
        ),
        checks=_rnn_checks,
        params=state_params(state),
        forward=_rnn_forward(cell),
        infer={"input_size": -1},
        ranks=(2, 3),
        state=state,
    ))


for _kind in _GATES:
    _rnn(_kind)


# --- the cells: one time step ------------------------------------------------------------------


def _cell_state(cell: str):
    def rule(args: Args) -> State:
        gates, size = _GATES[cell] * args["hidden_size"], args["input_size"]
        state: State = {"weight_ih": ((gates, size), True),
                        "weight_hh": ((gates, args["hidden_size"]), True)}
        if args["bias"]:
            state.update(bias_ih=((gates,), True), bias_hh=((gates,), True))
        return state
    return rule


def _cell_forward(cell: str):
    """`cell(input, hx=None)` on (N, input_size) or (input_size,): h', or (h', c') for an
    LSTMCell, each (N, hidden_size) or (hidden_size,)."""
    def rule(args: Args, input: Any, hx: Any = None) -> tuple[Any, int]:
        x = tensor_shape(input, "input")
        expect_rank(x, 1, 2)
        expect_size(x, -1, args["input_size"], "input_size")
        h = (*x[:-1], args["hidden_size"])
        if hx is not None:
            given = hx if cell == "LSTM" else (hx,)
            count = 2 if cell == "LSTM" else 1
            if not isinstance(given, tuple) or len(given) != count:
                raise ValueError("an LSTMCell's hx is a tuple (h_0, c_0)")
            for name, value in zip(("h_0", "c_0"), given):
                if tensor_shape(value, name) != h:
                    raise ValueError(f"{name} should be {list(h)}, got {list(value.shape)}")
        batch = x[0] if len(x) == 2 else 1
        gates = _GATES[cell] * args["hidden_size"]
        macs = batch * gates * (args["input_size"] + args["hidden_size"])
        return ((h, h) if cell == "LSTM" else h), macs
    return rule


for _kind in _GATES:
    _state = _cell_state(_kind)
    register(LayerDef(
        f"{_kind}Cell",
        (
            Arg("input_size", "int"),
            Arg("hidden_size", "int"),
            Arg("bias", "bool", True),
            *((Arg("nonlinearity", "str", "tanh", choices=("tanh", "relu")),)
              if _kind == "RNN" else ()),
        ),
        checks=lambda a: positive(a, "input_size", "hidden_size"),
        params=state_params(_state),
        forward=_cell_forward(_kind),
        infer={"input_size": -1},
        ranks=(1, 2),
        state=_state,
    ))
