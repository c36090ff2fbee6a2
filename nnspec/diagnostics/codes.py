"""The registry of diagnostic codes: every code nnspec can emit, with what it means to a user.

A `Diagnostic` refuses a code missing here, so a new code must be added (and documented in
docs/diagnostics.md, whose *Diagnostic codes* table lists the same codes with the same
descriptions; tests/test_diagnostic_codes.py checks both, and that no code here is dead).
"""

from __future__ import annotations

# code -> one line saying what it means, grouped by the stage that reports it
CODES: dict[str, str] = {
    # reading the file
    "io": "the spec file cannot be read, or does not exist",
    "encoding": "the spec file is not UTF-8 text",
    "empty": "the spec file is empty",
    "too-large": "over a size limit: the file's bytes, its YAML nodes after aliases and merges, "
                 "the model's modules, or a printed tree's bytes or modules",
    "too-deep": "the YAML, or a printed tree, nests deeper than the limit",
    "too-deep-modules": "the module tree the blocks build nests deeper than the limit",
    # YAML
    "yaml-syntax": "the file is not valid YAML, holds a control character, or holds more than "
                   "one document",
    "yaml-tab": "a tab character where YAML allows only spaces",
    "flow-split": "a value inside a YAML `[...]` or `{...}` was cut at a comma: quote it",
    "unsafe-tag": "a YAML tag that is not allowed (such as `!!python/object`)",
    "duplicate-key": "a mapping has the same key twice",
    "bad-key": "a mapping key is not a plain name",
    "bad-merge": "a YAML merge `<<` of something other than a mapping, or of a mapping into "
                 "itself",
    # the spec's structure
    "wrong-type": "a key, parameter or argument holds the wrong kind of value",
    "unknown-key": "a key the spec format does not have",
    "missing-key": "a required key is missing",
    "unsupported-version": "the `nnspec:` format version is not one this nnspec reads",
    "extends-missing": "the parent spec named by `extends` is not found",
    "extends-cycle": "specs `extends` each other in a cycle",
    "bad-extends": "`extends` names something that cannot be a parent spec: a directory, an "
                   "unreadable file, a symbolic link loop, a path with a NUL byte, a parent that "
                   "is not a mapping, or a chain over 64 specs long",
    "unknown-param": "a `--set` override names a parameter the model does not have",
    "bad-value": "a value of the right type that is not allowed, such as a layer argument the "
                 "layer refuses",
    "out-of-range": "a number or length out of range: an int of 2**63 or more, a list or string "
                    "too long, a zero slice step",
    # names
    "bad-name": "a name that cannot become a Python identifier (a keyword, a dunder, non-ASCII)",
    "name-clash": "two things share one name (a block and a layer, a child and a parameter)",
    "param-order": "a required parameter follows a parameter with a default",
    # expressions
    "syntax": "an expression is not valid expression syntax",
    "bad-expression": "an expression uses a call, operator or literal expressions do not allow",
    "too-complex": "an expression is too long or nests too deeply",
    "unknown-name": "an expression names something that is not a parameter, loop variable or "
                    "function",
    "type-error": "an operation gets a value of a type it cannot take (a string compared with a "
                  "number, an attribute of a non-tensor)",
    "index-error": "an expression indexes a list outside its length",
    "division-by-zero": "an expression divides by zero",
    # blocks, children and calls
    "unknown-layer": "a call names a layer or block that is not in the catalog, the spec or the "
                     "declared user layers",
    "bad-call": "a child is not a layer call, or a module is called with the wrong inputs",
    "unknown-argument": "a call passes an argument the layer, block or function does not have",
    "missing-argument": "a required argument or root parameter has no value",
    "duplicate-argument": "a call passes the same argument twice",
    "too-many-arguments": "a call passes more positional arguments than the layer or block takes",
    "bad-child": "a child entry combines `call`, `seq`, `do`, `if`, `else` and `repeat` wrongly",
    "block-cycle": "a block contains itself, directly or through other blocks",
    "unknown-child": "an init rule or tie names a child the module does not have",
    "bad-tensor": "a block that cannot read parameters or buffers declares some",
    # forward
    "bad-forward": "a forward step takes a form forwards do not allow",
    "missing-return": "a forward does not end with a `return`",
    "undefined-value": "a forward step reads a name no earlier step assigned",
    "unknown-op": "a forward calls or reads something that is not a child, a supported torch "
                  "function or a tensor method",
    "absent-child": "a forward calls a child that is left out (its `if` is false)",
    "bad-unpack": "a forward step unpacks a different number of values than it names",
    # shapes and dtypes
    "shape-mismatch": "tensor shapes do not fit the layer or op they are passed to",
    "dtype-mismatch": "a tensor's dtype is not one the layer or op takes",
    "bad-dim": "a dimension or index is out of range for a tensor's rank or size",
    "bad-op-argument": "an op gets arguments torch would refuse",
    "spatial-collapse": "an input is too small for a layer: an output size would be 0 or less",
    "cannot-infer": "an omitted layer argument cannot be inferred from the input shapes",
    "index-out-of-range": "a tensor's values can exceed the table it indexes (an Embedding's "
                          "num_embeddings)",
    "unsupported": "torch allows this, but static analysis cannot check it",
    # init rules and ties
    "bad-init": "an init rule is malformed",
    "unknown-init": "an init rule names an init function nnspec does not know",
    "bad-tie": "a weight tie names something that is not a parameter, ties a parameter to "
               "itself, or chains ties",
    # user layers
    "import-not-allowed": "a user layer comes from a package that is not allowed to be imported",
    "import-failed": "importing a user layer's package or class fails",
    "user-layer-failed": "a rule a user layer's package declares raises or returns a malformed "
                         "value",
    # budget and building
    "too-many-params": "the model would have more parameters than the budget allows",
    "out-of-memory": "the model would not fit in the memory available to allocate it",
    "build-failed": "building the model with torch fails",
    "forward-failed": "running the forward on the declared inputs fails in torch",
    # warnings (errors under --strict)
    "unused-block": "a block is never used",
    "unused-param": "a parameter is never read",
    "unused-child": "a child is never called by its module's explicit forward",
    # importers
    "bad-tree": "a printed module tree cannot be parsed",
    "bad-repr": "a layer's printed arguments cannot be read",
    "bad-state-dict": "a state_dict (or its key, shape and dtype listing) cannot be read",
    "state-mismatch": "the state_dict disagrees with the printed tree",
    "not-rebuildable": "a printed module cannot be written as a spec",
    "not-rebuilt": "the imported spec does not rebuild the original model exactly",
    "not-referenceable": "a class to be written as a layer reference cannot be: an argument is "
                         "not recovered or not writable, or the class rebuilt from its "
                         "arguments differs",
    "no-input": "the model's input shape cannot be told from the tree: pass `--input`",
    "bad-input": "the model does not take the given inputs",
    "user-code-failed": "`import module`: the user's code raised (importing their module, "
                        "calling the factory, printing the model)",
    "not-a-module": "`import module`: the factory returned something other than an nn.Module",
    "forward-untraceable": "`import module` (a warning): neither torch.fx nor torch.export "
                           "gives a class's forward as spec steps; it gets `forward: unknown`",
    # the command itself (JSON error reports only: text prints these without a code)
    "usage": "wrong usage of the command: an unknown option, a missing file, a malformed `--set` "
             "(exit 2)",
    "internal": "a defect in nnspec, not in the spec: please report it (exit 3)",
    "stale-output": "`--check`: the file differs from what nnspec would write now, or is missing",
}

# Codes that reach a Diagnostic only through a variable, never as a string literal at a call
# (tests/test_diagnostic_codes.py finds the literal ones by scanning the source). None today:
# `err.code` and friends carry codes first written as literals.
INDIRECT: frozenset[str] = frozenset()


def check(code: str) -> None:
    """Raise for a code not registered here: emitting one is a defect in nnspec."""
    if code not in CODES:
        raise ValueError(f"unregistered diagnostic code {code!r}: add it to "
                         "nnspec/diagnostics/codes.py and docs/diagnostics.md")
