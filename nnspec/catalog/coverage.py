"""What of torch.nn the catalog covers: the torch.nn classes it leaves out on purpose, and the
entries that have no static shape rule, each with its reason. Pure data, no torch.

tests/test_catalog_coverage.py enumerates the pinned torch's `torch.nn` and fails on any module
class that is neither a catalog entry nor listed here; docs/spec.md ("Catalog coverage") shows
the same lists.
"""

from __future__ import annotations

# why each group is left out, in the order docs/spec.md lists them
REASONS: dict[str, str] = {
    "container": "a container: a spec writes it with `children:` and `Sequential`, a list or a "
                 "dict of children, not as a layer call",
    "loss": "a loss module: it computes a training objective from targets, which is not part "
            "of the model a spec describes",
    "lazy": "a Lazy* layer: it learns its input size on the first call; a spec omits an "
            "inferable argument of the plain layer instead",
    "base": "a base class: it is not built on its own",
    "parallel": "a parallel wrapper: it wraps a whole model for devices, which is how a model "
                "is run, not what it is",
    "module-argument": "it takes a layer instance as an argument (encoder_layer / "
                       "decoder_layer, and norm), which no spec argument can be; write the "
                       "stack as a block that repeats TransformerEncoderLayer or "
                       "TransformerDecoderLayer children",
}

_GROUPS: dict[str, tuple[str, ...]] = {
    "container": ("Container", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
                  "ParameterDict"),
    "loss": ("BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss",
             "CrossEntropyLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "HuberLoss",
             "KLDivLoss", "L1Loss", "LinearCrossEntropyLoss", "MSELoss", "MarginRankingLoss",
             "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss",
             "NLLLoss2d", "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss",
             "TripletMarginLoss", "TripletMarginWithDistanceLoss"),
    "lazy": ("LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d",
             "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
             "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d", "LazyLinear"),
    "base": ("Module", "RNNBase", "RNNCellBase"),
    "parallel": ("DataParallel", "DistributedDataParallel"),
    "module-argument": ("TransformerEncoder", "TransformerDecoder"),
}

# torch.nn module class -> the group (a key of REASONS) that leaves it out of the catalog
EXCLUDED: dict[str, str] = {name: group for group, names in _GROUPS.items() for name in names}

# catalog entries without a static shape rule (static analysis reports their output as unknown)
NO_SHAPE_RULE: dict[str, str] = {
    "AdaptiveLogSoftmaxWithLoss": "its output shapes would follow from the input, but a rule "
                                  "also gives MACs, and its forward computes only the tail "
                                  "clusters the target values fall in: its work follows from "
                                  "the data, so static analysis reports the output as unknown "
                                  "rather than a wrong MAC count",
}
