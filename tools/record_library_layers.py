"""Record what the real library classes nnspec declares (nnspec/catalog/library.py) do.

For each case below (a class, constructor arguments, an input shape) it builds the class from
torchvision, timm or transformers, runs it on a random input in eval mode and writes the output
shape, torch's parameter count and the state_dict layout to
``tests/golden/library/layers.json``, which tests/test_library_layers.py compares with the
declarations' rules. Those packages stay out of CI and requirements: run this from the scratch
venv, with this repository on the path::

    PYTHONPATH=. /work/scratch/bin/python tools/record_library_layers.py
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "golden" / "library" / "layers.json"

CASES = [
    ("torchvision.ops.stochastic_depth:StochasticDepth", {"p": 0.1, "mode": "row"},
     [2, 8, 5, 5]),
    ("timm.layers.drop:DropPath", {"drop_prob": 0.1}, [2, 7, 8]),
    ("torchvision.models.convnext:LayerNorm2d", {"normalized_shape": [8], "eps": 1e-6},
     [2, 8, 5, 5]),
    ("timm.layers.norm:LayerNorm2d", {"num_channels": 8}, [2, 8, 5, 5]),
    ("timm.layers.norm:LayerNorm2d", {"num_channels": 8, "affine": False}, [2, 8, 5, 5]),
    ("timm.layers.norm_act:BatchNormAct2d", {"num_features": 8, "act_layer": "silu"},
     [2, 8, 5, 5]),
    ("timm.layers.norm_act:BatchNormAct2d", {"num_features": 8, "affine": False,
                                             "track_running_stats": False}, [2, 8, 5, 5]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d",
     {"pool_type": "avg", "flatten": True}, [2, 8, 5, 5]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d",
     {"pool_type": "catavgmax", "output_size": 2}, [2, 8, 5, 5]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d", {}, [2, 8, 5, 5]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d",  # timm's Swin head
     {"pool_type": "avg", "flatten": True, "input_fmt": "NHWC"}, [2, 5, 5, 8]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d",
     {"pool_type": "fastcatavgmax", "input_fmt": "NHWC"}, [2, 5, 5, 8]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d",
     {"pool_type": "fastmax", "flatten": True}, [2, 8, 5, 5]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d",
     {"pool_type": "", "flatten": True}, [2, 8, 5, 5]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d", {"pool_type": ""}, [2, 8, 5, 5]),
    ("timm.layers.adaptive_avgmax_pool:SelectAdaptivePool2d",
     {"pool_type": "max", "output_size": [2, 3], "flatten": True}, [2, 8, 5, 5]),
    ("transformers.pytorch_utils:Conv1D", {"nf": 6, "nx": 4}, [2, 3, 4]),
    ("transformers.models.llama.modeling_llama:LlamaRMSNorm", {"hidden_size": 8}, [2, 3, 8]),
    ("transformers.models.t5.modeling_t5:T5LayerNorm", {"hidden_size": 8, "eps": 1e-5},
     [2, 3, 8]),
]


def record(path: str, args: dict, shape: list[int]) -> dict:
    module, name = path.split(":")
    layer = getattr(importlib.import_module(module), name)(**args).eval()
    with torch.no_grad():
        out = layer(torch.randn(shape))
    return {"class": path, "args": args, "input": shape, "output": list(out.shape),
            "params": sum(p.numel() for p in layer.parameters()),
            "state": [[k, list(v.shape), isinstance(v, torch.nn.Parameter)]
                      for k, v in layer.state_dict(keep_vars=True).items()]}


def main() -> None:
    versions = {p: importlib.metadata.version(p)
                for p in ("torch", "torchvision", "timm", "transformers")}
    data = {"versions": versions, "cases": [record(*case) for case in CASES]}
    OUT.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
