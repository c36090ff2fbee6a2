"""`nnspec lsp` end to end: a real LSP client (pytest-lsp) talks to the server over stdio.

One server serves the whole module; each test opens its own documents. Fixtures are in
tests/lsp_specs/: a valid spec, one with errors, one with a warning, and two `extends` pairs
(one whose parent is broken).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from nnspec.lsp.diagnostics import problems
from nnspec.lsp.hints import hints
from nnspec.lsp.workspace import Workspace

pytest_lsp = pytest.importorskip("pytest_lsp")
from lsprotocol import types  # noqa: E402 - after the skip above
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

SPECS = Path(__file__).parent / "lsp_specs"
ROOT = Path(__file__).resolve().parent.parent


def uri(name: str) -> str:
    return (SPECS / name).resolve().as_uri()


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "nnspec", "lsp"]))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=SPECS.resolve().as_uri()))
    yield
    await lsp_client.shutdown_session()


async def diagnostics_for(client: LanguageClient, target: str,
                          timeout: float = 20.0) -> list[types.Diagnostic]:
    """The next diagnostics published for `target`."""
    async def wait() -> list[types.Diagnostic]:
        while True:
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
            if target in client.diagnostics:
                return list(client.diagnostics.pop(target))
    if target in client.diagnostics:
        return list(client.diagnostics.pop(target))
    return await asyncio.wait_for(wait(), timeout)


def open_doc(client: LanguageClient, name: str, text: str | None = None) -> str:
    text = (SPECS / name).read_text() if text is None else text
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri(name), "yaml", 1, text)))
    return uri(name)


def close_doc(client: LanguageClient, name: str) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        types.TextDocumentIdentifier(uri(name))))


def at(line: int, character: int) -> types.Position:
    return types.Position(line, character)


def span(d: types.Diagnostic) -> tuple[int, int, int]:
    return d.range.start.line, d.range.start.character, d.range.end.character


@pytest.mark.asyncio(loop_scope="module")
async def test_every_error_at_once_with_ranges_codes_and_hints(client: LanguageClient):
    target = open_doc(client, "bad.yaml")
    found = sorted(await diagnostics_for(client, target), key=span)
    close_doc(client, "bad.yaml")
    assert [(span(d), d.code, d.severity) for d in found] == [
        ((7, 9, 13), "unknown-layer", types.DiagnosticSeverity.Error),
        ((8, 18, 23), "unknown-argument", types.DiagnosticSeverity.Error),
        ((11, 13, 16), "unknown-op", types.DiagnosticSeverity.Error),
    ]
    assert found[0].message == "unknown layer or block 'ReLu'\nhint: did you mean 'ReLU'?"
    assert found[1].message.endswith("hint: arguments: p, inplace")
    assert all(d.source == "nnspec" for d in found)


@pytest.mark.asyncio(loop_scope="module")
async def test_warnings_are_warnings(client: LanguageClient):
    target = open_doc(client, "warn.yaml")
    found = await diagnostics_for(client, target)
    close_doc(client, "warn.yaml")
    assert [(span(d), d.code, d.severity) for d in found] == [
        ((7, 4, 9), "unused-child", types.DiagnosticSeverity.Warning)]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_change_is_checked_and_a_fix_clears_the_error(client: LanguageClient):
    text = (SPECS / "good.yaml").read_text()
    target = open_doc(client, "good.yaml", text)
    assert await diagnostics_for(client, target) == []
    broken = text.replace("head: Linear(64 * 16 * 16, 10)", "head: Linear(64, 10)")
    for version, new in ((2, broken), (3, text)):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version=version, uri=target),
            [types.TextDocumentContentChangeWholeDocument(new)]))
        found = await diagnostics_for(client, target)
        if new is broken:
            assert [(span(d), d.code) for d in found] == [((28, 17, 19), "shape-mismatch")]
            assert "pass in_features=16384" in found[0].message
        else:
            assert found == []
    close_doc(client, "good.yaml")


@pytest.mark.asyncio(loop_scope="module")
async def test_an_error_in_a_parent_shows_on_the_extends_line_and_in_the_parent(
        client: LanguageClient):
    child = open_doc(client, "broken_child.yaml")
    here = await diagnostics_for(client, child)
    parent = await diagnostics_for(client, uri("broken_base.yaml"))
    close_doc(client, "broken_child.yaml")
    assert [(span(d), d.code) for d in here] == [((1, 9, 25), "shape-mismatch")]
    assert here[0].message.startswith("in parent spec 'broken_base.yaml' (line 10): Linear() "
                                      "expects in_features=16, but its input [1, 64]")
    where = here[0].related_information[0].location
    assert (where.uri, where.range.start.line) == (uri("broken_base.yaml"), 9)
    assert [(span(d), d.code) for d in parent] == [((9, 16, 18), "shape-mismatch")]


async def hover_text(client: LanguageClient, name: str, line: int, col: int) -> str:
    result = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri(name)), at(line, col)))
    return result.contents.value if result else ""


@pytest.mark.asyncio(loop_scope="module")
async def test_hover(client: LanguageClient):
    open_doc(client, "good.yaml")
    head = await hover_text(client, "good.yaml", 28, 12)  # head: Linear(64 * 16 * 16, 10)
    block = await hover_text(client, "good.yaml", 25, 10)  # - ConvBN(3, width)
    layer = await hover_text(client, "good.yaml", 27, 10)  # - MaxPool2d(2)
    param = await hover_text(client, "good.yaml", 25, 19)  # the root parameter width
    shared = await hover_text(client, "good.yaml", 12, 6)  # conv: in the block ConvBN
    close_doc(client, "good.yaml")
    assert head.startswith("**head** (Linear): output [1, 10]; params 163,850 (164K); "
                           "MACs 163,840 (164K)")
    assert "nn.Linear(in_features, out_features, bias=True)" in head
    assert "**features.0** (ConvBN): output [1, 16, 32, 32]" in block
    assert "class ConvBN(cin: int, cout: int, k=3)\n```\n\nConv, BatchNorm and ReLU." in block
    assert "nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, " \
        "return_indices=False, ceil_mode=False)" in layer
    assert param == "```python\nwidth = 16\n```\nroot parameter of `Net`\n\n" \
        "used on line 26, line 27"
    assert "**features.0.conv** (Conv2d): output [1, 16, 32, 32]; params 448" in shared
    assert "**features.1.conv** (Conv2d): output [1, 64, 32, 32]; params 9,280" in shared


@pytest.mark.asyncio(loop_scope="module")
async def test_inlay_hints_show_each_childs_output_shape(client: LanguageClient):
    open_doc(client, "good.yaml")
    result = await client.text_document_inlay_hint_async(types.InlayHintParams(
        types.TextDocumentIdentifier(uri("good.yaml")), types.Range(at(0, 0), at(40, 0))))
    close_doc(client, "good.yaml")
    lines = (SPECS / "good.yaml").read_text().split("\n")
    shown = {h.position.line: h.label for h in result}
    assert all(h.position.character == len(lines[h.position.line]) for h in result)
    assert shown == {
        12: " → [1, 16, 32, 32] | [1, 64, 32, 32]",  # the block's conv, in both uses
        13: " → [1, 16, 32, 32] | [1, 64, 32, 32]",
        14: " → [1, 16, 32, 32] | [1, 64, 32, 32]",
        24: " → [1, 64, 16, 16]",  # features: the Sequential
        25: " → [1, 16, 32, 32]",
        26: " → [1, 64, 32, 32]",
        27: " → [1, 64, 16, 16]",
        28: " → [1, 10]",
    }


async def completions(client: LanguageClient, name: str, line: int, col: int
                      ) -> dict[str, str | None]:
    result = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri(name)), at(line, col)))
    return {item.label: item.detail for item in result.items}


@pytest.mark.asyncio(loop_scope="module")
async def test_completion(client: LanguageClient):
    text = (SPECS / "good.yaml").read_text()
    text = text.replace("    head: Linear(64 * 16 * 16, 10)", "    head: Li\n    pool: Conv2d(3, ")
    text = text.replace("    - x = torch.flatten(x, 1)", "    - x = torch.")
    open_doc(client, "typing.yaml", text)
    names = await completions(client, "typing.yaml", 28, 12)  # head: Li|
    args = await completions(client, "typing.yaml", 29, 20)  # Conv2d(3, |
    block_args = await completions(client, "typing.yaml", 12, 30)  # inside Conv2d( in ConvBN
    ops = await completions(client, "typing.yaml", 32, 16)  # torch.|
    steps = await completions(client, "typing.yaml", 31, 10)  # - x = |
    close_doc(client, "typing.yaml")
    assert names["Linear"] == "nn.Linear(in_features, out_features, bias=True)"
    assert names["ConvBN"] == "block ConvBN(cin: int, cout: int, k=3)"
    assert args["stride="] == "default 1" and args["in_channels="] == "required"
    assert args["padding_mode="] == "default 'zeros'"
    assert block_args["cin"] == "cin: int" and block_args["k"] == "k=3"
    assert {"flatten", "cat", "matmul"} <= set(ops)
    assert {"features", "head", "width", "x", "torch", "F"} <= set(steps)


@pytest.mark.asyncio(loop_scope="module")
async def test_completion_on_text_yaml_cannot_read_yet_uses_the_last_readable(
        client: LanguageClient):
    text = (SPECS / "good.yaml").read_text()
    target = open_doc(client, "unreadable.yaml", text)
    assert await diagnostics_for(client, target) == []
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version=2, uri=target),
        [types.TextDocumentContentChangeWholeDocument(text.replace("[3, 32, 32]",
                                                                   "[3, 32, 32"))]))
    names = await completions(client, "unreadable.yaml", 28, 10)  # head: |
    found = await diagnostics_for(client, target)
    close_doc(client, "unreadable.yaml")
    assert [d.code for d in found] == ["yaml-syntax"]
    assert names["ConvBN"] == "block ConvBN(cin: int, cout: int, k=3)" and "Linear" in names


async def definition_of(client: LanguageClient, name: str, line: int, col: int
                        ) -> tuple[str, int, int]:
    result = await client.text_document_definition_async(types.DefinitionParams(
        types.TextDocumentIdentifier(uri(name)), at(line, col)))
    return result.uri, result.range.start.line, result.range.start.character


@pytest.mark.asyncio(loop_scope="module")
async def test_go_to_definition_within_a_spec_and_across_extends(client: LanguageClient):
    open_doc(client, "good.yaml")
    here = await definition_of(client, "good.yaml", 25, 10)  # - ConvBN(3, width)
    close_doc(client, "good.yaml")
    child = open_doc(client, "child.yaml")
    assert await diagnostics_for(client, child) == []
    block = await definition_of(client, "child.yaml", 6, 13)  # extra: MLP(8, hidden)
    parent = await definition_of(client, "child.yaml", 1, 12)  # extends: base.yaml
    close_doc(client, "child.yaml")
    assert here == (uri("good.yaml"), 5, 2)
    assert block == (uri("base.yaml"), 5, 2)
    assert parent == (uri("base.yaml"), 0, 0)


@pytest.mark.asyncio(loop_scope="module")
async def test_document_symbols_are_the_block_and_module_tree(client: LanguageClient):
    open_doc(client, "good.yaml")
    result = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        types.TextDocumentIdentifier(uri("good.yaml"))))
    close_doc(client, "good.yaml")

    def tree(symbols) -> list:
        return [(s.name, s.selection_range.start.line, tree(s.children or [])) for s in symbols]

    assert tree(result) == [
        ("ConvBN", 5, [("conv", 12, []), ("bn", 13, []), ("relu", 14, [])]),
        ("Net", 19, [("features", 24, [("0", 25, []), ("1", 26, []), ("2", 27, [])]),
                     ("head", 28, [])]),
    ]
    assert result[0].range.end.line == 17  # the block spans its forward


def test_without_the_extra_the_verb_says_how_to_install_it():
    blocked = ("import sys; sys.modules['pygls'] = None; from nnspec.cli.main import main; "
               "sys.exit(main(['lsp']))")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "pip install 'nnspec[lsp]'" in done.stderr


def test_the_server_checks_specs_without_torch():
    """Run in a process where importing torch fails: the server's modules, a check, hints."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from nnspec.lsp import server\n"
            "from nnspec.lsp.hints import hints\n"
            "check = server.server.specs.check(sys.argv[1])\n"
            "print(check.diagnostics, [h.label for h in hints(check)][-1])\n")
    done = subprocess.run([sys.executable, "-c", code, str(SPECS / "good.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]  → [1, 10]"


def test_a_workspace_that_reuses_its_checks_answers_as_a_fresh_one():
    """Edits checked one after another (parents, bound calls and collector state reused) give
    the diagnostics and hints of each text checked from scratch."""
    text = (SPECS / "good.yaml").read_text()
    edits = [text, text.replace("width: 16", "width: 8"),
             text.replace("head: Linear(64 * 16 * 16, 10)", "head: Linear(64, 10)"),
             text.replace("k: 3", "k: 5"), text]
    path = str(SPECS / "good.yaml")
    reused = Workspace()
    seen = []
    for edited in edits:
        again, fresh = reused.check(path, edited), Workspace().check(path, edited)
        assert problems(again) == problems(fresh)
        assert hints(again) == hints(fresh)
        seen.append((len(problems(again)[path]), hints(again)[-1].label if hints(again) else ""))
    assert seen == [(0, " → [1, 10]"), (0, " → [1, 10]"), (1, ""), (0, " → [1, 10]"),
                    (0, " → [1, 10]")]
    child = str(SPECS / "broken_child.yaml")
    first, second = reused.check(child), reused.check(child)
    assert problems(first) == problems(second) and len(problems(first)) == 2
