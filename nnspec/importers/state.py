"""A recorded state_dict layout beside a printed tree: the tensors a class holds itself.

A printed tree never shows parameters a class creates itself (ViT's `class_token`, its
encoder's `pos_embedding`). Given the state_dict's keys and shapes, every key that no rebuilt
layer produces, and whose owner is a printed class, becomes a tensor of that class. Keys are
checked against the layers too: a shape or a key that disagrees is reported, never patched.

The text format (as tests/golden/torchvision/*/state_dict.txt) is one key per line:
`key<TAB>shape, comma-separated (empty for a scalar)<TAB>dtype`. It does not say which keys are
parameters and which buffers: a floating key is taken as a parameter, any other as a buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnspec.catalog import LAYERS
from nnspec.catalog.values import FLOATING
from nnspec.diagnostics import Collector, Diagnostic, Pos, SpecError
from nnspec.frontend.validate import DType
from nnspec.importers.classify import Instance, Item, Layer, Seq, Use
from nnspec.importers.layers import Unprinted, built_state
from nnspec.language.names import identifier_problem

DTYPES = DType.__args__  # the dtypes a spec's tensors may have


@dataclass(frozen=True)
class Key:
    """One state_dict entry, where it was recorded; read from a live module, also whether it
    is a buffer, whether the state_dict holds it, and the init that recreates its values."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    pos: Pos
    kind: str = ""  # "parameter" or "buffer" when known; else told by the dtype
    persistent: bool = True
    init: Any = "zeros"  # an init function's spec value: the values, or zeros assumed

    @property
    def buffer(self) -> bool:
        return self.kind == "buffer" if self.kind else self.dtype not in FLOATING


def read_state_dict(path: str | Path) -> list[Key]:
    """The keys of a state_dict file: the text format, or a `.pt` checkpoint (read with
    `weights_only=True`, so nothing in it runs)."""
    path = Path(path)
    if path.suffix in (".pt", ".pth"):
        return _read_checkpoint(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SpecError([Diagnostic("bad-state-dict", f"{path} is not UTF-8 text (byte "
                                    f"0x{raw[exc.start]:02x} at offset {exc.start:,}): give "
                                    "`key<TAB>shape<TAB>dtype` lines, or a .pt checkpoint",
                                    Pos(str(path), line, 1))]) from None
    keys, problems = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        pos = Pos(str(path), n, 1, max(1, len(line)))
        try:
            if len(parts) != 3 or not parts[0]:
                raise ValueError
            shape = tuple(int(d) for d in parts[1].split(",")) if parts[1] else ()
            if any(d < 0 for d in shape):
                raise ValueError
        except ValueError:
            problems.append(Diagnostic("bad-state-dict", "expected `key<TAB>shape<TAB>dtype`, "
                                       "the shape's dimensions separated by commas", pos))
            continue
        keys.append(Key(parts[0], shape, parts[2].strip().removeprefix("torch."), pos))
    if problems:
        raise SpecError(problems)
    return keys


def _read_checkpoint(path: Path) -> list[Key]:
    from nnspec.runtime.torchlib import torch

    try:
        data = torch.load(path, map_location="meta", weights_only=True)
    except Exception as exc:  # the file is the user's: whatever torch's loader refuses in it
        raise SpecError([Diagnostic("bad-state-dict", f"{path} cannot be read as a torch "
                                    f"checkpoint with weights_only=True: {_reason(exc)}",
                                    Pos(str(path), 1, 1), "give a file saved with "
                                    "torch.save(model.state_dict(), ...), or the text layout "
                                    "`key<TAB>shape<TAB>dtype`")]) from None
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise SpecError([Diagnostic("bad-state-dict", "not a state_dict: a mapping of names to "
                                    "tensors", Pos(str(path), 1, 1))])
    return [Key(k, tuple(v.shape), str(v.dtype).removeprefix("torch."), Pos(str(path), 1, 1))
            for k, v in data.items()]


def _reason(exc: Exception) -> str:
    """torch.load's refusal in one line: the unpickler's own reason where it gives one (not
    its advice to load with weights_only=False, which would run the file's code)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        detail = lines[1] if len(lines) > 1 else lines[0]
        detail = detail.removeprefix("WeightsUnpickler error:").strip()
        return (f"it holds objects other than tensors, which are refused, not run: "
                f"{detail}")[:300]
    first = lines[0].split(". ")[0] if lines else ""
    return (f"{type(exc).__name__}: {first}" if len(first) < 40 else first)[:300]


def assign_own(root: Instance, keys: list[Key], errors: Collector) -> None:
    """Check the keys against the rebuilt layers; set `own` on each instance that holds keys
    no layer produces."""
    layers: dict[str, tuple[Layer, dict[str, tuple[int, ...]] | None]] = {}
    owners: dict[str, Instance | Seq] = {}
    _walk(root, "", layers, owners)
    recorded = {k.name: k for k in keys}
    own: dict[int, list[tuple[str, Key]]] = {}  # id(instance) -> (path, key)
    for key in keys:
        path, name = _layer_of(key.name, layers)
        if path in layers:
            layer, state = layers[path]
            if state is None or name in state:
                if state is not None and state[name] != key.shape:
                    errors.error("state-mismatch", f"the state_dict gives '{key.name}' the shape "
                                 f"{list(key.shape)} ({_where(key)}); this layer has "
                                 f"{list(state[name])}", layer.node.pos)
            else:
                errors.error("state-mismatch", f"the state_dict has '{key.name}' "
                             f"({_where(key)}), which this layer does not have", layer.node.pos)
            continue
        owner = owners.get(path)
        if not isinstance(owner, Instance):
            what = "a Sequential" if owner is not None else "not a printed module"
            errors.error("state-mismatch", f"no printed class holds '{key.name}': '{path}' is "
                         f"{what}", key.pos)
            continue
        if key.dtype not in DTYPES:
            errors.error("state-mismatch", f"'{key.name}' has dtype {key.dtype}, which a spec's "
                         f"tensors cannot have ({', '.join(DTYPES)})", key.pos)
            continue
        own.setdefault(id(owner), []).append((path, key))
    for path, (layer, state) in layers.items():
        for name in state or ():
            full = f"{path}.{name}" if path else name
            if full not in recorded:
                errors.error("state-mismatch", f"the state_dict has no '{full}', which this "
                             "layer has", layer.node.pos)
    _set_own(root, own, errors, set())


def _layer_of(key: str, layers: dict) -> tuple[str, str]:
    """(module path, name below it): the layer's path when a layer holds the key (as
    `attn.out_proj.weight` is MultiheadAttention's), else the key's parent path."""
    parts = key.split(".")
    for n in range(len(parts) - 1, 0, -1):
        path = ".".join(parts[:n])
        if path in layers:
            return path, ".".join(parts[n:])
    path, _, name = key.rpartition(".")
    return path, name


def _set_own(inst: Instance, own: dict[int, list[tuple[str, Key]]], errors: Collector,
             seen: set[int]) -> None:
    """Each instance's own keys; an instance printed once for several paths (a collapsed
    repeat) must hold the same ones at each."""
    for instance in _instances(inst, seen):
        by_path: dict[str, list[Key]] = {}
        for path, key in own.get(id(instance), []):
            by_path.setdefault(path, []).append(key)
        layouts = {tuple((k.name.rpartition(".")[2], k.shape, k.dtype) for k in group)
                   for group in by_path.values()}
        if len(layouts) > 1:
            errors.error("state-mismatch", f"the copies of this collapsed '{instance.cls}' hold "
                         "different tensors themselves in the state_dict", instance.node.pos)
            continue
        instance.own = [(k.name.rpartition(".")[2], k) for k in next(iter(by_path.values()),
                                                                     [])]
        if instance.own and instance.numbered:
            errors.error("not-rebuildable", f"'{instance.cls}' holds '{instance.own[0][0]}' "
                         f"itself ({_where(instance.own[0][1])}), but has numbered children; a "
                         "Sequential or ModuleList block cannot hold tensors", instance.node.pos)


def _instances(inst: Instance, seen: set[int]):
    if id(inst) in seen:
        return
    seen.add(id(inst))
    yield inst
    for item in _items(inst.items):
        if isinstance(item, Use):
            yield from _instances(item.instance, seen)


def _items(items: list[tuple[str, Item]]):
    for _, item in items:
        yield item
        if isinstance(item, Seq):
            yield from _items(item.items)


def _walk(item: Item | Instance, path: str, layers: dict, owners: dict) -> None:
    if isinstance(item, Use):
        item = item.instance
    if isinstance(item, Layer):
        layers[path] = (item, layer_state(item))
        return
    owners[path] = item
    for key, child in item.items:
        _walk(child, f"{path}.{key}" if path else key, layers, owners)


def layer_state(layer: Layer) -> dict[str, tuple[int, ...]] | None:
    """The state_dict shapes of a rebuilt layer (torch's own, built on the meta device; else
    the catalog's layout); None when neither can tell."""
    call = layer.call
    args = {k: v.placeholder if isinstance(v, Unprinted) else v for k, v in call.full.items()}
    built = built_state(LAYERS[call.target], args)
    if built is not None:
        return built
    state = LAYERS[call.target].state
    return {k: tuple(shape) for k, (shape, _) in state(args).items()} if state else None


def _where(key: Key) -> str:
    return f"{key.pos.file} line {key.pos.line}"


def assign_live(instances: dict[str, list[Instance]], live: dict[int, Any],
                errors: Collector) -> None:
    """Set `own` on each instance from the module it was printed from: its parameters, then its
    buffers, as its state_dict lists them. Parameters and persistent buffers come back with the
    state_dict (`init` is what recreates them when it can tell, else zeros); a non-persistent
    buffer is not in the state_dict, so an init must recreate its values exactly, or the class
    is refused."""
    for group in instances.values():
        for inst in group:
            module = live.get(id(inst.node))
            if module is None:
                continue
            own = []
            for name, tensor, kind in [*((n, t, "parameter") for n, t in
                                         module._parameters.items()),
                                       *((n, t, "buffer") for n, t in module._buffers.items())]:
                if tensor is None:
                    continue
                key = _live_key(inst, name, tensor, kind, module, errors)
                if key is not None:
                    own.append((name, key))
            inst.own = own
            if own and (inst.numbered or inst.sequential):
                errors.error("not-rebuildable", f"'{inst.cls}' holds '{own[0][0]}' itself, but "
                             "has numbered children; a Sequential or ModuleList block cannot "
                             "hold tensors", inst.node.pos)


def _live_key(inst: Instance, name: str, tensor: Any, kind: str, module: Any,
              errors: Collector) -> Key | None:
    """One tensor a module holds itself, or None (reported) when a spec cannot hold it."""
    where = f"'{inst.cls}.{name}'"
    dtype = str(tensor.dtype).removeprefix("torch.")
    persistent = name not in module._non_persistent_buffers_set
    problem = identifier_problem(name)
    init = recreating_init(tensor)
    if init is None and kind == "buffer" and not persistent:
        init = computed_arange(tensor) or computed_inv_freq(tensor)
    if problem:
        errors.error("not-rebuildable", f"{where} cannot be named in a spec: {problem}",
                     inst.node.pos)
    elif dtype not in DTYPES:
        errors.error("not-rebuildable", f"{where} has dtype {dtype}, which a spec's tensors "
                     f"cannot have ({', '.join(DTYPES)})", inst.node.pos)
    elif kind == "buffer" and not persistent and init is None:
        errors.error("not-rebuildable", f"{where} is a non-persistent buffer (not in the "
                     f"state_dict) of shape {list(tensor.shape)}, and its values are not "
                     "zeros, ones, one constant or a lower triangle of ones, the inits a spec "
                     "can recreate them with", inst.node.pos,
                     "make it persistent (register_buffer(..., persistent=True)) so that the "
                     "state_dict carries it")
    elif kind == "parameter" and not tensor.requires_grad:
        errors.error("not-rebuildable", f"{where} is a parameter with requires_grad=False, "
                     "which a spec's parameters cannot be", inst.node.pos,
                     "register it as a buffer")
    else:
        return Key(name, tuple(tensor.shape), dtype, inst.node.pos, kind, persistent,
                   init or "zeros")
    return None


def recreating_init(tensor: Any) -> Any:
    """The spec init that recreates these values exactly (zeros, ones, one constant, a lower
    triangle of ones), or None."""
    from nnspec.runtime.torchlib import torch

    t = tensor.detach()
    if t.is_meta:
        return None
    if t.numel() == 0 or not bool(t.any()):
        return "zeros"
    if t.dtype == torch.bool:
        return "ones" if bool(t.all()) else _tril(t, torch)
    if bool((t == 1).all()):
        return "ones"
    first = t.flatten()[0]
    if bool((t == first).all()) and bool(torch.isfinite(first.double())):
        return {"constant": {"val": first.item()}}
    return _tril(t, torch)


def computed_arange(tensor: Any) -> dict | None:
    """A computed buffer's steps for int64 positions 0, 1, ... in any shape (BERT's
    `position_ids`, `torch.arange(n).expand((1, -1))`), or None."""
    from nnspec.runtime.torchlib import torch

    t = tensor.detach()
    if t.is_meta or t.dtype != torch.int64 or t.dim() == 0:
        return None
    if not torch.equal(t.flatten(), torch.arange(t.numel())):
        return None
    return {"compute": f"return torch.arange({t.numel()}).reshape({list(t.shape)})"}


def computed_inv_freq(tensor: Any) -> dict | None:
    """A computed buffer's steps for rotary embeddings' `inv_freq`, `1 / base ** (2i / dim)`
    for i below dim / 2, when those steps give these exact float32 values (the base read back
    from the values, to a whole number), or None."""
    from nnspec.runtime.torchlib import torch

    t = tensor.detach()
    if t.is_meta or t.dtype != torch.float32 or t.dim() != 1 or t.numel() < 2:
        return None
    dim = 2 * t.numel()
    if not 0 < float(t[1]) < 1 or float(t[0]) != 1.0:
        return None
    base = float(round(float(t[1]) ** (-dim / 2)))
    if not base > 1:
        return None
    values = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if not torch.equal(values, t):
        return None
    return {"compute": f"return 1.0 / ({base!r} ** (torch.arange(0, {dim}, 2, "
                       f"dtype=torch.int64).float() / {dim}))"}


def _tril(t: Any, torch: Any) -> str | None:
    if t.dim() >= 2 and torch.equal(t, torch.tril(torch.ones_like(t))):
        return "tril"
    return None
