"""Layer references: a class `import module` cannot express as a block, written as a layer.

A library leaf (torchvision's `StochasticDepth`), a layer subclass with children (timm's
`BatchNormAct2d`) or a class whose forward cannot be traced becomes one `layers:` entry, the
class's import path with its constructor's signature, so that the static verbs need not import
it. Its call's arguments are those its constructor was called with, recorded while the
factory ran (importers.construct); without a record, the `__init__` signature matched against
the instance's attributes (by name, or a common alias). They are verified by
rebuilding the class with them: the same repr, the same state_dict layout and, on the input
the model gives it, the same outputs. What cannot be verified is refused with the class, the
argument and the reason.

Which classes are referenced: by default those that cannot be expanded (a class whose forward
is not traced, or that holds a non-persistent buffer no spec init recreates, only when it comes
from a module other than the model's own, the factory's: the model's own classes keep
`forward: unknown`); `reference` packages keep every class of theirs opaque;
`expand` packages are never referenced (what cannot be expanded is then refused as before).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from nnspec.catalog import LAYERS, Arg
from nnspec.catalog.library import UNWRITTEN
from nnspec.diagnostics import Diagnostic, Pos
from nnspec.elaborate.user_layers import allowed, declare_signature
from nnspec.formatter import literal
from nnspec.importers.construct import Made
from nnspec.importers.export_trace import TRACED_BUT
from nnspec.importers.layers import LayerCall, LayerProblem, read_args
from nnspec.importers.recover import (
    NotReferenceable,
    child_class_name,
    equal,
    python_args,
    rebuilt_args,
    recover,
    signature_of,
    verify_spellings,
)
from nnspec.importers.variants import NO_FORWARD, free_name
from nnspec.language.names import IMPORT_PATH


@dataclass
class Reference:
    """One referenced class: its import path, its name in the spec, its signature."""

    path: str
    name: str
    args: list[Arg]
    why: str
    modules: list[Any] = field(default_factory=list)  # the instances, to check outputs
    calls: list[tuple[Any, LayerCall]] = field(default_factory=list)  # with their calls

    def entry(self) -> list[str]:
        """The spec's `layers:` lines for it."""
        parts = []
        for arg in self.args:
            if arg.required:
                parts.append(f"{arg.name}: {arg.accepts}")
            elif arg.default is UNWRITTEN:
                parts.append(f"{arg.name}: {{type: {arg.accepts}, optional: true}}")
            else:
                parts.append(f"{arg.name}: {{type: {arg.accepts}, default: "
                             f"{_flow(arg.default)}}}")
        one = f"  {self.name}: {{class: \"{self.path}\", args: {{{', '.join(parts)}}}}}"
        if len(one) <= 100:
            return [one]
        return [f"  {self.name}:", f"    class: \"{self.path}\"", "    args:",
                *(f"      {p}" for p in parts)]


class References:
    """Decides which classes to reference and makes their calls; collects refusals."""

    def __init__(self, own_module: str, reference: tuple[str, ...] = (),
                 expand: tuple[str, ...] = (), made: Made | None = None) -> None:
        self.own_module = own_module  # the model's module: its classes are the user's own
        self.made = made if made is not None else Made()  # the constructors' arguments
        self.reference, self.expand = reference, expand
        self.forced: dict[type, str] = {}  # classes to reference on the next pass, and why
        self.by_path: dict[str, Reference] = {}
        self.problems: list[Diagnostic] = []
        self.verified: dict[int, dict[str, Any]] = {}  # id(instance) -> its rebuilt arguments
        self.positions: dict[int, Pos] = {}  # id(instance) -> its printed line
        self.kept: set[type] = set()  # classes not to reference for their buffers
        # the arguments each module got in a run of the model (id -> (args, kwargs)), if known
        self.recorded: Callable[[], dict[int, tuple[tuple, dict]]] | None = None

    def reset(self) -> None:
        self.by_path, self.problems, self.verified, self.positions = {}, [], {}, {}

    def why(self, node: Any, module: Any) -> str | None:
        """Why this printed module is to be a reference; None to expand it (or refuse it as
        the classifier does)."""
        if module is None:
            return None
        cls = type(module)
        if cls.__module__.startswith("torch.") or cls.__module__ == "torch":
            return None
        if allowed(cls.__module__, self.expand):
            return None
        if allowed(cls.__module__, self.reference):
            return f"--reference {cls.__module__.split('.')[0]}"
        if cls in self.forced:
            return self.forced[cls]
        held = _unrecreatable_buffer(module)
        if held is not None and cls.__module__ != self.own_module \
                and cls not in self.kept and _referenceable(module, self.made):
            # (else refused, naming the buffer)
            return f"{_HOLDS} '{held}', which no spec init recreates"
        if _torch_layer_base(cls) is not None:
            return "layer subclass with children" if node.args is None else "layer subclass"
        if node.args not in (None, ""):
            return "library leaf"
        if node.extra:
            return "prints its own settings beside its children"
        return None

    def call(self, node: Any, module: Any, why: str) -> LayerCall | None:
        """The call that rebuilds `module`, its class declared as a reference; None after a
        refusal (in `problems`)."""
        cls = type(module)
        path = f"{cls.__module__}:{cls.__qualname__}"
        try:
            if not _PATH.fullmatch(path) or _import(path) is not cls:
                raise NotReferenceable(f"it is not importable as {path}")
            unwritten: list[str] = []
            signature, given = recover(module, self.made.bound(module), unwritten)
            try:
                given = verify_spellings(cls, module, given)
            except NotReferenceable:
                if unwritten:  # the recorded value, not the attributes' stand-in for it
                    raise NotReferenceable(unwritten[0]) from None
                raise
            self.verified[id(module)] = given
            self.positions[id(module)] = node.pos
            return self.declared(path, signature, given, why, module)
        except NotReferenceable as exc:
            self.problems.append(Diagnostic(
                "not-referenceable", f"'{node.cls}' ({path}) cannot be written as a layer "
                f"reference: {exc}", node.pos,
                f"pass --expand {cls.__module__.split('.')[0]} to expand its classes instead"
                if why.startswith("--reference") else None))
            return None

    def declared(self, path: str, signature: list[Arg], given: dict[str, Any], why: str,
                 module: Any = None) -> LayerCall:
        """The call with `given`, the class at `path` declared with `signature` (once)."""
        ref = self.by_path.get(path)
        if ref is None:
            ref = Reference(path, "", signature, why)
            self.by_path[path] = ref
            declare_signature(path, signature)
        elif module is not None:
            for ours, theirs in zip(ref.args, signature):
                if "class" in (ours.accepts, theirs.accepts) and ours != theirs:
                    raise NotReferenceable(
                        f"argument '{ours.name}' is a class by import path for some of its "
                        "instances and not for others, which one signature cannot say")
        if module is not None:
            ref.modules.append(module)
        layer = LAYERS[path]
        full = layer.bind_defaults(given)
        args = {a.name: full[a.name] for a in layer.args
                if a.required or not equal(full[a.name], a.default)}
        call = LayerCall(path, args, full, ())
        if module is not None:
            ref.calls.append((module, call))
        return call

    def harmonise(self) -> None:
        """Where some instances of a class pass an argument whose default no spec can write
        (`act_layer="silu"`) and others leave it out, the others pass it too (the name of
        their child's class), verified; a spec block cannot take 'the class's default' as a
        value that differs between its instances."""
        for ref in self.by_path.values():
            for arg in (a for a in ref.args if a.default is UNWRITTEN
                        and a.accepts != "class"):
                if all(arg.name in c.args for _, c in ref.calls) or not any(
                        arg.name in c.args for _, c in ref.calls):
                    continue
                for module, call in ref.calls:
                    if arg.name in call.args:
                        continue
                    args = {**self.verified[id(module)],
                            arg.name: child_class_name(module, arg.name)}
                    try:
                        args = verify_spellings(type(module), module, args)
                    except NotReferenceable as exc:
                        self.problems.append(Diagnostic(
                            "not-referenceable", f"'{ref.path.split(':')[1]}' ({ref.path}) "
                            f"instances differ in '{arg.name}', whose default a spec cannot "
                            f"write, and passing it where it is left out fails: {exc}",
                            self.positions[id(module)]))
                        return
                    self.verified[id(module)] = args
                    call.args[arg.name] = call.full[arg.name] = args[arg.name]

    def name_all(self, taken: set[str]) -> None:
        """Give each reference its call name: the class's own, unless a torch layer, a block
        or another reference has it."""
        used = set(taken)
        for ref in self.by_path.values():
            cls = ref.path.split(":")[1]
            top = ref.path.split(".")[0].split(":")[0]
            name = cls if cls not in LAYERS and cls not in used else \
                free_name(f"{top.capitalize()}{cls}", used)
            ref.name = name
            used.add(name)

    def force_untraced(self, classes: list[Any], instances: dict[str, list[Any]],
                       live: dict[int, Any], reports: list[str] = ()) -> bool:
        """Mark the classes whose forward was not traced, and which can be referenced, for
        the next pass, saying which tracers were tried (`reports`: "Class: reason" lines);
        whether there are any. One that cannot keeps `forward: unknown`."""
        marked = False
        for draft in classes[:-1]:
            if draft.forward != "unknown" or draft.name in NO_FORWARD:
                continue
            modules = [live.get(id(inst.node)) for inst in instances.get(draft.name, [])]
            if not self._may_force(modules):
                continue
            reason = next((r for r in reports if r.startswith(f"{draft.name}: ")), "")
            self.forced[type(modules[0])] = _untraced_why(reason)
            marked = True
        return marked

    def keep_untensored(self) -> bool:
        """Mark the classes referenced for their buffers whose instances the model does not
        call with a tensor first (`pos(B, H, W)`), which a layer cannot be, so that the next
        pass refuses them, naming the buffer; whether there are any."""
        holding = [ref for ref in self.by_path.values() if ref.why.startswith(_HOLDS)]
        calls = None if self.recorded is None or not holding else self.recorded()
        if not calls:  # the model did not run on the example input: the rebuild check says so
            return False
        marked = False
        for ref in holding:
            if not all(_tensor_first(calls.get(id(m))) for m in ref.modules):
                self.kept.update(type(m) for m in ref.modules)
                marked = True
        return marked

    def _may_force(self, modules: list[Any]) -> bool:
        """Whether these instances of one class, if their forward is not traced, are to be a
        reference: the class is a library's, and rebuilds each of them."""
        cls = type(modules[0]) if modules and modules[0] is not None else None
        if cls is None or cls in self.forced or cls.__module__ == self.own_module \
                or cls.__module__.split(".")[0] == "torch" \
                or allowed(cls.__module__, self.expand):
            return False
        if self.recorded is not None:  # a layer takes a tensor first: `pos(B, H, W)` is not
            calls = self.recorded()
            if not all(_tensor_first(calls.get(id(m))) for m in modules):
                return False
        return all(_referenceable(m, self.made) for m in modules)

    def call_name(self, target: str) -> str:
        ref = self.by_path.get(target)
        return ref.name if ref is not None else target

    def lines(self) -> list[str]:
        """The spec's `layers:` section."""
        if not self.by_path:
            return []
        return ["", "layers:"] + [line for ref in self.by_path.values() for line in ref.entry()]

    def header(self) -> list[str]:
        """The import report: how many references, and why each was needed, one line each
        (every line names a reference, for a corpus tool to collect)."""
        if not self.by_path:
            return []
        return [f"References: {len(self.by_path)} (classes written as layers: below)"] + [
            f"Reference {r.name}: {r.why}" for r in self.by_path.values()]

    def packages(self) -> list[str]:
        return sorted({p.split(".")[0].split(":")[0] for p in self.by_path})

    def check_outputs(self, model: Any, inputs: list[Any]) -> None:
        """Each referenced instance rebuilt from its call gives the same outputs as the
        original on the inputs the model gives it (one run of the model, in eval mode)."""
        from nnspec.runtime.torchlib import torch

        was = model.training
        model.eval()
        try:
            with torch.no_grad(), self.watching():
                model(*inputs)
        except Exception:  # noqa: BLE001 - the whole model's check reports a failing run
            pass
        finally:
            model.train(was)

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """While the model runs inside the block (in eval mode, without gradients), each
        referenced instance, the first time it is called, is rebuilt from its call and run on
        the same inputs: different outputs, or a rebuild that raises, is a problem."""
        from nnspec.runtime.torchlib import torch

        owner = {id(m): ref for ref in self.by_path.values() for m in ref.modules}
        seen: set[int] = set()

        def hook(module: Any, args: tuple, kwargs: dict, output: Any) -> None:
            if id(module) in seen:
                return
            seen.add(id(module))
            ref, given = owner[id(module)], self.verified[id(module)]
            try:
                rebuilt = type(module)(**python_args(given))
                rebuilt.load_state_dict(module.state_dict(), strict=True)
                rebuilt.eval()
                same = _same(output, rebuilt(*args, **kwargs), torch)
                why = "gives different outputs"
            except Exception as exc:  # noqa: BLE001 - the rebuilt class fails: refused
                same, why = False, f"raises {type(exc).__name__}: {str(exc)[:200]}"
            if not same:
                self.problems.append(Diagnostic(
                    "not-referenceable", f"'{ref.name}' ({ref.path}) rebuilt with {given} "
                    f"{why}", self.positions[id(module)],
                    "something its arguments do not say (an attribute set after it was "
                    "made) changes it; pass --expand PKG to expand the class instead"))

        handles = [m.register_forward_hook(hook, with_kwargs=True)
                   for ref in self.by_path.values() for m in ref.modules]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


_PATH = re.compile(IMPORT_PATH)
_HOLDS = "holds the non-persistent buffer"


def _import(path: str) -> Any:
    module, name = path.split(":")
    try:
        return getattr(importlib.import_module(module), name, None)
    except Exception:  # noqa: BLE001 - not importable: not referenceable
        return None


def _referenceable(module: Any, made: Made) -> bool:
    """Whether the instance's class is importable and rebuilds it from recovered arguments."""
    cls = type(module)
    path = f"{cls.__module__}:{cls.__qualname__}"
    try:
        if not _PATH.fullmatch(path) or _import(path) is not cls:
            return False
        verify_spellings(cls, module, recover(module, made.bound(module), [])[1])
    except NotReferenceable:
        return False
    return True


def _tensor_first(call: tuple[tuple, dict] | None) -> bool:
    """Whether a recorded call passed a tensor first, as a layer takes its input
    (`pos(B, H, W)` does not)."""
    return call is not None and bool(call[0]) and any(
        c.__name__ == "Tensor" and c.__module__.startswith("torch")
        for c in type(call[0][0]).__mro__)


def _unrecreatable_buffer(module: Any) -> str | None:
    """The name of a non-persistent buffer the module holds itself whose values no spec init
    recreates (a computed index): not in the state_dict, so a block cannot hold it."""
    from nnspec.importers.state import recreating_init

    for name in module._non_persistent_buffers_set:
        tensor = module._buffers.get(name)
        if tensor is not None and recreating_init(tensor) is None:
            return name
    return None


def _torch_layer_base(cls: type) -> type | None:
    """The torch layer class (one in the catalog) that `cls` derives from, if any."""
    for base in cls.__mro__[1:]:
        if base.__module__.startswith("torch.nn") and base.__name__ in LAYERS:
            return base
    return None


def _same(a: Any, b: Any, torch: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(
            _same(x, y, torch) for x, y in zip(a, b))
    return a == b


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return literal(value)


class TreeReferences(References):
    """`import tree --layer NAME=pkg.mod:Class`: the printed classes the user names are
    references, their arguments parsed from the printed repr against the class's signature
    (the class is imported: the user named it) and checked by rebuilding it on the meta
    device: the same printed arguments."""

    def __init__(self, layers: dict[str, str]) -> None:
        super().__init__("")
        self.layers = layers

    def why(self, node: Any, module: Any) -> str | None:
        return "--layer" if node.cls in self.layers else None

    def call(self, node: Any, module: Any, why: str) -> LayerCall | None:
        path = self.layers[node.cls]
        text = node.args if node.args is not None else (node.extra[0] if node.extra else "")
        try:
            cls = _import(path)
            if not isinstance(cls, type):
                raise NotReferenceable(f"{path} cannot be imported")
            signature = signature_of(cls)
            given = read_args(node.cls, signature, text, node.pos)
            printed = rebuilt_args(cls, given)
            if printed != text.strip():
                raise NotReferenceable(f"rebuilt with {given} it prints '{printed:.80}'")
        except LayerProblem as problem:
            self.problems.append(problem.diagnostic)
            return None
        except NotReferenceable as exc:
            self.problems.append(Diagnostic(
                "not-referenceable", f"'{node.cls}' ({path}) cannot be written as a layer "
                f"reference: {exc}", node.pos))
            return None
        return self.declared(path, signature, given, why)


def _untraced_why(reason: str) -> str:
    """Why a class is a reference, from its tracing report: which tracers failed, and why
    torch.export's graph, where it made one, is no spec forward."""
    if TRACED_BUT in reason:
        return f"torch.fx cannot trace its forward; {TRACED_BUT}{reason.split(TRACED_BUT, 1)[1]}"
    if "torch.export" in reason:
        return "neither torch.fx nor torch.export traces its forward"
    return "forward not traced"
