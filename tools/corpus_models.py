"""The import corpus: models nobody here wrote, from torchvision, timm and transformers.

`build(name)` is the factory that `nnspec import module corpus_models:build --args name=...`
calls; `CORPUS` lists every model with its inputs. Run only in the scratch venv (see
tools/import_corpus.py): torchvision, timm and transformers are never nnspec dependencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

# torchvision classification models over 300M parameters are left out, as the corpus says
MAX_PARAMS = 300_000_000

TIMM = """
resnet18 resnet50d seresnext26d_32x4d resnest14d res2net50_26w_4s
efficientnet_b0 efficientnet_lite0 tf_efficientnet_b0 mobilenetv3_large_100
mobilenetv3_small_050 mnasnet_100 convnext_atto convnext_nano regnetx_002 regnety_002
ghostnet_100 mixnet_s rexnet_100 densenet121 dla34 hrnet_w18_small vit_tiny_patch16_224
deit_tiny_patch16_224 swin_tiny_patch4_window7_224 mixer_s16_224 levit_128s coat_lite_tiny
poolformer_s12 efficientformer_l1 mobilevit_xxs edgenext_xx_small tiny_vit_5m_224 fastvit_t8
repvgg_a0 cspresnet50 cspdarknet53 inception_v3 xception41 dpn68 ese_vovnet19b_dw
""".split()

TORCHVISION_SEGMENTATION = """
deeplabv3_mobilenet_v3_large deeplabv3_resnet101 deeplabv3_resnet50 fcn_resnet101
fcn_resnet50 lraspp_mobilenet_v3_large
""".split()

# input shapes (no batch dimension) where 3x224x224 is not what the model takes
IMAGE = {"inception_v3": (3, 299, 299), "tv/inception_v3": (3, 299, 299),
         "tv/vit_b_16": (3, 224, 224)}
SEQ = 16


@dataclass(frozen=True)
class Entry:
    name: str  # family/model, e.g. tv/resnet18, timm/resnet18, hf/bert
    family: str  # torchvision, torchvision-seg, timm, transformers
    inputs: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)


def _image(name: str) -> dict[str, tuple[tuple[int, ...], str]]:
    return {"x": (IMAGE.get(name, (3, 224, 224)), "float32")}


def _hf_configs() -> dict[str, tuple[str, dict, dict[str, tuple[tuple[int, ...], str]]]]:
    ids = {"input_ids": ((SEQ,), "int64")}
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=37, vocab_size=99, max_position_embeddings=64)
    return {
        "bert": ("BertModel", {"model": "BertConfig", **small}, ids),
        "distilbert": ("DistilBertModel", {"model": "DistilBertConfig", "dim": 32,
                                           "n_layers": 2, "n_heads": 4, "hidden_dim": 37,
                                           "vocab_size": 99, "max_position_embeddings": 64},
                       ids),
        "gpt2": ("GPT2LMHeadModel", {"model": "GPT2Config", "n_embd": 32, "n_layer": 2,
                                     "n_head": 4, "vocab_size": 99, "n_positions": 64}, ids),
        "llama": ("LlamaForCausalLM", {"model": "LlamaConfig", **small,
                                       "num_key_value_heads": 2}, ids),
        "t5": ("T5EncoderModel", {"model": "T5Config", "d_model": 32, "d_kv": 8, "d_ff": 37,
                                  "num_layers": 2, "num_heads": 4, "vocab_size": 99}, ids),
        "vit": ("ViTModel", {"model": "ViTConfig", "hidden_size": 32, "num_hidden_layers": 2,
                             "num_attention_heads": 4, "intermediate_size": 37,
                             "image_size": 32, "patch_size": 8},
                {"pixel_values": ((3, 32, 32), "float32")}),
        "whisper": ("WhisperEncoder", {"model": "WhisperConfig", "d_model": 32,
                                       "encoder_layers": 2, "encoder_attention_heads": 4,
                                       "decoder_layers": 2, "decoder_attention_heads": 4,
                                       "encoder_ffn_dim": 37, "decoder_ffn_dim": 37,
                                       "num_mel_bins": 8, "max_source_positions": 16,
                                       "vocab_size": 99},
                    {"input_features": ((8, 32), "float32")}),
    }


def corpus(classification: list[str] | None = None) -> list[Entry]:
    """Every model of the corpus; `classification` is torchvision's list, already filtered by
    size (import_corpus.py computes it once on the meta device)."""
    entries = [Entry(f"tv/{n}", "torchvision", _image(f"tv/{n}"))
               for n in classification or []]
    entries += [Entry(f"tvseg/{n}", "torchvision-seg", {"x": ((3, 64, 64), "float32")})
                for n in TORCHVISION_SEGMENTATION]
    entries += [Entry(f"timm/{n}", "timm", _image(n)) for n in TIMM]
    entries += [Entry(f"hf/{n}", "transformers", inputs)
                for n, (_, _, inputs) in _hf_configs().items()]
    return entries


def torchvision_classification() -> list[str]:
    """torchvision's classification models under MAX_PARAMS, counted on the meta device."""
    from torchvision import models

    names = []
    for name in models.list_models(module=models):
        try:
            with torch.device("meta"):
                model = models.get_model(name, weights=None)
        except NotImplementedError:  # a model that copies data while it is built
            model = models.get_model(name, weights=None)
        if sum(p.numel() for p in model.parameters()) < MAX_PARAMS:
            names.append(name)
    return names


def build(name: str) -> torch.nn.Module:
    """The corpus model `name`, seeded, in eval mode: what the importer is given."""
    torch.manual_seed(0)
    family, _, model = name.partition("/")
    if family == "tv":
        from torchvision import models

        net = models.get_model(model, weights=None)
    elif family == "tvseg":
        from torchvision.models import segmentation

        net = getattr(segmentation, model)(weights=None, weights_backbone=None)
    elif family == "timm":
        import timm

        net = timm.create_model(model, pretrained=False)
    elif family == "hf":
        import transformers

        cls_name, config, _ = _hf_configs()[model]
        config = dict(config)
        config_cls = getattr(transformers, config.pop("model"))
        cfg = config_cls(**config)
        cfg._attn_implementation = "eager"
        if hasattr(cfg, "use_cache"):
            cfg.use_cache = False
        if cls_name == "WhisperEncoder":
            from transformers.models.whisper.modeling_whisper import WhisperEncoder

            net = WhisperEncoder(cfg)
        else:
            net = getattr(transformers, cls_name)(cfg)
    else:
        raise ValueError(f"unknown corpus model {name!r}")
    return net.eval()
