"""`specs/llama.yaml` against Hugging Face's `LlamaForCausalLM`, through data recorded once from
transformers (tools/record_llama_golden.py; transformers never enters CI): the printed module
tree, the state_dict layout, a strict load of transformers' fixed-weight state_dict, and its
logits. Then the scale
figures: Llama-3-8B and 70B, summarised exactly without torch, and built on the meta device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from golden.fixed_weights import fixed_values

import nnspec
from nnspec.static.diff import layout

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "llama.yaml"
GOLDEN = ROOT / "tests" / "golden" / "reference" / "llama"

LLAMA_3_8B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                  num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                  max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5,
                  tie_word_embeddings=False)
LLAMA_3_70B = {**LLAMA_3_8B, "hidden_size": 8192, "intermediate_size": 28672,
               "num_hidden_layers": 80, "num_attention_heads": 64}


def recorded_layout(name: str = "state_dict.txt") -> list[tuple[str, tuple[int, ...], str]]:
    rows = [line.split("\t") for line in (GOLDEN / name).read_text().splitlines()]
    return [(key, tuple(int(d) for d in shape.split(",") if d), dtype)
            for key, shape, dtype in rows]


def ours_layout(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    return [(key, tuple(t.shape), str(t.dtype).removeprefix("torch."))
            for key, t in model.state_dict().items()]


@pytest.mark.parametrize("tied", [False, True])
def test_the_printed_tree_equals_transformers(tied):
    # ModuleList layers, one rotary_emb in LlamaModel (after norm), RMSNorm's settings
    model = nnspec.build(SPEC, tie_word_embeddings=tied)
    assert f"{model}\n" == (GOLDEN / "tree.txt").read_text(encoding="utf-8")
    assert type(model.model.layers) is torch.nn.ModuleList


@pytest.mark.parametrize(("tied", "golden"), [(False, "state_dict.txt"),
                                              (True, "state_dict_tied.txt")])
def test_state_dict_layout_equals_transformers(tied, golden):
    model = nnspec.build(SPEC, tie_word_embeddings=tied)
    assert ours_layout(model) == recorded_layout(golden)
    assert (model.lm_head.weight is model.model.embed_tokens.weight) is tied
    # the static pass (no torch) knows the same checkpoint layout
    static = layout(nnspec.load(SPEC, tie_word_embeddings=tied).analysis).keys
    assert list(static.items()) == [(key, shape) for key, shape, _ in recorded_layout(golden)]


def test_transformers_state_dict_loads_strictly_and_the_logits_agree():
    model = nnspec.build(SPEC).eval()
    # transformers' state_dict as recorded: fill_fixed_ values, entry k from its key and shape
    state = {key: fixed_values(key, shape, k).to(torch.float32)
             for k, (key, shape, _) in enumerate(recorded_layout())}
    model.load_state_dict(state, strict=True)
    recorded = torch.load(GOLDEN / "logits_fixed.pt")
    assert sorted(recorded) == [1, 7, 32]
    with torch.no_grad():
        for data in recorded.values():
            torch.testing.assert_close(model(data["input_ids"])[0], data["logits"],
                                       atol=1e-5, rtol=0)


@pytest.mark.parametrize(("config", "params"), [(LLAMA_3_8B, 8_030_261_248),
                                                (LLAMA_3_70B, 70_553_706_496)])
def test_llama_3_parameter_counts_are_exact_without_building(config, params):
    spec = nnspec.load(SPEC, **config)
    assert spec.analysis.modules[""].params == params


def sets(config: dict) -> list[str]:
    return [arg for name, value in config.items()
            for arg in ("--set", f"{name}={str(value).lower() if value is False else value}")]


def test_the_static_verbs_take_70b_without_a_parameter_budget(capsys, tmp_path):
    from nnspec.cli import main as cli

    for verb in (["summary"], ["validate"], ["build", "-o", str(tmp_path / "l.py")]):
        assert cli.main([*verb[:1], str(SPEC), *verb[1:], *sets(LLAMA_3_70B)]) == 0, verb
    # the tiny default against 70B: the checkpoints differ, so diff exits 1, as `diff` does
    assert cli.main(["diff", str(SPEC), str(SPEC), *sets(LLAMA_3_70B)]) == 1
    out = capsys.readouterr().out
    assert "params:  70,553,706,496 (70.6G)" in out
    assert "-> 70,553,706,496 (70.6G)" in out


def test_llama_3_8b_builds_on_meta_and_initialises_late_in_parts():
    model = nnspec.build(SPEC, device="meta", **LLAMA_3_8B)
    assert sum(p.numel() for p in model.parameters()) == 8_030_261_248
    assert all(p.is_meta for p in model.parameters())
    # parts materialised and initialised on their own, as sharded training does
    rotary, norm = model.model.rotary_emb, model.model.layers[0].input_layernorm
    for part in (rotary, norm):
        part.to_empty(device="cpu")
        part.init_weights()
    inv_freq = rotary.inv_freq
    expected = 1.0 / (500000.0 ** (torch.arange(0, 128, 2, dtype=torch.int64).float() / 128))
    assert torch.equal(inv_freq, expected)
    assert torch.equal(norm.weight, torch.ones(4096))


def test_the_tie_is_conditional_in_generated_code_and_its_condition_is_checked(tmp_path):
    source = nnspec.generate(SPEC)
    assert ("        if tie_word_embeddings:\n"
            "            self.lm_head.weight = self.model.embed_tokens.weight\n") in source
    assert ("        if self.tie_word_embeddings:\n"
            "            self.lm_head.weight = self.model.embed_tokens.weight\n") in source
    bad = tmp_path / "bad_tie.yaml"
    bad.write_text(SPEC.read_text().replace("if: tie_word_embeddings}", "if: tie_embeddings}"))
    with pytest.raises(nnspec.SpecError) as info:
        nnspec.load(bad)
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "unknown-name"
    assert "tie_embeddings" in diagnostic.message
    assert (diagnostic.pos.line, diagnostic.pos.col) == (144, 61)
