"""Per-spec state shared by the elaboration passes: the document, the diagnostics, the
user layers, and parsing of expressions at a spec path."""

from __future__ import annotations

from collections.abc import Sequence

from nnspec.diagnostics import Collector, Pos
from nnspec.elaborate import user_layers as extend
from nnspec.frontend.document import Document, PathKey
from nnspec.frontend.validate import SpecFile
from nnspec.language.expr import Expr, ExprError, check, parse
from nnspec.language.names import identifier_problem


def name_ok(name: str, what: str, pos: Pos, errors: Collector) -> bool:
    problem = identifier_problem(name)
    if problem:
        errors.error("bad-name", f"invalid {what}: {problem}", pos)
    return problem is None

class Context:
    """Per-spec state shared while building the classes."""

    def __init__(self, doc: Document, spec: SpecFile, errors: Collector,
                 allow_import: Sequence[str] = ()):
        self.doc, self.spec, self.errors = doc, spec, errors
        self.blocks = set(spec.blocks)
        taken = {spec.model.name: "the model"} | {b: f"block '{b}'" for b in spec.blocks}
        # call name -> 'module:Class', and the names whose entry failed (already reported)
        self.user_layers, self.broken_layers = extend.resolve(spec.layers, doc, errors,
                                                              allow_import, taken)
        # names the generated module binds at top level for this spec: the classes it defines
        # and the user layers it imports; a parameter or loop variable of such a name would
        # shadow the class in the constructor that builds it
        self.module_names = set(taken) | set(self.user_layers)
        self.tainted: set[str] = set()  # classes whose parameters are in error: not built
        self.class_args: dict[str, Pos] = {}  # classes layer calls take as arguments, by path
        self.unused_children: list[tuple[str, str, Pos]] = []  # (class, child, position)
        self.input_reads: set[str] = set()  # root parameters read by input sizes and ranges

    def local_name_ok(self, name: str, what: str, pos: Pos) -> bool:
        """`name_ok` for a constructor's local name (a parameter or loop variable): also not the
        name of a class or user layer the generated module defines or imports."""
        if not name_ok(name, what, pos, self.errors):
            return False
        if name in self.module_names:
            self.errors.error("name-clash", f"invalid {what}: '{name}' is the name of a block, "
                              "the model or a user layer, which it would hide in generated code",
                              pos, "choose another name")
            return False
        return True

    def where(self, path: PathKey, key: bool = False) -> Pos:
        return self.doc.where(path, key)

    def parser(self, names: set[str]):
        """Parses an expression over `names` (a class's parameters), at a spec path."""
        return lambda text, path: self.expr(text, path, names)

    def expr(self, text: str, path: PathKey, names: set[str]) -> Expr | None:
        pos = self.where(path)
        try:
            node = parse(text)
            check(node, names)
        except ExprError as err:
            self.errors.error(err.code, err.message, pos.shifted(err.offset, err.length),
                              err.hint)
            return None
        return Expr(node, pos)
