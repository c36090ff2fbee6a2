"""Which spec names can become Python identifiers in generated code, and which cannot.

A name must be plain ASCII (Python NFKC-normalises other identifiers, so two different spec names
could become one), not a keyword, not a dunder, and must not shadow an attribute of `nn.Module`
or `nn.Sequential` (a child called `forward` would break the model) or a name the generated
module itself uses.
"""

from __future__ import annotations

import keyword
import re

# a field of a named repeat's child name template: the `{i}` of `encoder_layer_{i}`
TEMPLATE_FIELD = re.compile(r"\{(\w+)\}")

# the bases a block may have besides a torch layer (`base: LayerNorm`)
CONTAINER_BASES = ("Module", "Sequential", "ModuleList")

# the one module attribute a forward step may read: `self.training`, a bool that is False in
# the static pass (which models eval mode)
TRAINING = "training"

# a user layer's import path, `package.module:Class` (the spec's `layers:` values)
IMPORT_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"

# dir(nn.Module) | dir(nn.Sequential) | vars(nn.Module()), dunders left out; recorded from
# torch 2.13 so that this check never has to import torch.
MODULE_ATTRIBUTES = frozenset({
    'T_destination', '_apply', '_backward_hooks', '_backward_pre_hooks', '_buffers',
    '_call_impl', '_compiled_call_impl', '_forward_hooks', '_forward_hooks_always_called',
    '_forward_hooks_with_kwargs', '_forward_pre_hooks', '_forward_pre_hooks_with_kwargs',
    '_get_backward_hooks', '_get_backward_pre_hooks', '_get_item_by_idx', '_get_name',
    '_is_full_backward_hook', '_load_from_state_dict', '_load_state_dict_post_hooks',
    '_load_state_dict_pre_hooks', '_maybe_warn_non_full_backward_hook', '_modules',
    '_named_members', '_non_persistent_buffers_set', '_parameters',
    '_register_load_state_dict_pre_hook', '_register_state_dict_hook',
    '_replicate_for_data_parallel', '_save_to_state_dict', '_slow_forward', '_state_dict_hooks',
    '_state_dict_pre_hooks', '_version', '_wrapped_call_impl', 'add_module', 'append', 'apply',
    'bfloat16', 'buffers', 'call_super_init', 'children', 'compile', 'cpu', 'cuda', 'double',
    'dump_patches', 'eval', 'extend', 'extra_repr', 'float', 'forward', 'get_buffer',
    'get_extra_state', 'get_parameter', 'get_submodule', 'half', 'insert', 'ipu',
    'load_state_dict', 'modules', 'mtia', 'named_buffers', 'named_children', 'named_modules',
    'named_parameters', 'parameters', 'pop', 'register_backward_hook', 'register_buffer',
    'register_forward_hook', 'register_forward_pre_hook', 'register_full_backward_hook',
    'register_full_backward_pre_hook', 'register_load_state_dict_post_hook',
    'register_load_state_dict_pre_hook', 'register_module', 'register_parameter',
    'register_state_dict_post_hook', 'register_state_dict_pre_hook', 'requires_grad_',
    'set_extra_state', 'set_submodule', 'share_memory', 'state_dict', 'to', 'to_empty', 'train',
    'training', 'type', 'xpu', 'zero_grad'
}) | {"init_weights"}  # and the method every generated class adds

# The one set of reserved names: every name the generated module can reference that a spec name
# could shadow. The module's imports (`torch`, `nn`, `F`, `math`, `OrderedDict`) and helper
# (`make_divisible`); the builtins its code calls (`super`, `range` for repeats, `isinstance`
# for init rules, `NotImplementedError` for a forward left unknown, `print` and `tuple` in the
# self-check, `object` and `list` in signatures); and the functions an expression may call
# (`nnspec.language.expr.FUNCTIONS`). `self` is every method's receiver. A parameter, block,
# child, input or loop variable of such a name would shadow them, so validation refuses it and
# generation never has to rename it. `tests/test_hostile_build.py` derives the builtins and
# module names the generated code of every shipped spec reads and checks they are all here.
GENERATED_MODULES = frozenset({"torch", "nn", "F", "math", "OrderedDict", "make_divisible",
                               "replay_init"})
GENERATED_BUILTINS = frozenset({
    "super", "range", "isinstance", "NotImplementedError", "print", "tuple", "object", "list",
    "hasattr",
    "abs", "bool", "float", "int", "len", "max", "min", "round", "str",
    "sum",
})
RESERVED = frozenset({"self"}) | GENERATED_MODULES | GENERATED_BUILTINS


def identifier_problem(name: str) -> str | None:
    """Why `name` cannot be used as a Python identifier in generated code, or None."""
    if not isinstance(name, str) or not name:
        return "a name must be a non-empty string"
    if not name.isascii():
        return f"'{name}' is not ASCII; names must be plain ASCII identifiers"
    if not name.isidentifier():
        return f"'{name}' is not a valid Python identifier"
    if keyword.iskeyword(name):
        return f"'{name}' is a Python keyword"
    if name.startswith("__") and name.endswith("__"):
        return f"'{name}' is a dunder name, reserved by Python"
    if name in MODULE_ATTRIBUTES:
        return f"'{name}' would shadow the nn.Module attribute of the same name"
    if name in RESERVED:
        return f"'{name}' is reserved in generated code"
    return None


# a child name with `-` (torchvision's RegNet: `block1-0`), which torch's add_module accepts;
# generated code reaches such a child with add_module and get_submodule, never as an attribute
DASHED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+")


def child_name_problem(name: str) -> str | None:
    """Why `name` cannot name a child, or None. Child names are identifiers as other names
    are, and also `self` (`self.self = ...` is valid Python; HF's `BertAttention.self`) and
    names with `-` between identifier characters (`block1-0`)."""
    if name == "self" or (isinstance(name, str) and DASHED.fullmatch(name)):
        return None
    return identifier_problem(name)


class Namespace:
    """Collision-free names, as torch.fx's `_Namespace` makes them: the one helper for every
    name nnspec invents (generated locals, aliased imports, importers' values and parameters).

    `fresh(name, alt)` gives the first of `name`, `alt` that is free, else `alt` (or `name`)
    with the smallest number from 2 appended after `separator`. A name is free when it is not
    taken and not in `refused`; with `identifiers`, it must also pass `identifier_problem`.
    Every name given out is taken from then on.
    """

    def __init__(self, taken=(), *, separator: str = "", refused=frozenset(),
                 identifiers: bool = False) -> None:
        self.taken: set[str] = set(taken)
        self.separator, self.refused, self.identifiers = separator, refused, identifiers

    def free(self, name: str) -> bool:
        return name not in self.taken and name not in self.refused and not (
            self.identifiers and identifier_problem(name))

    def take(self, name: str) -> str:
        self.taken.add(name)
        return name

    def fresh(self, name: str, alt: str | None = None) -> str:
        for candidate in (name, alt):
            if candidate is not None and self.free(candidate):
                return self.take(candidate)
        base, n = alt or name, 2
        if self.identifiers and identifier_problem(f"{base}{self.separator}{n}"):
            base = re.sub(r"\W+", "_", base).strip("_") or "value"  # `**kwargs`: `kwargs`
            if identifier_problem(f"{base}{self.separator}{n}"):
                base = "value"  # (numbering alone never makes it an identifier)
            if self.free(base):
                return self.take(base)
        while not self.free(f"{base}{self.separator}{n}"):
            n += 1
        return self.take(f"{base}{self.separator}{n}")
