"""Layer references with the arguments their classes were constructed with: `import module`
records each library instance's constructor call while the factory runs, so a class that keeps
its arguments under no attribute of their name still becomes a verified reference. A class
with an untraceable forward, or a computed non-persistent buffer no spec init recreates, is
one reference (the smallest class concerned); the model around it stays blocks. The stand-in
library is tests/libpkg/fakelib (CI has no torchvision or timm).
"""

from __future__ import annotations

import copy
import functools
import gc
import sys

import pytest
import torch
from conftest import ROOT

import nnspec
from nnspec.diagnostics import SpecError
from nnspec.importers.construct import recording
from nnspec.importers.live import import_model, import_module

LIBPKG = ROOT / "tests" / "libpkg"
if str(LIBPKG) not in sys.path:
    sys.path.insert(0, str(LIBPKG))

import libmodels  # noqa: E402
from fakelib import ops, windows  # noqa: E402


def round_trip(target: str, inputs: dict, tmp_path) -> tuple[str, torch.nn.Module]:
    """The spec `import module` writes for the factory, checked here on its own: the same
    print, a strict load, the same buffers, identical outputs."""
    text = import_module(target, inputs=inputs).text
    path = tmp_path / "imported.yaml"
    path.write_text(text, encoding="utf-8")
    torch.manual_seed(0)
    model = getattr(libmodels, target.split(":")[1])()
    rebuilt = nnspec.build(path, allow_import=["fakelib"])
    assert str(rebuilt) == str(model)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    theirs, ours = dict(model.named_buffers()), dict(rebuilt.named_buffers())
    assert theirs.keys() == ours.keys()
    assert all(torch.equal(theirs[k], ours[k]) for k in theirs)
    model.eval(), rebuilt.eval()
    x = torch.randn(2, *next(iter(inputs.values())))
    with torch.no_grad():
        assert torch.equal(model(x), rebuilt(x))
    return text, rebuilt


def test_classes_holding_computed_indices_are_references_with_their_recorded_arguments(
        tmp_path):
    text, _ = round_trip("libmodels:windowed", {"x": [8, 3]}, tmp_path)
    assert "# Reference WindowAttention: holds the non-persistent buffer 'index', which no " \
           "spec init recreates\n" in text
    assert "# Reference RelativeBias: holds the non-persistent buffer 'index'" in text
    assert '  RelativeBias:\n    class: "fakelib.windows:RelativeBias"\n    args:\n' \
           '      dim: int\n      window: int\n      options: {type: any, default: null}\n' \
        in text
    assert "    attn: WindowAttention(8, 4)\n" in text  # `heads=2` is the default
    assert "    bias: RelativeBias(8, 4)\n" in text
    assert "    embed: Linear(3, 8)\n" in text and "forward: unknown" not in text


def test_an_untraceable_class_with_unkept_arguments_is_a_reference(tmp_path):
    text, _ = round_trip("libmodels:moody", {"x": [4]}, tmp_path)
    assert "# Reference Moody: neither torch.fx nor torch.export traces its forward\n" in text
    assert "    last: Moody(7)\n" in text and "forward: unknown" not in text


def test_without_the_recorded_call_an_unkept_argument_is_refused_by_name():
    with pytest.raises(SpecError) as info:  # the model built here, not by import module
        import_model(libmodels.windowed(), "libmodels:windowed", {"x": [8, 3]},
                     reference=("fakelib",))
    messages = [d.message for d in info.value.diagnostics]
    assert messages == [
        "'WindowAttention' (fakelib.windows:WindowAttention) cannot be written as a layer "
        "reference: argument 'window' is not recovered: the instance has no attribute of that "
        "name or a known alias",
        "'RelativeBias' (fakelib.windows:RelativeBias) cannot be written as a layer "
        "reference: argument 'window' is not recovered: the instance has no attribute of that "
        "name or a known alias"]
    assert [d.pos.line for d in info.value.diagnostics] == [3, 8]


def test_recording_keeps_each_instances_own_call_and_skips_copies():
    with recording() as made:
        attn = windows.WindowAttention(8, window=4)
        stage = windows.Stage(8, 2)
        copied = copy.deepcopy(attn)
        linear = torch.nn.Linear(2, 2)
    assert made.bound(attn) == {"dim": 8, "window": 4, "heads": 2, "bias": True}
    assert made.bound(stage) == {"dim": 8, "window": 2, "block": windows.WindowAttention}
    assert made.bound(stage.blocks[0]) == {"dim": 8, "window": 2, "heads": 2, "bias": True}
    assert made.bound(copied) is None and made.bound(linear) is None
    assert made.bound(ops.Moody(3)) is None  # made after the recording


def _passing(init):
    """A decorator putting a function of another name in place of `__init__`, as
    libraries do (functools.wraps or not)."""
    @functools.wraps(init)
    def wrapped_func(self, *args, **kwargs):
        init(self, *args, **kwargs)
    return wrapped_func


def _replacing(cls):
    """A class decorator replacing `__init__` after the class is made."""
    original = cls.__init__

    def new_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.decorated = True

    cls.__init__ = new_init
    return cls


@pytest.fixture
def collecting():
    """The cyclic collector on, as under `import module` (importing the console entry in
    process turns it off)."""
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_recording_sees_classes_defined_inside_it_and_puts_every_constructor_back(collecting):
    init, module_init = windows.WindowAttention.__init__, torch.nn.Module.__init__
    with pytest.raises(ValueError, match="raised inside"), recording() as made:
        class Late(torch.nn.Module):  # made while recording, as a library imported lazily
            def __init__(self, width, *extra, scale=2.0, **options):
                width += 1  # the arguments as passed, not as the constructor changes them
                super().__init__()
                self.width = width

        class Plain(torch.nn.Module):  # no __init__ of its own: torch's, with its arguments
            pass

        class Deprecating(torch.nn.Module):
            @_passing
            def __init__(self, size, bias=False):
                super().__init__()

        @_replacing
        class Kernelized(torch.nn.Module):
            def __init__(self, size, bias=False):
                super().__init__()

        assert not gc.isenabled()  # paused while the factory runs
        late, plain = Late(3, 4, flag=True), Plain()
        deprecating, kernelized = Deprecating(5), Kernelized(6, bias=True)
        with recording() as inner:  # a recording inside another records nothing
            nested = windows.WindowAttention(8, window=4)
        raise ValueError("raised inside")
    assert made.bound(late) == {"width": 3, "extra": (4,), "scale": 2.0,
                                "options": {"flag": True}}
    assert made.bound(plain) == {"args": (), "kwargs": {}} and late.width == 4
    assert made.bound(deprecating) == {"size": 5, "bias": False}
    assert made.bound(kernelized) == {"size": 6, "bias": True} and kernelized.decorated
    assert made.bound(nested) == {"dim": 8, "window": 4, "heads": 2, "bias": True}
    assert inner.bound(nested) is None
    assert windows.WindowAttention.__init__ is init and torch.nn.Module.__init__ is module_init
    assert "__init__" not in vars(Plain) and "__init_subclass__" not in vars(torch.nn.Module)
    assert gc.isenabled() and gc.get_freeze_count() > 0  # what it made is out of its passes
    with recording() as made:  # the wrapper Kernelized's __init__ kept serves this one too
        again, kernelized = Late(1), Kernelized(7)
    assert made.bound(again) == {"width": 1, "extra": (), "scale": 2.0, "options": {}}
    assert made.bound(kernelized) == {"size": 7, "bias": False}


def test_a_patch_of_module_init_made_before_recording_is_looked_through(monkeypatch):
    init = torch.nn.Module.__init__

    def patched_init(self, *args, **kwargs):  # as torch._dynamo patches it, once (the
        init(self, *args, **kwargs)  # init it keeps may be another such patch)

    monkeypatch.setattr(torch.nn.Module, "__init__", patched_init)

    class Plain(torch.nn.Module):
        pass

    with recording() as made:
        plain, attn = Plain(), windows.WindowAttention(8, window=4)
    assert made.bound(plain) == {"args": (), "kwargs": {}}
    assert made.bound(attn) == {"dim": 8, "window": 4, "heads": 2, "bias": True}
    assert torch.nn.Module.__init__ is patched_init


def test_a_library_class_fx_cannot_trace_is_exported_before_it_is_referenced(tmp_path):
    """A class is a reference only when neither tracer recovers its forward: one torch.export
    traces is expanded, though its constructor call was recorded and it would rebuild."""
    text, _ = round_trip("libmodels:sized", {"x": [3, 4]}, tmp_path)
    assert "# References: 1 " in text and "Reference Sized" not in text  # (GELU, a leaf)
    assert "torch.export where fx cannot: Sized." in text
    assert "  Sized:\n    children:\n" in text and "    last: Sized()\n" in text
    text, _ = round_trip("libmodels:folded", {"x": [3, 4]}, tmp_path)  # export fails on it
    assert "# Reference Folded: neither torch.fx nor torch.export traces its forward\n" in text
    assert '  Folded: {class: "fakelib.windows:Folded", args: {width: int}}\n' in text
    assert "    last: Folded(4)\n" in text and "Forward unknown" not in text


def test_a_function_a_library_marks_as_an_fx_leaf_is_traced_through(tmp_path):
    text, _ = round_trip("libmodels:pad_merge", {"x": [3, 4]}, tmp_path)
    assert "Reference PadMerge" not in text and "torch.export" not in text
    assert "F.pad(x, (0, out[1] % 2, 0, out[0] % 2)" in text
    graph = torch.fx.symbolic_trace(windows.PadMerge(4)).graph  # a leaf for everyone else
    assert any(n.op == "call_function" and n.target.__name__ == "_pad_even"
               for n in graph.nodes)


def test_a_child_called_on_the_classs_own_buffer_is_exported(tmp_path):
    text, _ = round_trip("libmodels:table_bias", {"x": [3, 4]}, tmp_path)
    assert "Reference TableBias" not in text and "      - out = mlp(table)\n" in text


def test_a_reference_says_why_the_graph_torch_export_made_is_no_spec_forward(tmp_path):
    text, _ = round_trip("libmodels:unspelled", {"x": [3, 4]}, tmp_path)
    assert "# Reference Unspelled: torch.fx cannot trace its forward; torch.export traced it, " \
           "but\n#   aten.logcumsumexp has no spelling among nnspec's ops\n" in text


def test_a_model_that_fails_on_the_example_input_is_told_to_take_another():
    result = import_module("libmodels:checked")
    assert result.warnings == [
        "Checked: torch.fx cannot trace it: symbolically traced variables cannot be used as "
        "inputs to control flow; torch.export needs the model to run on the example input, "
        "and it does not: pass its shape with --input"]


def test_without_the_recorded_call_it_is_exported_and_stays_a_block():
    text = import_model(libmodels.folded(), "libmodels:folded", {"x": [3, 4]}).text
    assert "# Forward unknown: Folded: torch.fx cannot trace it" in text
    assert "torch.export fixed the batch size of 'x' to 2" in text
    assert "  Folded:\n    children:\n      fc: Linear(4, 4)\n    forward: unknown\n" in text


def test_a_library_class_with_a_computed_buffer_that_cannot_be_a_reference_is_refused():
    with pytest.raises(SpecError) as info:  # without the recorded call: 'window' is unknown
        import_model(libmodels.windowed(), "libmodels:windowed", {"x": [8, 3]})
    assert [(d.code, d.pos.line) for d in info.value.diagnostics] == [
        ("not-rebuildable", 3), ("not-rebuildable", 8)]
    assert info.value.diagnostics[0].message.startswith(
        "'WindowAttention.index' is a non-persistent buffer (not in the state_dict) of shape "
        "[16]")


def test_a_class_called_without_a_tensor_keeps_forward_unknown_and_an_unneeded_value_is_left_out():
    text = import_module("libmodels:with_positions", inputs={"x": [3, 4]}).text
    assert "  Positions:\n    parameters:" in text and "    forward: unknown\n" in text
    assert "# Forward unknown: Positions: torch.fx cannot trace it" in text
    assert "    - out = pos(x.shape[0], x.shape[1])\n" in text
    assert "    bias: RelativeBias(4, 2)\n" in text  # made with options={}: verified without it
    assert "fakelib.windows:Positions" not in text


def test_a_recorded_value_a_spec_cannot_write_is_named_when_leaving_it_out_fails():
    from fakelib.windows import Stage

    from nnspec.importers.recover import NotReferenceable, recover, verify_spellings

    with recording() as made:
        stage = Stage(4, 2, block=functools.partial(windows.RelativeBias))
    unwritten: list[str] = []
    given = recover(stage, made.bound(stage), unwritten)[1]
    assert given == {"dim": 4, "window": 2}
    assert unwritten == ["argument 'block' was given partial functools.partial(<class "
                         "'fakelib.windows.RelativeBias'>), which a spec cannot write"]
    with pytest.raises(NotReferenceable, match=r"where the instance prints '\(0\): Relat"):
        verify_spellings(Stage, stage, given)
    with pytest.raises(NotReferenceable, match="argument 'block' was given partial"):
        recover(stage, made.bound(stage))  # asked for no fallback


def test_classes_passed_as_arguments_are_written_by_import_path(tmp_path):
    text, _ = round_trip("libmodels:staged", {"x": [2, 3]}, tmp_path)
    assert "      block: {type: class, default: \"fakelib.windows:WindowAttention\"}\n" in text
    assert "      act_layer: {type: class, default: \"torch.nn:SiLU\"}\n" in text
    assert '    stage: Stage(4, 2, block="fakelib.windows:RelativeBias")\n' in text
    assert '    act: ActBlock(4, act_layer="torch.nn:Hardswish")\n' in text
    source = nnspec.generate(tmp_path / "imported.yaml", allow_import=["fakelib"])
    assert "from torch.nn import Hardswish\n" in source
    assert "from fakelib.windows import ActBlock, RelativeBias, Stage\n" in source
    assert "act_layer=Hardswish)" in source and "block=RelativeBias)" in source


def test_a_class_argument_is_a_constant_import_path(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("nnspec: 1\ninputs:\n  x: [4]\nlayers:\n"
                    "  ActBlock: {class: \"fakelib.windows:ActBlock\", args: {dim: int, "
                    "act_layer: {type: class, default: \"torch.nn:SiLU\"}}}\n"
                    "model:\n  name: Net\n  params: {act: \"torch.nn:GELU\"}\n  children:\n"
                    "    a: ActBlock(4, act_layer=act)\n    b: ActBlock(4, act_layer=\"GELU\")\n"
                    "  forward:\n    - return b(a(x))\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        nnspec.summary(spec)
    found = [(d.code, d.pos.line, d.message) for d in info.value.diagnostics]
    assert found == [
        ("bad-value", 10, "argument 'act_layer' takes a class: a constant import path such as "
         "'torch.nn:GELU'"),
        ("wrong-type", 11, "ActBlock() argument 'act_layer' should be a class's import path, "
         "'package.module:Class', got 'GELU'")]


def test_a_root_fx_cannot_trace_is_still_exported(monkeypatch):
    import nnspec.importers.live as live

    exported = []

    def export(module, *call, **_):
        exported.append(type(module).__name__)
        raise live.Untraceable("not this time")

    monkeypatch.setattr(live, "export_steps", export)
    import_module("libmodels:folded_root", inputs={"x": [3, 4]})
    assert exported == ["Folded"]


def test_a_class_with_a_computed_buffer_called_without_a_tensor_is_refused_by_its_buffer():
    with pytest.raises(SpecError) as info:
        import_module("libmodels:with_grid", inputs={"x": [3, 4]})
    [diag] = info.value.diagnostics
    assert (diag.code, diag.pos.line) == ("not-rebuildable", 2)
    assert diag.message.startswith("'Grid.offsets' is a non-persistent buffer")


def test_a_class_given_where_the_library_takes_a_name_is_passed_by_name(tmp_path):
    text, _ = round_trip("libmodels:headed", {"x": [4]}, tmp_path)
    assert '  Head:\n    class: "fakelib.windows:Head"\n    args:\n      dim: int\n' \
           '      norm_layer: {type: str, default: "layernorm"}\n' in text
    assert "    first: Head(4)\n" in text and '    second: Head(2, norm_layer="rmsnorm")\n' in text


def test_children_exported_as_one_op_each_give_the_same_steps_and_come_back():
    """export_run leaves children that took one tensor and gave one back untraced (one op
    each): the module's steps are the same, and the children are as they were after."""
    from nnspec.importers.export_trace import export_steps

    module = libmodels.Small(windows.Sized(4)).eval()
    x = torch.randn(2, 3, 4)
    traced = export_steps(module.last, (x,), {})
    assert traced == export_steps(module.last, (x,), {}, opaque={id(module.last.fc)})
    assert traced == (["x"], ["x = fc(x)", "return x * 2"])
    assert "forward" not in vars(module.last.fc)
    with torch.no_grad():
        assert torch.equal(module.last.fc(x), torch.nn.functional.linear(
            x, module.last.fc.weight, module.last.fc.bias))


class _Pair(torch.nn.Module):
    """Hugging Face's layers in small: tensors and constants in, a tuple with a None out."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x, bias=None, scale=2.0):
        return (self.fc(x) * scale + bias, None, x.sum(-1))


class _Uses(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pair = _Pair()

    def forward(self, x):
        if x.shape[-1] > 1:  # (torch.fx cannot trace it)
            y, _, s = self.pair(x, bias=x, scale=3.0)
            return y + s[..., None]
        return x


def test_a_child_with_tensors_and_constants_in_and_a_tuple_out_is_one_op_too():
    from nnspec.importers.export_trace import export_steps
    from nnspec.importers.inputs import Input, record_calls

    module = _Uses().eval()
    calls = record_calls(module, {"x": Input((3, 4))})
    assert id(module.pair) in calls.tensor_out and id(module) in calls.tensor_out
    traced = export_steps(module, *calls[id(module)])
    assert traced == export_steps(module, *calls[id(module)], opaque=calls.tensor_out)
    assert traced == (["x"], ["x = pair(x, x, 3.0)", "return x[0] + x[2].unsqueeze(2)"])
    assert "forward" not in vars(module.pair)
