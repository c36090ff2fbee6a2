"""`extends`: a spec laid over the chain of parent specs it names, merged key by key.

Mappings merge recursively and `null` deletes a key; every value keeps the position of the file
it came from, and each parent file remembers which `extends` pulled it in (for notes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnspec.diagnostics import Diagnostic, SpecError, extends_notes
from nnspec.frontend.document import Document, PathKey
from nnspec.frontend.reader import read_document


def load_resolved(path: str | Path, _chain: tuple[str, ...] = ()) -> Document:
    """Read a spec and merge the chain of `extends` parents beneath it."""
    doc = read_document(path)
    parent_ref = doc.data.get("extends") if isinstance(doc.data, dict) else None
    if parent_ref is None:
        return doc
    ref_pos = doc.where(("extends",))
    if not isinstance(parent_ref, str):
        raise SpecError([Diagnostic("wrong-type", "'extends' takes a path to a parent spec",
                                    ref_pos)])
    parent_path = (Path(path).parent / parent_ref)
    key = str(parent_path.resolve())
    chain = _chain + (str(Path(path).resolve()),)
    if key in chain:
        names = " -> ".join(Path(p).name for p in chain + (key,))
        raise SpecError([Diagnostic("extends-cycle", f"'extends' forms a cycle: {names}",
                                    ref_pos)])
    if not parent_path.is_file():
        raise SpecError([Diagnostic("extends-missing", f"parent spec '{parent_ref}' not found",
                                    ref_pos, f"looked for {parent_path}")])
    parent_name = _display_path(parent_path)
    try:
        parent = load_resolved(parent_name, chain)
    except SpecError as exc:
        note = extends_notes(parent_name, {parent_name: ref_pos})
        raise SpecError([Diagnostic(d.code, d.message, d.pos, d.hint, d.severity,
                                    d.notes + note) for d in exc.diagnostics])
    merged = Document(None, files=doc.files + parent.files,
                      origins={**doc.origins, **parent.origins, parent_name: ref_pos})
    merged.data = _merge(parent, doc, (), merged)
    merged.data.pop("extends", None)
    return merged


def _display_path(path: Path) -> str:
    """A path relative to the working directory where possible, as users typed it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _merge(base: Document, over: Document, path: PathKey, out: Document) -> Any:
    """Recursively lay `over` on `base`: mappings merge key by key, `null` deletes a key."""
    b, o = _get(base.data, path), _get(over.data, path)
    if not (isinstance(b, dict) and isinstance(o, dict)):
        return _copy(over, path, out)
    for table, target in ((over.pos, out.pos), (over.keypos, out.keypos)):
        if path in table:
            target[path] = table[path]
    result: dict[str, Any] = {}
    for key in list(b) + [k for k in o if k not in b]:
        sub = path + (key,)
        if key not in o:
            result[key] = _copy(base, sub, out)
        elif o[key] is not None:
            result[key] = _merge(base, over, sub, out) if key in b else _copy(over, sub, out)
    return result


def _get(data: Any, path: PathKey) -> Any:
    for key in path:
        data = data[key]
    return data


def _copy(doc: Document, path: PathKey, out: Document) -> Any:
    """The subtree at `path`, with every position beneath it."""
    n = len(path)
    for table, target in ((doc.pos, out.pos), (doc.keypos, out.keypos)):
        target.update((key, value) for key, value in table.items() if key[:n] == path)
    return _get(doc.data, path)
