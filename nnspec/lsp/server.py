"""The protocol layer: pygls handlers that call the plain functions of this package.

Checks run when a spec is opened and after each change, once the user pauses for
`DEBOUNCE_S`; a request (hover, hints, ...) on a spec with a check still pending runs it at
once, so answers always match the text. Diagnostics are published per file, and a file's list
joins what every check found in it (an open child spec reports into its `extends` parent).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from nnspec.frontend.document import Document
from nnspec.lsp.completion import complete
from nnspec.lsp.definition import definition
from nnspec.lsp.diagnostics import Problem, problems
from nnspec.lsp.hints import hints
from nnspec.lsp.hover import hover
from nnspec.lsp.symbols import Symbol, symbols
from nnspec.lsp.workspace import Check, Workspace

DEBOUNCE_S = 0.1  # a check starts this long after the last change (the window ends here)
IDLE_S = 5.0  # the collector runs (see workspace.Workspace.collect) after this long idle
VERSION = "0.1.0"

_SEVERITY = {"error": types.DiagnosticSeverity.Error,
             "warning": types.DiagnosticSeverity.Warning}
_COMPLETION_KIND = {"class": types.CompletionItemKind.Class,
                    "function": types.CompletionItemKind.Function,
                    "field": types.CompletionItemKind.Field,
                    "variable": types.CompletionItemKind.Variable,
                    "property": types.CompletionItemKind.Property,
                    "method": types.CompletionItemKind.Method,
                    "module": types.CompletionItemKind.Module}
_SYMBOL_KIND = {"class": types.SymbolKind.Class, "module": types.SymbolKind.Module,
                "field": types.SymbolKind.Field}


class SpecServer(LanguageServer):
    """The server and its state: the workspace of texts, the latest check of each open spec,
    the checks waiting for the debounce window, and what has been published where."""

    def __init__(self) -> None:
        super().__init__("nnspec", VERSION)
        self.specs = Workspace()
        self.checks: dict[str, Check] = {}  # uri -> its latest check
        self.versions: dict[str, int | None] = {}
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.published: dict[str, dict[str, list[Problem]]] = {}  # target -> source -> list
        self.idle: asyncio.TimerHandle | None = None
        self.readable: dict[str, Document] = {}  # uri -> its last text that could be read

    def schedule(self, uri: str, delay: float = DEBOUNCE_S) -> None:
        if uri in self.pending:
            self.pending.pop(uri).cancel()
        self.pending[uri] = asyncio.get_running_loop().call_later(delay, self.run_check, uri)

    def current(self, uri: str) -> Check | None:
        """The check of `uri` for its current text (running a pending one now)."""
        if uri in self.pending:
            self.pending.pop(uri).cancel()
            self.run_check(uri)
        return self.checks.get(uri)

    def run_check(self, uri: str) -> None:
        self.pending.pop(uri, None)
        path = to_fs_path(uri)
        if path is None:
            return
        check = self.specs.check(path)
        # the previous check is freed after publishing: its millions of objects take a while
        asyncio.get_running_loop().call_soon(_drop, self.checks.get(uri))
        self.checks[uri] = check
        if check.doc is not None:
            self.readable[uri] = check.doc
        if self.idle is not None:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(IDLE_S, self.specs.collect)
        found = {from_fs_path(target) or target: items
                 for target, items in problems(check).items()}
        for target in set(found) | {t for t, by in self.published.items() if uri in by}:
            self.published.setdefault(target, {})[uri] = found.get(target, [])
            self.publish(target)
        for other, seen in self.checks.items():  # open children of this spec
            if other != uri and seen.doc is not None and other not in self.pending and \
                    path in {os.path.abspath(f) for f in seen.doc.files[1:]}:
                self.schedule(other, 0)

    def forget(self, uri: str) -> None:
        if uri in self.pending:
            self.pending.pop(uri).cancel()
        self.checks.pop(uri, None)
        self.readable.pop(uri, None)
        for target, by in list(self.published.items()):
            if by.pop(uri, None) is not None:
                self.publish(target)

    def publish(self, target: str) -> None:
        lines = self.lines_of(target)
        items = [d for by in self.published.get(target, {}).values() for d in by]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=target, diagnostics=[self.diagnostic(p, lines) for p in items],
            version=self.versions.get(target)))

    def lines_of(self, uri: str) -> list[str]:
        check = self.checks.get(uri)
        if check is not None:
            return check.lines
        path = to_fs_path(uri) or ""
        text = self.specs.texts.get(os.path.abspath(path)) if path else None
        if text is None:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                text = ""
        return text.split("\n")

    def position(self, lines: Sequence[str], line: int, col: int) -> types.Position:
        """A 0-based (line, column in characters) in the client's units."""
        text = lines[line] if 0 <= line < len(lines) else ""
        return types.Position(line, self.workspace.position_codec.client_num_units(text[:col]))

    def column(self, check: Check, pos: types.Position) -> int:
        """The column in characters of a client's position."""
        text = check.line(pos.line)
        units = 0
        for i, ch in enumerate(text):
            if units >= pos.character:
                return i
            units += self.workspace.position_codec.client_num_units(ch)
        return len(text)

    def range(self, lines: Sequence[str], line: int, col: int, end_line: int,
              end_col: int) -> types.Range:
        return types.Range(self.position(lines, line, col),
                           self.position(lines, end_line, end_col))

    def diagnostic(self, p: Problem, lines: Sequence[str]) -> types.Diagnostic:
        related = None
        if p.related is not None:
            path, line, col = p.related
            uri = from_fs_path(path) or path
            target = self.lines_of(uri)
            related = [types.DiagnosticRelatedInformation(types.Location(
                uri, self.range(target, line, col, line, col + 1)), "the problem is here")]
        return types.Diagnostic(self.range(lines, p.line, p.col, p.line, p.end_col),
                                p.message, _SEVERITY[p.severity], p.code, source="nnspec",
                                related_information=related)

    def symbol(self, s: Symbol, lines: Sequence[str]) -> types.DocumentSymbol:
        end = len(lines[s.end_line]) if 0 <= s.end_line < len(lines) else s.end_col
        return types.DocumentSymbol(
            s.name, _SYMBOL_KIND[s.kind], self.range(lines, s.line, s.col, s.end_line, end),
            self.range(lines, s.line, s.col, s.line, s.end_col), detail=s.detail or None,
            children=[self.symbol(c, lines) for c in s.children])


def _drop(check: Check | None) -> None:
    """Nothing: the check passed in is freed when this call lets go of it."""


server = SpecServer()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: SpecServer, params: types.DidOpenTextDocumentParams) -> None:
    doc = params.text_document
    _store(ls, doc.uri, doc.text, doc.version)
    ls.run_check(doc.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: SpecServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    text = ls.workspace.get_text_document(uri).source
    _store(ls, uri, text, params.text_document.version)
    ls.schedule(uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: SpecServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: SpecServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    path = to_fs_path(uri)
    if path:
        ls.specs.close(path)
    ls.versions.pop(uri, None)
    ls.forget(uri)


def _store(ls: SpecServer, uri: str, text: str, version: int | None) -> None:
    path = to_fs_path(uri)
    if path:
        ls.specs.open(path, text)
    ls.versions[uri] = version


@server.feature(types.TEXT_DOCUMENT_HOVER)
def on_hover(ls: SpecServer, params: types.HoverParams) -> types.Hover | None:
    check = ls.current(params.text_document.uri)
    if check is None:
        return None
    text = hover(check, params.position.line, ls.column(check, params.position))
    if text is None:
        return None
    return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text))


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT,
                types.InlayHintOptions(resolve_provider=False))
def on_inlay_hint(ls: SpecServer, params: types.InlayHintParams) -> list[types.InlayHint]:
    check = ls.current(params.text_document.uri)
    if check is None:
        return []
    lines = check.lines
    return [types.InlayHint(ls.position(lines, h.line, h.col), h.label,
                            kind=types.InlayHintKind.Type)
            for h in hints(check, params.range.start.line, params.range.end.line)]


@server.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=["(", ",", ".", " "]))
def on_completion(ls: SpecServer, params: types.CompletionParams) -> types.CompletionList:
    uri = params.text_document.uri
    check = ls.current(uri)
    if check is not None and check.doc is None and uri in ls.readable:
        # a line being typed that YAML cannot read yet: names from the last text it could
        check = Check(check.path, check.text, ls.readable[uri], None, [])
    items = [] if check is None else complete(check, params.position.line,
                                              ls.column(check, params.position))
    return types.CompletionList(False, [
        types.CompletionItem(i.label, kind=_COMPLETION_KIND[i.kind], detail=i.detail or None,
                             insert_text=i.insert) for i in items])


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def on_definition(ls: SpecServer, params: types.DefinitionParams) -> types.Location | None:
    check = ls.current(params.text_document.uri)
    if check is None:
        return None
    found = definition(check, params.position.line, ls.column(check, params.position))
    if found is None:
        return None
    uri = from_fs_path(found.path) or found.path
    lines = ls.lines_of(uri)
    return types.Location(uri, ls.range(lines, found.line, found.col, found.line,
                                        found.end_col))


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def on_symbols(ls: SpecServer, params: types.DocumentSymbolParams
               ) -> list[types.DocumentSymbol]:
    check = ls.current(params.text_document.uri)
    if check is None:
        return []
    return [ls.symbol(s, check.lines) for s in symbols(check)]


def main() -> None:
    """Serve over stdin and stdout until the client says exit. pygls closes the streams it
    is given when it stops, so it gets duplicates: the process's own stay open for the CLI."""
    server.start_io(os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb"))
