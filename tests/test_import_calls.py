"""Child calls as real forwards make them: keyword arguments at the child's own defaults
(timm's `self.attn(x, attn_mask=attn_mask, is_causal=False)`). torch.fx traces such a child
with them fixed at its defaults (every recorded call leaves them there), torch.export with the
constants it was given. The spec calls the child without them (exact: they are its
defaults); the rebuild is checked here independently."""

from __future__ import annotations

import torch
from test_import_hf_constructs import Sink, assert_round_trip
from torch import nn

from nnspec.importers.live import import_model


class Attention(nn.Module):
    def __init__(self, dim: int = 8):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, attn_mask=None, is_causal=False):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        if attn_mask is not None:
            q = q + attn_mask
        out = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, dim: int = 8):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = Attention(dim)

    def forward(self, x, attn_mask=None):
        return x + self.attn(self.norm(x), attn_mask=attn_mask, is_causal=False)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        out, _ = self.mha(x, x, x, need_weights=False)  # not the default: kept
        return out


def test_keywords_at_the_childs_defaults_are_left_out(tmp_path):
    torch.manual_seed(0)
    model = Net().eval()
    result = import_model(model, "net", {"x": [5, 8]})
    assert result.warnings == []
    assert "    - out = attn(out)\n" in result.text and "attn_mask" not in result.text
    assert "Forward: traced with torch.fx in eval mode, each class with its children as " \
        "leaves.\n" in result.text  # no class needed torch.export
    assert "need_weights=False" in result.text
    assert result.text.endswith("    - x = mha(x, x, x, need_weights=False)\n    - return x[0]\n")
    # (`out, _ = mha(...)`: the unread item is no step)
    assert_round_trip(model, result.text, tmp_path, torch.randn(3, 5, 8))


def test_a_child_traced_with_defaults_fixed_only_where_every_call_leaves_them():
    """at_defaults gives the defaults to fix only when the recorded call leaves each one at
    its default; a call passing another value (or no call at all) gives None, and the class
    is traced by export on what it was given."""
    from nnspec.importers.calls import at_defaults

    attn = Attention()
    x = torch.randn(1, 5, 8)
    assert at_defaults(attn, ((x,), {"is_causal": False})) == {"attn_mask": None,
                                                                "is_causal": False}
    assert at_defaults(attn, ((x, None), {})) == {"attn_mask": None, "is_causal": False}
    assert at_defaults(attn, ((x,), {"is_causal": True})) is None
    assert at_defaults(attn, ((x, torch.zeros(5, 8)), {})) is None
    assert at_defaults(attn, None) is None


class Causal(Block):
    def forward(self, x, attn_mask=None):
        return x + self.attn(self.norm(x), is_causal=True)


def test_a_child_called_with_another_value_holds_it_in_its_own_steps(tmp_path):
    """The instance called with is_causal=True is exported with it fixed: its steps hold it
    (under a parameter telling the instances apart), so its parent's call leaves it out."""
    torch.manual_seed(0)
    model = nn.Sequential(Block(), Causal()).eval()
    result = import_model(model, "causal", {"x": [5, 8]})
    assert "attn: Attention(True)" in result.text and "    - if: alt_forward\n" in result.text
    assert "is_causal=True" not in result.text and "    - out = attn(out)\n" in result.text
    assert_round_trip(model, result.text, tmp_path, torch.randn(3, 5, 8))


class KwStack(nn.Module):
    """BERT's encoder: equal layers (printed folded, `(0-1): 2 x Sink`) given a tensor in
    their `**kwargs` that they never read, by a forward only torch.export traces."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Sink(), Sink()])

    def forward(self, x):
        pos = torch.arange(x.shape[1])
        if x.shape[1] > 1:
            for layer in self.layers:
                x = layer(x, position_ids=pos)
        return x


def test_a_folded_instance_is_called_as_the_one_traced(tmp_path):
    torch.manual_seed(0)
    model = KwStack().eval()
    assert "(0-1): 2 x Sink(" in str(model)
    result = import_model(model, "kwstack", {"x": [5, 8]})
    assert "position_ids" not in result.text
    assert_round_trip(model, result.text, tmp_path, torch.randn(3, 5, 8))


class Tree(nn.Module):
    """timm's DlaTree: a forward argument named `children` (a spec input cannot be: it is
    `children2`), passed by keyword after one left at its default."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x, skip=None, children=None):
        for c in children or []:
            x = x + c
        return self.proj(x)


class Root(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(8, 8)
        self.tree = Tree()

    def forward(self, x):
        y = self.first(x)
        return self.tree(x, children=[y, x])


def test_a_keyword_argument_goes_by_the_name_the_childs_spec_takes_it(tmp_path):
    torch.manual_seed(0)
    model = Root().eval()
    result = import_model(model, "root", {"x": [8]})
    assert "    inputs: [x, children2]\n" in result.text
    assert "tree(x, children2=[" in result.text
    assert_round_trip(model, result.text, tmp_path, torch.randn(3, 8))


def test_a_model_torch_fx_traces_whole_runs_once():
    """The recording run (the arguments torch.export would trace each module on) is made
    only when a module needs it: else the output check is the model's one run."""
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU()).eval()
    runs = []
    model.register_forward_pre_hook(lambda *call: runs.append(call), with_kwargs=True)
    import_model(model, "counted", {"x": [4]})
    assert len(runs) == 1
