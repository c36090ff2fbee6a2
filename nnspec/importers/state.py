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

from nnspec.catalog import LAYERS
from nnspec.catalog.values import FLOATING
from nnspec.diagnostics import Collector, Diagnostic, Pos, SpecError
from nnspec.frontend.validate import DType
from nnspec.importers.classify import Instance, Item, Layer, Seq, Use
from nnspec.importers.layers import Unprinted, built_state

DTYPES = DType.__args__  # the dtypes a spec's tensors may have


@dataclass(frozen=True)
class Key:
    """One state_dict entry, where it was recorded."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    pos: Pos

    @property
    def buffer(self) -> bool:
        return self.dtype not in FLOATING


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
