"""The fast check of nnspec.frontend.spec against the pydantic models it stands in for: the
same fields and defaults, the same data for every spec it passes, and never a pass for data
the models reject (those must reach the models, which report the errors)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT, spec_files

from nnspec.frontend import models, spec
from nnspec.frontend.extends import load_resolved

CORPUS = [*spec_files(), *sorted((ROOT / "tests").rglob("*.yaml"))]
# specs that between them use every mapping of the language, to mutate
MUTATED = ["specs/nin.yaml", "specs/gpt_mini.yaml", "specs/mobilenet_v2.yaml",
           "specs/resnet20_cifar.yaml", "specs/lstm_classifier.yaml"]
ODD_VALUES = [None, True, 0, 3, 2.5, 2**70, "x", "unknown", "float32", [], [1, 2, 3], {},
              {"frob": 1}]


def by_models(data: Any) -> spec.SpecData | None:
    """What the models make of `data`, as data classes; None when they reject it."""
    try:
        return models.as_data(models.SpecFile.model_validate(data))
    except models.ValidationError:
        return None


def agrees(data: Any) -> bool:
    fast = spec.fast_check(copy.deepcopy(data))
    return fast is None or fast == by_models(data)


@pytest.mark.parametrize("name", sorted(spec.CLASSES))
def test_the_data_classes_have_the_models_fields_and_defaults(name):
    model = getattr(models, name)
    fields = spec.CLASSES[name].FIELDS
    assert list(fields) == list(model.model_fields)
    for field, info in model.model_fields.items():
        if info.is_required():
            assert fields[field] is spec.REQUIRED, field
        else:
            assert fields[field] == info.get_default(call_default_factory=True), field


def test_every_spec_and_test_spec_gets_the_same_data_either_way():
    passed = 0
    for path in CORPUS:
        try:
            data = load_resolved(path).data
        except Exception:  # noqa: BLE001 - unreadable on purpose: not this test's subject
            continue
        assert agrees(data), path
        passed += spec.fast_check(data) is not None
    assert passed >= len(spec_files())


@pytest.mark.parametrize("name", spec_files(), ids=lambda p: p.name)
def test_the_fast_check_passes_every_spec(name):
    assert spec.fast_check(load_resolved(name).data) is not None


def _paths(data: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, path + (i,))


def _replaced(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    out = copy.copy(data)
    out[path[0]] = _replaced(data[path[0]], path[1:], value)
    return out


def _with_key(data: Any, path: tuple, key: str, value: Any) -> Any:
    target = _replaced(data, path, dict(_get(data, path)))
    _get(target, path)[key] = value
    return target


def _get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


@pytest.mark.parametrize("name", MUTATED)
def test_no_mutation_passes_the_fast_check_that_the_models_reject(name):
    data = load_resolved(ROOT / name).data
    for path in _paths(data):
        for value in ODD_VALUES:
            assert agrees(_replaced(data, path, value)), (path, value)
        node = _get(data, path)
        if isinstance(node, dict):
            for key in ("frob", "if_", "else_", "as_", "extends"):
                assert agrees(_with_key(data, path, key, "x")), (path, key)
            for key in list(node):
                assert agrees(_replaced(data, path, {k: v for k, v in node.items()
                                                     if k != key})), (path, key)
