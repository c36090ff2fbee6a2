"""The IR: the one contract between the front end and every backend.

A `Program` holds module classes (`ModuleClass`), in dependency order, with the root last. Class
bodies stay symbolic: arguments are checked expressions over the class's own parameters, so
code generation can emit them as Python expressions. `Instance` is the elaborated tree for one
set of root parameters: concrete argument values for every module, which static analysis reads.
Backends see only these types, never YAML or the pydantic spec models.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Union

from nnspec.diagnostics import Pos
from nnspec.language.expr import Expr
from nnspec.language.names import CONTAINER_BASES


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # int, float, bool, str, list[int], ...
    default: Any  # catalog.REQUIRED when the caller must pass it
    pos: Pos


@dataclass
class Call:
    """A catalog layer (`kind="layer"`) or a block (`kind="block"`), arguments bound by name.

    `kind` means one thing throughout the IR: what a module is, `layer`, `block` or `seq`."""

    target: str
    kind: str
    args: dict[str, Expr]
    pos: Pos
    keywords: frozenset[str] = frozenset()  # arguments the spec passed by name
    # arguments the inference pass (elaborate.infer) filled in; None until it has run
    inferred: frozenset[str] | None = None


@dataclass
class Seq:
    """An `nn.Sequential`: numbered children, or named ones (`OrderedDict`)."""

    items: list[Child]
    named: bool
    pos: Pos
    container: str = "Sequential"  # or "ModuleList": numbered, no forward


@dataclass
class Repeat:
    """Items repeated `count` times inside a Sequential, numbered on with their neighbours; the
    items' expressions may read the loop variable `var` (0, 1, ...)."""

    count: Expr
    var: str | None
    items: list[Child]
    pos: Pos


@dataclass
class Child:
    name: str
    value: Union[Call, Seq, Repeat]
    cond: Expr | None
    pos: Pos
    orelse: Child | None = None  # built instead when `cond` is false (`else:`)


@dataclass
class Stmt:
    """A forward statement (`Assign`, `AugAssign` or `Return`), checked against the whitelist."""

    node: ast.stmt
    pos: Pos


@dataclass
class If:
    cond: Expr
    then: list[Step]
    orelse: list[Step]
    pos: Pos


Step = Union[Stmt, If]


def if_steps(steps: list[Step]) -> Iterator[If]:
    """Every `if` among the steps, nested ones included, in order."""
    for step in steps:
        if isinstance(step, If):
            yield step
            yield from if_steps(step.then)
            yield from if_steps(step.orelse)


def step_nodes(steps: list[Step]) -> Iterator[ast.AST]:
    """The statements and conditions of the steps, nested ones included, in order."""
    for step in steps:
        if isinstance(step, If):
            yield step.cond.node
            yield from step_nodes(step.then)
            yield from step_nodes(step.orelse)
        else:
            yield step.node


COMPUTED = "computed"  # RawTensor.init of a buffer computed by steps


@dataclass
class RawTensor:
    """A parameter or buffer a class creates itself, before its children: `nn.Parameter(...)`
    or `register_buffer(...)`; forward reads it by name."""

    name: str
    registered_as: str  # "parameter" or "buffer"
    shape: list[Expr]
    init: str  # an init function (nnspec.catalog.init_functions.FUNCTIONS) or "tril"
    args: dict[str, Any]  # the init function's arguments: literals, or Exprs for numbers
    pos: Pos
    dtype: str | None = None  # None: torch's default dtype
    persistent: bool = True  # a buffer in the state_dict
    # a computed buffer (init COMPUTED, no shape): forward-style steps over the class's
    # parameters, the last a `return` of its value; static analysis finds its shape and dtype
    compute: list[Step] = field(default_factory=list)
    # created after the class's children rather than before (Swin's bias table, drawn after
    # its Linears), so a seeded build draws in torch code's order
    after_children: bool = False

    @property
    def is_param(self) -> bool:
        return self.registered_as == "parameter"

    def reads(self) -> set[str]:
        """Every name the compute steps read (parameters, their own locals, `torch`)."""
        return {n.id for node in step_nodes(self.compute) for n in ast.walk(node)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@dataclass(frozen=True)
class Tie:
    """`self.<target> = self.<source>` after the children are built: one shared parameter
    under two names (dotted paths below the class, the last part a parameter's name)."""

    target: str
    source: str
    pos: Pos  # the target, as written
    source_pos: Pos
    cond: Expr | None = None  # tied only where this holds (`if:`)


@dataclass
class ModuleClass:
    name: str
    base: str  # "Module", "Sequential", "ModuleList", or the torch layer it subclasses
    params: list[Param]
    inputs: list[str]
    children: list[Child]
    forward: list[Step]  # for a Sequential base: empty, torch's own forward runs
    pos: Pos
    doc: str | None = None
    # parameters the forward reads; generated code keeps them as attributes
    forward_params: list[str] = field(default_factory=list)
    # `forward: unknown` (an imported printed tree): the generated forward raises
    forward_unknown: bool = False
    # `init` rules (InitRule, below), run at the end of this class's __init__
    init: list = field(default_factory=list)
    tensors: list[RawTensor] = field(default_factory=list)  # parameters, then buffers
    ties: list[Tie] = field(default_factory=list)
    # `extra_repr`: what print() shows inside the class's parentheses, `{name}` fields naming
    # parameters (kept as attributes, like the forward's)
    extra_repr: str | None = None
    # `print_name`: the class name print() shows, when not `name`
    print_name: str | None = None

    @property
    def layer(self) -> str | None:
        """The torch layer the class subclasses (`base: LayerNorm`): its parameters are the
        layer's arguments, its tensors the layer's, its forward its own; or None."""
        return None if self.base in CONTAINER_BASES else self.base


@dataclass(frozen=True)
class Input:
    name: str
    shape: tuple[int, ...]
    dtype: str
    range: tuple[int, int] | None = None


@dataclass
class Program:
    root: str
    classes: dict[str, ModuleClass]  # dependency order, root last
    inputs: list[Input]
    source: str  # the spec's path, as the user gave it
    digest: str  # sha256 of the fully resolved spec
    resolved: Any  # the resolved spec data, to rebuild runtime classes after unpickling
    # user layers ('module:Class') -> position of their `layers:` entry, for import errors
    user_layers: dict[str, Pos] = field(default_factory=dict)
    # packages a rebuild may import (see nnspec.elaborate.user_layers)
    allow_import: tuple[str, ...] = ()


@dataclass
class Instance:
    """One module in the elaborated tree, with concrete argument values."""

    path: str  # dotted, as in state_dict keys: "tnn_bin.2.conv"
    type: str  # torch layer name, block name, or "Sequential"
    kind: str  # "layer", "block" or "seq"
    args: dict[str, Any]
    children: list[Instance]
    pos: Pos
    call: Call | None = None  # the class-level call it came from (None for the root and seqs)
    tensors: dict[str, tuple[int, ...]] = field(default_factory=dict)  # a block's own, by name


@dataclass
class InitRule:
    """Modules of one of `types` (torch layers as `nn.X`, blocks by name); `child` reaches into
    a child of each; with no `types`, `child` is the dotted path of one module below the class.
    `tensors` are (attribute, init function, keyword arguments: literals or Exprs)."""

    types: list[tuple[str, str]]  # (name, "layer" | "block"), or ('module:Class', "user")
    child: str | None
    tensors: list[tuple[str, str, dict[str, Any]]]
    cond: Expr | None
    pos: Pos
    child_pos: Pos | None = None
    # rules from one list in the spec share one pass, as `if/elif` (nanoGPT's _init_weights):
    # the first that matches a module applies; None: a pass of its own
    group: int | None = None


def names_in(children: list[Child]) -> set[str]:
    """Every name the children's arguments and conditions read."""
    names: set[str] = set()
    for child in children:
        if child.cond is not None:
            names |= child.cond.names()
        if child.orelse is not None:
            names |= names_in([child.orelse])
        if isinstance(child.value, Repeat):
            names |= child.value.count.names() | names_in(child.value.items)
        elif isinstance(child.value, Seq):
            names |= names_in(child.value.items)
        else:
            for arg in child.value.args.values():
                names |= arg.names()
    return names
