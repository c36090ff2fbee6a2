"""Weight initialisation as a spec states it: a class's `init`, ordered rules over its modules.

Each rule is one pass over the class's `self.modules()`, in order, as torchvision writes its
init loops; a list of rules is one pass in which the first matching rule applies (`if/elif`, as
nanoGPT's `_init_weights`). A rule picks modules by class (a torch layer or a block) and sets
`weight` and `bias` with a whitelisted `torch.nn.init` function. A rule without `type` sets the
tensors of one child by its dotted path (`heads.head`), as torchvision's constructors do after
building. Checked here without torch; the generated code runs the same statements at the end of
the class's `__init__`. The same functions initialise the parameters and buffers a class
creates itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nnspec.catalog import LAYERS, check_accepts
from nnspec.catalog.init_functions import FUNCTIONS, TENSORS, TRIL
from nnspec.diagnostics import Collector, did_you_mean
from nnspec.frontend.document import Document, PathKey
from nnspec.ir.program import InitRule
from nnspec.language.expr import Expr
from nnspec.language.names import child_name_problem

ExprParser = Callable[[str, PathKey], "Expr | None"]


def check_rules(raw: list, path: PathKey, doc: Document, errors: Collector, owner: str,
                blocks: dict[str, set[str]], expr: ExprParser,
                user_layers: dict[str, str] | None = None) -> list[InitRule]:
    """The `init` rules of class `owner` at `path`; `blocks` maps each class to its child
    names, `expr` parses an expression over the class's parameters, `user_layers` the spec's
    user layer names to their 'module:Class' paths."""
    user_layers = user_layers or {}
    rules = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, list):
            found = _check_rule(entry, (*path, "init", i), doc, errors, owner, blocks, expr,
                                user_layers)
            rules += [found] if found else []
            continue
        for j, rule in enumerate(entry):
            at: PathKey = (*path, "init", i, j)
            if rule.type is None or rule.if_ is not None:
                errors.error("bad-init", "a rule in a one-pass list picks modules by 'type' "
                             "and has no 'if'", doc.where(at),
                             "give the list its own rule for a single child, or put 'if' on "
                             "a rule of its own")
                continue
            found = _check_rule(rule, at, doc, errors, owner, blocks, expr, user_layers)
            if found:
                found.group = i
                rules.append(found)
    return rules


def _check_rule(rule: Any, at: PathKey, doc: Document, errors: Collector, owner: str,
                blocks: dict[str, set[str]], expr: ExprParser,
                user_layers: dict[str, str]) -> InitRule | None:
    """One rule at `at`, checked; None when it has errors."""
    before = len(errors.errors)
    names = [] if rule.type is None else [rule.type] if isinstance(rule.type, str) \
        else list(rule.type)
    types = []
    for j, name in enumerate(names):
        where = doc.where(at + ("type",) + (() if isinstance(rule.type, str) else (j,)))
        if name in blocks:
            types.append((name, "block"))
        elif name in LAYERS:
            types.append((name, "layer"))
        elif name in user_layers:
            types.append((user_layers[name], "user"))
        else:
            errors.error("unknown-layer", f"unknown layer or block '{name}'", where,
                         did_you_mean(name, sorted(set(LAYERS) | set(blocks)
                                                   | set(user_layers))))
    if rule.type is None:
        if rule.child is None:
            errors.error("bad-init", "an init rule needs 'type' (a pass over the modules) "
                         "or 'child' (one module, by its path)", doc.where(at))
        elif child_path_problem(rule.child):
            errors.error("bad-init", f"'child' is a dotted path of children like "
                         f"'heads.head': {child_path_problem(rule.child)}",
                         doc.where(at + ("child",)))
        elif rule.child.split(".")[0] not in blocks[owner]:  # the rest: per instance
            first = rule.child.split(".")[0]
            errors.error("unknown-child", f"'{owner}' has no child '{first}'",
                         doc.where(at + ("child",)),
                         did_you_mean(first, sorted(blocks[owner])))
    elif rule.child is not None:
        for name, kind in types:
            # a user layer's children are its own code's: not declared, so not checked here
            if kind == "layer" or kind == "block" and rule.child not in blocks[name]:
                errors.error("unknown-child", f"'{name}' has no child '{rule.child}'",
                             doc.where(at + ("child",)),
                             did_you_mean(rule.child, sorted(blocks.get(name, ()))))
    tensors = []
    for tensor in TENSORS:
        value = getattr(rule, tensor)
        if value is not None:
            fn = function(value, at + (tensor,), doc, errors, expr)
            if fn is not None:
                tensors.append((tensor, *fn))
    if not tensors and len(errors.errors) == before:
        errors.error("bad-init", "an init rule sets 'weight' or 'bias' (or both)",
                     doc.where(at))
    cond = expr(rule.if_, at + ("if",)) if rule.if_ is not None else None
    if len(errors.errors) != before:
        return None
    return InitRule(types, rule.child, tensors, cond, doc.where(at),
                    doc.where(at + ("child",)) if rule.child else None)


def child_path_problem(path: str) -> str | None:
    """Why `path` is not a dotted path of child names and indexes (`features.0.conv`)."""
    for part in path.split("."):
        if not part.isdigit() and child_name_problem(part):
            return f"'{part}' is not a child name"
    return None


def function(value: Any, path: PathKey, doc: Document, errors: Collector, expr: ExprParser,
             extra: tuple[str, ...] = ()) -> tuple[str, dict[str, Any]] | None:
    """`zeros` or `{normal: {std: 0.01}}`: the function's name and its keyword arguments, a
    number given as a string being an expression (`std: "math.sqrt(1 / fan_in)"`). `extra`
    names functions without arguments allowed here too (`tril`)."""
    if isinstance(value, str):
        name, args, args_path = value, {}, path
    elif len(value) == 1:
        [(name, args)] = value.items()
        args_path = path + (name,)
        if args is None:
            args = {}
        elif not isinstance(args, dict):
            errors.error("wrong-type", f"the arguments of '{name}' are a mapping, e.g. "
                         "{std: 0.01}", doc.where(args_path))
            return None
    else:
        errors.error("bad-init", "an init is one function: 'zeros', or {normal: {std: 0.01}}",
                     doc.where(path))
        return None
    where = doc.where(path if isinstance(value, str) else path + (name,), key=True)
    known = {**FUNCTIONS, **{e: {} for e in extra}}
    if name not in known:
        errors.error("unknown-init", f"unknown init function '{name}'", where,
                     "'tril' makes a mask: declare it under 'buffers'" if name == TRIL else
                     did_you_mean(name, sorted(known)) or f"known: {', '.join(known)}")
        return None
    ok = True
    out: dict[str, Any] = {}
    for arg, given in args.items():
        spec = known[name].get(arg)
        if spec is None:
            errors.error("unknown-argument", f"{name}() has no argument '{arg}'",
                         doc.where(args_path + (arg,), key=True),
                         did_you_mean(arg, sorted(known[name])))
            ok = False
            continue
        accepts, _, choices = spec
        if accepts == "float" and isinstance(given, str):  # an expression, checked per instance
            parsed = expr(given, args_path + (arg,))
            ok = ok and parsed is not None
            out[arg] = parsed
            continue
        expected = check_accepts(accepts, given)
        if expected is None and choices and given not in choices:
            expected = "one of " + ", ".join(map(repr, choices))
        if expected:
            errors.error("wrong-type", f"{name}() argument '{arg}' should be {expected}, got "
                         f"{given!r}", doc.where(args_path + (arg,)))
            ok = False
        out[arg] = given
    missing = [a for a, (_, default, _) in known[name].items()
               if default is None and a not in args]
    for arg in missing:
        errors.error("missing-argument", f"{name}() needs '{arg}'", where)
        ok = False
    return (name, out) if ok else None
