"""Record the golden data that `specs/llama.yaml` is checked against, from transformers itself.

Writes ``tests/golden/reference/llama/`` from Hugging Face's ``LlamaForCausalLM`` at the spec's
tiny default config (vocab 256, hidden 64, intermediate 160, 2 layers, 4 heads, 2 KV heads,
128 positions), with eager attention:

- ``state_dict.txt``: ``key<TAB>shape<TAB>dtype`` per state_dict entry, in order (the format of
  ``tools/record_reference_golden.py``); ``state_dict_tied.txt`` the same with
  ``tie_word_embeddings=True``.
- ``logits_fixed.pt``: for sequence lengths 1, 7 and 32, the input ids and the logits, with
  the RNG-free weights of ``tests/golden/fixed_weights.py`` (``fill_fixed_``: entry k of the
  state_dict from a closed form, so the test rebuilds the very same state_dict from the layout
  and loads it strictly into the spec's model).
- ``tree.txt``: ``print(LlamaForCausalLM(config))`` at the tiny config, the module tree the
  spec's model prints exactly.

transformers never enters CI: run this once in a scratch environment that has it, from the
repository root, with nnspec on the path but not installed there::

    PYTHONPATH=. /work/scratch/bin/python tools/record_llama_golden.py [--live]

``--live`` also builds the spec's model in that environment and prints how far its logits are
from transformers', without writing anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "golden" / "reference" / "llama"
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402 - after the sys.path set-up above
from golden.fixed_weights import fill_fixed_  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

TINY = {"vocab_size": 256, "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
        "rms_norm_eps": 1e-6, "tie_word_embeddings": False}
ROPE_THETA = 10000.0
LENGTHS = (1, 7, 32)


def input_ids(length: int) -> torch.Tensor:
    """Deterministic tokens covering the vocabulary: ``(37 * i + 11) mod 256``, batch 1."""
    return ((torch.arange(length, dtype=torch.int64) * 37 + 11) % TINY["vocab_size"])[None]


def reference(**overrides: object) -> LlamaForCausalLM:
    config = LlamaConfig(**{**TINY, **overrides}, attn_implementation="eager")
    config.rope_parameters = {"rope_type": "default", "rope_theta": ROPE_THETA}
    model = LlamaForCausalLM(config).eval()
    fill_fixed_(model)
    return model


def layout(model: torch.nn.Module) -> str:
    return "".join(f"{key}\t{','.join(str(d) for d in t.shape)}\t"
                   f"{str(t.dtype).removeprefix('torch.')}\n"
                   for key, t in model.state_dict().items())


def logits(model: torch.nn.Module) -> dict[int, dict[str, torch.Tensor]]:
    with torch.no_grad():
        return {n: {"input_ids": input_ids(n), "logits": model(input_ids(n)).logits[0].clone()}
                for n in LENGTHS}


def live(recorded: dict[int, dict[str, torch.Tensor]]) -> None:
    """Build the spec's model here, load transformers' state_dict strictly, compare."""
    import nnspec

    ours = nnspec.build(ROOT / "specs" / "llama.yaml").eval()
    print("print(model) equal:", str(ours) == str(reference()))
    ours.load_state_dict(reference().state_dict(), strict=True)
    with torch.no_grad():
        for n, data in recorded.items():
            diff = (ours(data["input_ids"])[0] - data["logits"]).abs().max().item()
            print(f"seq {n:2d}: max |nnspec - transformers| = {diff:.3g}")


def main(argv: list[str]) -> None:
    import transformers

    model = reference()
    recorded = logits(model)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    if "--live" in argv:
        live(recorded)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "state_dict.txt").write_text(layout(model), encoding="utf-8")
    (OUT / "state_dict_tied.txt").write_text(layout(reference(tie_word_embeddings=True)),
                                             encoding="utf-8")
    torch.save(recorded, OUT / "logits_fixed.pt")
    (OUT / "tree.txt").write_text(f"{model}\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
