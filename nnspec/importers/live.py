"""`nnspec import module 'pkg.module:factory'`: a live nn.Module to a spec.

The module tree comes from the model's own printout, read as `import tree` reads it, with the
live modules at hand for what a repr hides (AvgPool2d's `ceil_mode`). Forward comes from
torch.fx: each instance is traced with its children as leaves. Instances of one class whose
traced forward differs (a `downsample` present or not) keep one block: the differing steps go
under an `if` on a parameter that tells the instances apart. The result is checked: the spec
prints the same tree, loads the model's state_dict strictly and, where every forward is known,
gives identical outputs.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from nnspec.diagnostics import Collector, Diagnostic, Pos, SpecError
from nnspec.importers.calls import at_defaults, bound_call
from nnspec.importers.classify import Classifier, Instance
from nnspec.importers.construct import Made, recording
from nnspec.importers.draft import (
    ImportDefect,
    Imported,
    assumed_defaults,
    built,
    check_rebuild,
    guess_inputs,
)
from nnspec.importers.emit import render
from nnspec.importers.export_trace import export_steps
from nnspec.importers.fold import DraftClass, Folder
from nnspec.importers.inputs import (
    Input,
    bound_integers,
    call_arguments,
    examples,
    normalise,
    record_calls,
)
from nnspec.importers.merge import merge
from nnspec.importers.params import Params
from nnspec.importers.printed import is_torch_layer
from nnspec.importers.reference import References
from nnspec.importers.state import assign_live
from nnspec.importers.ties import assign_ties
from nnspec.importers.trace import Untraceable, runs_children_in_order, trace_steps
from nnspec.importers.tree import Node, parse_tree
from nnspec.importers.variants import NO_FORWARD, Split
from nnspec.language.names import DASHED

INIT_NOTE = ["Initialisation the code applies (weights set in __init__ or later) cannot be "
             "recovered", "from a module: the spec builds with torch's default "
             "initialisation. Load the model's", "state_dict for its weights."]


class TargetError(ValueError):
    """The MODULE:FACTORY named is malformed or not there (a usage error, not the code's)."""


def import_module(target: str, kwargs: dict[str, Any] | None = None,
                  inputs: dict[str, list[int]] | None = None, reference: tuple[str, ...] = (),
                  expand: tuple[str, ...] = ()) -> Imported:
    """Import the module the user named (that runs its code), call the factory, import the
    model it returns. TargetError when the name is malformed or names nothing; SpecError
    (`user-code-failed`, at the raising line of their code) when their code raises."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"expected MODULE:FACTORY such as 'mypkg.models:resnet18', got "
                          f"'{target}'")
    from nnspec.runtime import torchlib  # noqa: F401 - torch first, imported quietly

    if os.getcwd() not in sys.path:  # as `python -m` does, so the user's own package is found
        sys.path.insert(0, os.getcwd())
    try:
        factory: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):  # the named one
            raise TargetError(str(exc)) from None
        raise _user_error(exc, f"importing {module_name}") from None
    except (Exception, SystemExit) as exc:  # their module's code raised: theirs to fix
        raise _user_error(exc, f"importing {module_name}") from None
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise TargetError(f"{module_name} has no attribute '{attr}'")
        factory = getattr(factory, part)
    if not callable(factory):
        raise TargetError(f"{target} is of type {type(factory).__name__}, not a factory to "
                          "call")
    try:
        with recording() as made:
            model = factory(**(kwargs or {}))
    except (Exception, SystemExit) as exc:
        raise _user_error(exc, f"calling {target}", "check --args against the factory's "
                          "signature" if isinstance(exc, TypeError) else None) from None
    from nnspec.runtime.torchlib import torch

    if not isinstance(model, torch.nn.Module):
        raise SpecError([Diagnostic("not-a-module", f"{target} returned a value of type "
                                    f"{type(model).__name__}, not an nn.Module",
                                    _factory_pos(factory, target),
                                    "name a factory (or class) that returns the model")])
    try:
        str(model)
    except (Exception, SystemExit) as exc:
        raise _user_error(exc, f"printing the model from {target}") from None
    return import_model(model, target, inputs, reference, expand, made, own=module_name)


def _user_error(exc: BaseException, doing: str, hint: str | None = None) -> SpecError:
    """The user's exception as theirs: a diagnostic at the line of their code that raised."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    theirs = [f for f in frames if not os.path.abspath(f.filename).startswith(here)]
    pos = (Pos(theirs[-1].filename, theirs[-1].lineno or 1, 1) if theirs
           else Pos(f"<{doing}>", 1, 1))
    text = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__
    return SpecError([Diagnostic("user-code-failed", f"{doing} raised {detail} (in your code, "
                                 "not in nnspec)", pos, hint)])


def _factory_pos(factory: Any, target: str) -> Pos:
    code = getattr(factory, "__code__", None)
    if code is not None:
        return Pos(code.co_filename, code.co_firstlineno, 1)
    return Pos(f"<{target}>", 1, 1)


def import_model(model: Any, source: str = "model",
                 inputs: dict[str, list[int] | Input] | None = None,
                 reference: tuple[str, ...] = (), expand: tuple[str, ...] = (),
                 made: Made | None = None, own: str | None = None) -> Imported:
    """The spec for a live model, checked against it; SpecError when it cannot be rebuilt.
    `inputs`: by name, a shape without the batch dimension (float32) or an inputs.Input (a
    dtype; integer inputs with no bound get one from the Embeddings that read them).
    Classes that cannot be expanded become layer references (see importers.reference):
    `reference` packages' classes always, `expand` packages' never; their arguments are
    those `made` recorded them constructed with, where it did (importers.construct). The
    classes of module `own` (the factory's; by default the model class's) are the user's:
    one whose forward is not traced keeps `forward: unknown`."""
    from nnspec.runtime.torchlib import torch

    if not isinstance(model, torch.nn.Module):
        raise SpecError([Diagnostic("not-a-module", f"{source} gave "
                                    f"{type(model).__name__}, not an nn.Module",
                                    Pos(f"<{source}>", 1, 1))])
    printed = str(model)
    label = f"<print(model) of {source}>"
    node = parse_tree(printed, label)
    live: dict[int, Any] = {}
    folded: dict[int, Any] = {}
    _pair(node, model, live, folded)
    refs = References(own or type(model).__module__, reference, expand, made)
    given = normalise(inputs)
    modes = {m: m.training for m in model.modules()}
    model.eval()  # traced as it is checked and used for inference: `if self.training` is off
    input_notes: list[str] = []
    exports: dict[tuple, Any] = {}  # torch.export's results, kept from pass to pass
    calls: dict[str, Any] = {}  # and the model's run that records its modules' arguments
    try:
        if given:
            given, input_notes = bound_integers(model, given)
        while True:  # a class whose forward is not traced is referenced on another pass
            refs.reset()
            errors = Collector()
            classifier = Classifier(errors, is_torch_layer, live, refs)
            root = classifier.root(node)
            refs.harmonise()
            errors.extend(refs.problems)
            assign_live(classifier.instances, live, errors)
            if root is not None:
                assign_ties(model, root, errors)
            errors.check()
            refs.name_all(set(classifier.instances))
            refs.recorded = lambda root=root: calls["calls"] if "calls" in calls else \
                calls.setdefault("calls", record_calls(model, given or _guessed(
                    root, Collector())))  # once, even when the model does not run
            forwards = _Forwards(live, node, refs.recorded, exports, folded)
            classes = Folder(classifier, errors, forwards).fold_all(root)
            errors.check()
            forced = refs.force_untraced(classes, classifier.instances, live,
                                         forwards.reports)
            if not (refs.keep_untensored() or forced):
                break
    finally:
        for m, mode in modes.items():
            m.training = mode
    root_inputs = classes[-1].inputs or ["x"]
    if given and classes[-1].forward != "unknown" and list(given) != root_inputs:
        raise SpecError([Diagnostic("bad-input", f"the model's forward takes "
                                    f"{', '.join(root_inputs)}; --input gave "
                                    f"{', '.join(given)}", root.node.pos)])
    shapes = guess_inputs(root, given, errors)
    errors.check()
    if not given and len(root_inputs) == 1:
        shapes = {root_inputs[0]: next(iter(shapes.values()))}
    typed = given or {k: Input(tuple(v[0])) for k, v in shapes.items()}
    exported = ", ".join(sorted(forwards.exported))
    header = [f"Imported from {source} by `nnspec import module`.",
              "Forward: traced with torch.fx in eval mode, each class with its children as "
              "leaves" + (f"; with torch.export where fx cannot: {exported}"
                          if exported else "") + ".",
              *INIT_NOTE, *input_notes, *(f"Forward unknown: {r}" for r in forwards.reports),
              *assumed_defaults(classifier.instances), *(f"Note: {n}" for n in classifier.notes),
              *refs.header()]
    text = render(classes, shapes, header, refs.lines())
    allow = tuple(refs.packages())
    try:
        check_rebuild(text, printed, label, defect=True, allow=allow)
    except ImportDefect:  # the user's input first: a model that fails on it is no defect
        _run_model(model, typed, label, refs)
        raise
    _check_against(text, model, classes, typed, label, allow, refs)
    return Imported(text, classes, forwards.reports)


def _guessed(root: Instance, errors: Collector) -> dict[str, Input]:
    """One float input shaped for the first layer, when --input gave none."""
    return {name: Input(tuple(shape)) for name, (shape, _) in
            guess_inputs(root, None, errors).items()}


def _pair(node: Node, module: Any, live: dict[int, Any], folded: dict[int, Any]) -> None:
    """Map each printed node to the module it was printed from (the first, for equal
    children printed once: `(0-1): 2 x BertLayer(...)`), and each of the others, by id, to
    that first one in `folded`."""
    first = live.setdefault(id(node), module)
    if first is not module:
        folded[id(module)] = first
    for (key, child_node), (name, child) in zip(node.children, module.named_children()):
        assert key == name, (key, name)
        _pair(child_node, child, live, folded)


def _call_key(value: Any) -> Any:
    """What torch.export sees of a call's arguments: tensors by shape and dtype."""
    from nnspec.runtime.torchlib import torch

    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), str(value.dtype))
    if isinstance(value, (tuple, list)):
        return tuple(_call_key(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _call_key(v)) for k, v in value.items())
    return repr(value)


def _constants(module: Any, call: tuple[tuple, dict]) -> dict[str, Any]:
    """The arguments of a recorded call that hold no tensor, by parameter name: what
    torch.export fixes in the steps it recovers."""
    from torch.utils import _pytree

    from nnspec.runtime.torchlib import torch

    found = bound_call(module, *call)
    if found is None:
        return {}
    signature, bound = found
    var = next((p.name for p in signature.parameters.values() if p.kind == p.VAR_KEYWORD),
               None)
    items = {**{k: v for k, v in bound.items() if k != var}, **bound.get(var, {})}
    return {name: value for name, value in items.items() if not any(
        isinstance(v, torch.Tensor) for v in _pytree.tree_leaves(value))}


class _Forwards:
    """Sets each folded class's forward from its traced instances: torch.fx first, and
    torch.export on the arguments the instance received where fx fails."""

    def __init__(self, live: dict[int, Any], root: Node, record: Any,
                 exports: dict[tuple, Any] | None = None,
                 folded: dict[int, Any] | None = None):
        self.live, self.root, self.record = live, root, record
        self.folded = folded or {}  # id(instance) -> the one traced for it (live._pair)
        self.calls: dict[int, tuple[tuple, dict]] | None = None
        self.reports: list[str] = []
        self.exported: set[str] = set()  # the classes torch.export traced
        # (steps) or the Untraceable that exporting raised, by class, print and arguments
        self.exports: dict[tuple, Any] = {} if exports is None else exports
        self.plain: set[int] = set()  # modules size-oblivious export failed on (export_steps)
        # id(instance) -> the arguments its steps hold fixed (at their recorded values),
        # which its parent's call leaves out
        self.held: dict[int, dict[str, Any]] = {}

    def held_by(self, child: Any) -> dict[str, Any] | None:
        """What the child's steps hold fixed; for an instance printed folded into another
        (`(0-1): 2 x BertLayer(...)`, traced once), that one's."""
        return self.held.get(id(self.folded.get(id(child), child)))

    def hold(self, module: Any, values: dict[str, Any]) -> None:
        self.held[id(module)] = values

    def trace(self, module: Any) -> tuple[list[str], list[str]]:
        try:
            steps = trace_steps(module, held=self.held_by)
            self.hold(module, {})  # (its steps read no `**kwargs`: calls.unread_keywords)
            return steps
        except Untraceable as reason:
            fx_reason = reason
        if self.calls is None:
            self.calls = self.record()
        # timm's `attn(x, attn_mask=None)`, `head(x, pre_logits=False)`: fixed if never given
        fixed = at_defaults(module, self.calls.get(id(module)))
        if fixed:
            try:
                steps = trace_steps(module, fixed, self.held_by, self.calls)
                self.hold(module, fixed)
                return steps
            except Untraceable as reason:
                fx_reason = reason
        return self.untraced(module, fx_reason)

    def untraced(self, module: Any, fx_reason: Untraceable) -> tuple[list[str], list[str]]:
        """torch.export's steps where torch.fx failed (a library class neither traces is
        then a reference: References.force_untraced)."""
        if self.calls is None:
            self.calls = self.record()
        call = self.calls.get(id(module))
        if not self.calls:  # the model failed on the input nnspec assumed
            raise Untraceable(f"{fx_reason}; torch.export needs the model to run on the example "
                              "input, and it does not: pass its shape with --input") from None
        if call is None:
            raise Untraceable(f"{fx_reason}; torch.export needs it to run on the example "
                              "input, and it did not") from None
        key = (type(module), str(module), _call_key(call))
        if key not in self.exports:  # equal instances on equal arguments: export once
            try:
                self.exports[key] = export_steps(
                    module, *call, fixed=self.held_by, plain=self.plain,
                    opaque=getattr(self.calls, "tensor_out", set()))
            except Untraceable as export_reason:
                self.exports[key] = export_reason
        if isinstance(self.exports[key], Untraceable):
            raise Untraceable(f"{fx_reason}; {self.exports[key]}") from None
        self.exported.add(type(module).__name__)
        self.hold(module, _constants(module, call))
        return self.exports[key]

    def __call__(self, draft: DraftClass, instances: list[Instance], params: Params) -> None:
        modules = [self.live[id(inst.node)] for inst in instances]
        if draft.name in NO_FORWARD:
            inside = instances[0].node is not self.root  # a model needs something to run
            draft.forward = None if draft.name == "ModuleList" and inside else "unknown"
            return
        try:
            if draft.base == "Sequential":  # a Sequential subclass may have its own forward
                if all(runs_children_in_order(m) for m in modules):
                    draft.forward = None
                    return
            dashed = next((k for inst in instances for k, _ in inst.items
                           if DASHED.fullmatch(k)), None)
            if dashed:
                raise Untraceable(f"a forward step cannot call its child '{dashed}' by name")
            traced = [self.trace(m) for m in modules]
            takes = list(dict.fromkeys(tuple(inputs) for inputs, _ in traced))
            if len(takes) > 1:  # T5's first block computes the position bias, the rest take it
                raise Split([[i for i, (inputs, _) in enumerate(traced) if tuple(inputs) == t]
                             for t in takes], "instances take different inputs")
        except Untraceable as reason:
            self.reports.append(f"{draft.name}: {reason}")
            draft.forward = "unknown"
            return
        draft.inputs = traced[0][0]
        variants: dict[tuple[str, ...], list[int]] = {}
        for i, (_, steps) in enumerate(traced):
            variants.setdefault(tuple(steps), []).append(i)
        if len(variants) == 1:
            draft.forward = list(next(iter(variants)))
            return
        draft.forward = merge(list(variants.items()), modules, params)


def _run_model(model: Any, inputs: dict[str, Input], label: str,
               refs: References) -> tuple[dict[str, Any], Any]:
    """(example inputs, the model's output on them); a model failing on them is bad-input."""
    from nnspec.runtime.torchlib import torch

    args = examples(inputs)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            with refs.watching():
                want = model(**call_arguments(model, {k: a.clone() for k, a in args.items()}))
    except Exception as exc:  # the model's own code failed: most likely the guessed shape
        shown = ", ".join(f"{k} {list(v.shape)}" for k, v in inputs.items())
        raise SpecError([Diagnostic("bad-input", f"the model does not run on inputs {shown}: "
                                    f"{type(exc).__name__}: {exc}", Pos(label, 1, 1),
                                    "pass the input shape with --input x=3,224,224")]) from None
    finally:
        model.train(was_training)
    return args, want


def _check_against(text: str, model: Any, classes: list[DraftClass],
                   inputs: dict[str, Input], label: str, allow: tuple[str, ...],
                   refs: References) -> None:
    """Each layer reference gives the outputs of the instance it rebuilds; the spec's model
    loads the original state_dict strictly; with every forward known, it gives identical
    outputs on the declared inputs. (The references are checked on the same run of the
    model.)"""
    from nnspec.runtime.torchlib import torch

    if any(c.forward == "unknown" and c.name != "ModuleDict" for c in classes):
        refs.check_outputs(model, list(examples(inputs).values()))
    if refs.problems:
        raise SpecError(refs.problems)
    rebuilt = built(text, allow=allow)
    try:
        rebuilt.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as exc:
        raise ImportDefect([Diagnostic("not-rebuilt", "the imported spec's model does not load "
                                       f"the model's state_dict: {str(exc)[:500]}",
                                       Pos(label, 1, 1))]) from None
    if any(c.forward == "unknown" and c.name != "ModuleDict" for c in classes):
        return  # (torch's ModuleDict has no forward either: calling it raises in both)
    rebuilt.eval()
    args, want = _run_model(model, inputs, label, refs)
    if refs.problems:
        raise SpecError(refs.problems)
    try:
        with torch.no_grad():
            got = rebuilt(*[a.clone() for a in args.values()])
    except Exception as exc:  # the model runs and the spec's does not: nnspec's fault
        raise ImportDefect([Diagnostic("not-rebuilt", "the imported spec's model does not run "
                                       "on the inputs the model runs on: "
                                       f"{type(exc).__name__}: {str(exc)[:300]}",
                                       Pos(label, 1, 1), "this is a bug in nnspec import; "
                                       "please report it")]) from None
    if not _same(want, got, torch):
        raise ImportDefect([Diagnostic("not-rebuilt", "the imported spec's forward gives different "
                                    "outputs from the model's", Pos(label, 1, 1),
                                    "this is a bug in nnspec import; please report it")])


def _same(a: Any, b: Any, torch: Any) -> bool:
    """Equal outputs, item by item: a dict, dataclass or Hugging Face `ModelOutput` against
    the mapping the spec returns, a namedtuple against its tuple."""
    import dataclasses

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if dataclasses.is_dataclass(a) and not isinstance(a, dict):
        a = {f.name: getattr(a, f.name) for f in dataclasses.fields(a)}
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(
            _same(a[k], b[k], torch) for k in a)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(
            _same(x, y, torch) for x, y in zip(a, b))
    return a == b
