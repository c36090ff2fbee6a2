"""The spec language as pydantic models: its definition (the JSON Schema is made from them)
and the judge of every spec the fast check of `nnspec.frontend.spec` does not pass.

The models forbid unknown keys and coerce nothing (strict mode), so `"32"` is not a channel
count. Pydantic reports every error at once; each error's `loc` is mapped back to a line and
column through the Document's position table.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError
from typing_extensions import TypeAliasType

from nnspec.diagnostics import Collector, did_you_mean
from nnspec.frontend.document import Document
from nnspec.frontend.spec import CLASSES, TAGS, DType, SpecData
from nnspec.language.types import TYPE_NAMES, VALUE_KINDS


class _Model(BaseModel):
    # defer_build: each model's validator is built once, on first use, with its forward
    # references ("Child", "Step") resolved then; not at import, where most still dangle
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True,
                              defer_build=True)


def _by_python_type(value: Any) -> str | None:
    return TAGS.get(type(value))


def by_type(message: str, **branches: Any) -> Any:
    """A union picked by the YAML value's own type, so errors name one branch, not all."""
    members = tuple(Annotated[t, Tag(tag)] for tag, t in branches.items())
    return Annotated[Union[members], Discriminator(  # type: ignore[valid-type]
        _by_python_type, custom_error_type="wrong-type", custom_error_message=message)]


InputSize = by_type("an input size is an int or an expression over the model's parameters",
                    scalar=int, str=str)


class InputSpec(_Model):
    """One model input: its shape without the batch dimension, dtype, and value range."""

    shape: list[InputSize] = Field(description="sizes: ints, or expressions over the model's "
                                   "parameters such as 'image_size'")
    dtype: DType = "float32"
    range: list[InputSize] | None = Field(None, min_length=2, max_length=2,
                                          description="[low, high) of integer inputs: ints, "
                                          "or expressions such as 'vocab_size'")
    doc: str | None = None


InputDecl = Annotated[
    Union[Annotated[list[InputSize], Tag("list")], Annotated[InputSpec, Tag("map")]],
    Discriminator(_by_python_type, custom_error_type="wrong-type",
                  custom_error_message="an input is a shape list like [3, 32, 32] or a "
                  "mapping with 'shape' and 'dtype'"),
]


class ParamSpec(_Model):
    """A parameter in long form: `{type: int, default: 3}`; without a default it is required."""

    type: Literal[tuple(sorted(TYPE_NAMES))]  # type: ignore[valid-type]
    default: Any = None
    doc: str | None = None


ParamDecl = by_type("a parameter is a default value, a type name such as 'int', or a mapping "
                    "with 'type' and 'default'", map=ParamSpec, scalar=Union[bool, int, float],
                    str=str, list=list[Any])


class ChildSpec(_Model):
    """A child in long form: a call or a Sequential, optionally conditional; inside a list,
    `repeat` makes it (or the list of items in `do`) a loop."""

    call: str | None = None
    seq: by_type("'seq' is a list or a mapping of children",  # type: ignore[valid-type]
                 list=list["Child"], map=dict[str, "Child"]) | None = None
    modules: list["Child"] | None = None
    if_: str | None = Field(None, alias="if")
    else_: "Child | None" = Field(None, alias="else")
    repeat: by_type("'repeat' is a count: an int or an expression",  # type: ignore[valid-type]
                    scalar=int, str=str) | None = None
    as_: str | None = Field(None, alias="as")
    do: list["Child"] | None = None
    doc: str | None = None


Child = TypeAliasType("Child", Annotated[
    Union[Annotated[str, Tag("str")], Annotated[list["Child"], Tag("list")],
          Annotated[ChildSpec, Tag("map")]],
    Discriminator(_by_python_type, custom_error_type="wrong-type",
                  custom_error_message="a child is a layer call like 'Conv2d(3, 8, 3)', a list "
                  "(an nn.Sequential), or a mapping with 'call' or 'seq'"),
])


class IfStep(_Model):
    """A conditional forward step: `{if: cond, then: [...], else: [...]}`."""

    if_: str = Field(alias="if")
    then: by_type("'then' is a step or a list of steps",  # type: ignore[valid-type]
                  list=list["Step"], str=str)
    else_: by_type("'else' is a step or a list of steps",  # type: ignore[valid-type]
                   list=list["Step"], str=str) | None = Field(None, alias="else")


Step = TypeAliasType("Step", Annotated[
    Union[Annotated[str, Tag("str")], Annotated[IfStep, Tag("map")]],
    Discriminator(_by_python_type, custom_error_type="wrong-type",
                  custom_error_message="a forward step is a statement like 'x = conv(x)' or a "
                  "mapping with 'if' and 'then'"),
])


InitFn = by_type("an init is a function name like 'zeros', or a mapping like "
                 "{normal: {std: 0.01}}", str=str, map=dict[str, Any])


class InitRule(_Model):
    """One weight-init pass over self.modules(): modules of `type` (or their `child`); without
    `type`, the one module at the dotted `child` path."""

    if_: str | None = Field(None, alias="if")
    type: by_type("'type' is a layer or block name, or a list of them",  # type: ignore
                  str=str, list=list[str]) | None = None
    child: str | None = None
    weight: InitFn | None = None  # type: ignore[valid-type]
    bias: InitFn | None = None  # type: ignore[valid-type]
    doc: str | None = None


Dim = by_type("a dimension is an int or an expression over the parameters", scalar=int, str=str)


class ParameterSpec(_Model):
    """A parameter the class creates itself: `nn.Parameter(torch.zeros(*shape))`."""

    shape: list[Dim]  # type: ignore[valid-type]
    init: InitFn  # type: ignore[valid-type]
    dtype: DType | None = None
    after_children: bool = False  # created after the children, where torch code creates it
    doc: str | None = None


class BufferSpec(_Model):
    """A buffer: `self.register_buffer(name, tensor, persistent=...)`. Either `shape` and
    `init`, or `compute`: forward-style steps over the class's parameters, ending in a
    `return` of the buffer's value (rotary `inv_freq`, Swin's `relative_position_index`)."""

    shape: list[Dim] | None = None  # type: ignore[valid-type]
    init: InitFn | None = None  # type: ignore[valid-type]
    compute: list[Step] | None = None
    dtype: DType | None = None
    persistent: bool = True
    after_children: bool = False
    doc: str | None = None


class TieSpec(_Model):
    """A conditional tie: `{source: tok_emb.weight, if: tie_word_embeddings}`."""

    source: str
    if_: str = Field(alias="if")


class BlockSpec(_Model):
    """A reusable module class."""

    base: str = "Module"  # or Sequential, ModuleList, a torch layer to subclass
    doc: str | None = None
    extra_repr: str | None = None  # printed inside the class's parentheses: "p={p}, mode={mode}"
    print_name: str | None = None  # the class name print() shows, when not the block's name
    params: dict[str, ParamDecl] = {}
    inputs: list[str] = ["x"]
    children: by_type("children are a mapping of names to children, or a list "  # type: ignore
                      "(numbered like nn.Sequential)", map=dict[str, Child],
                      list=list[Child]) = {}
    forward: by_type("forward is a list of steps, or 'unknown'",  # type: ignore[valid-type]
                     list=list[Step], str=Literal["unknown"]) | None = None
    parameters: dict[str, ParameterSpec] = {}
    buffers: dict[str, BufferSpec] = {}
    tie: dict[str, by_type("a tie's source is a path, or {source, if}",  # type: ignore
                           str=str, map=TieSpec)] = {}
    init: list[by_type("an init entry is a rule (a mapping), or a list of rules made one "  # type: ignore[valid-type]
                       "pass", map=InitRule, list=list[InitRule])] = []


class ModelSpec(BlockSpec):
    """The root model class."""

    name: str = "Net"
    inputs: list[str] | None = None  # type: ignore[assignment]  # taken from the top level


class LayerArgSpec(_Model):
    """A referenced layer's constructor argument in long form: `{type: str, default: row}`;
    without a default it is required."""

    type: Literal[VALUE_KINDS]  # type: ignore[valid-type]
    default: Any = None
    optional: bool = False  # has a default no spec can write (a class): calls may omit it
    doc: str | None = None


LayerArg = by_type("a layer argument is a kind such as 'float', a default value, or a mapping "
                   "with 'type' and 'default'", map=LayerArgSpec, scalar=Union[bool, int, float],
                   str=str)


class LayerRef(_Model):
    """A layer class by reference, with its constructor's signature written in the spec so
    that the static verbs need not import it: `{class: "pkg.mod:Class", args: {p: float}}`."""

    class_: str = Field(alias="class")
    args: dict[str, LayerArg] | None = None  # type: ignore[valid-type]
    doc: str | None = None


LayerEntry = by_type("a layer is an import path 'package.module:Class', or a mapping with "
                     "'class' and 'args'", str=str, map=LayerRef)


class SpecFile(_Model):
    nnspec: int
    doc: str | None = None
    inputs: dict[str, InputDecl] = Field(min_length=1)
    model: ModelSpec
    blocks: dict[str, BlockSpec] = {}
    # user and library layers: call name -> 'package.module:Class' or a LayerRef
    layers: dict[str, LayerEntry] = {}  # type: ignore[valid-type]


def check(doc: Document, errors: Collector) -> SpecData:
    """The spec's data classes for a resolved document (its top level a mapping of a known
    format version), or SpecError with every problem positioned."""
    try:
        return as_data(SpecFile.model_validate(doc.data))
    except ValidationError as exc:
        for err in exc.errors():
            _report(err, doc, errors)
    errors.check()
    raise AssertionError("unreachable")


def as_data(value: Any) -> Any:
    """Validated models as the data classes of `nnspec.frontend.spec`, field by field."""
    if isinstance(value, BaseModel):
        return CLASSES[type(value).__name__](**{
            name: as_data(getattr(value, name)) for name in value.model_fields_set})
    if isinstance(value, list):
        return [as_data(v) for v in value]
    if isinstance(value, dict):
        return {k: as_data(v) for k, v in value.items()}
    return value


def _report(err: dict, doc: Document, errors: Collector) -> None:
    path = _data_path(doc.data, err["loc"])
    error_type = err["type"]
    if error_type == "extra_forbidden":
        key = str(path[-1])
        known = _keys_at(path[:-1])
        errors.error("unknown-key", f"unknown key '{key}'", doc.where(path, key=True),
                     did_you_mean(key, known) or (f"keys here: {', '.join(known)}"
                                                  if known else None))
    elif error_type == "missing":
        missing = str(err["loc"][-1])
        errors.error("missing-key", f"missing required key '{missing}'", doc.where(path))
    else:
        where = ".".join(map(str, path)) or "spec"
        value = err.get("input")
        shown = f" (got {value!r})" if isinstance(value, (str, int, float, bool)) else ""
        errors.error("wrong-type", f"{where}: {err['msg']}{shown}", doc.where(path))


# What section of a spec each part is, from its parent's section and its key: a small state
# machine over a data path, so that an unknown key is compared with the keys valid in its own
# mapping.
_SECTIONS = {
    "spec": {"inputs": "inputs", "blocks": "blocks", "model": "model", "layers": "layers"},
    "layers": "layer", "layer": {"args": "layer_args"}, "layer_args": "layer_arg",
    "inputs": "input", "blocks": "block",
    "block": {"params": "params", "children": "children", "forward": "steps", "init": "inits",
              "parameters": "parameters", "buffers": "buffers", "tie": "ties"},
    "inits": "init", "parameters": "parameter", "buffers": "buffer", "ties": "tie",
    "params": "param", "children": "child", "steps": "step",
    "child": {"seq": "children", "do": "children", "else": "child"},
    "step": {"then": "steps", "else": "steps"},
    "buffer": {"compute": "steps"},
}
_SECTION_MODELS = {"spec": SpecFile, "input": InputSpec, "block": BlockSpec, "model": ModelSpec,
                "param": ParamSpec, "child": ChildSpec, "step": IfStep, "init": InitRule,
                "parameter": ParameterSpec, "buffer": BufferSpec, "tie": TieSpec, "layer": LayerRef,
                "layer_arg": LayerArgSpec}


def _keys_at(path: tuple) -> list[str]:
    """The keys allowed in the mapping at `path` (empty when unsure)."""
    section: str | None = "spec"
    for part in path:
        if section == "model":
            section = "block"
        if section == "child" and isinstance(part, int):
            continue  # a list child: its items are children too
        rule = _SECTIONS.get(section or "")
        section = rule.get(part) if isinstance(rule, dict) else rule
    model = _SECTION_MODELS.get(section or "")
    if model is None:
        return []
    keys = [f.alias or name for name, f in model.model_fields.items()]
    return keys + (["extends"] if section == "spec" else [])


def _data_path(data: Any, loc: tuple) -> tuple:
    """Keep the parts of a pydantic `loc` that name real keys or indexes (drop union tags)."""
    path: list = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
            path.append(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
            path.append(part)
        elif part == loc[-1] and isinstance(data, dict):
            path.append(part)  # a missing or unknown key: point at its mapping
    return tuple(path)
