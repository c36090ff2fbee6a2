"""Window attention as torchvision and timm write it, small: what a spec cannot express."""

import torch
from torch import nn


def _relative_index(window: int) -> torch.Tensor:
    """Each pair of positions in a window -> the row of its relative offset in a table."""
    coords = torch.arange(window)
    return (coords[:, None] - coords[None, :] + window - 1).flatten()


class WindowAttention(nn.Module):
    """Its constructor's arguments are kept under no attribute of their name (`dim`, `window`
    and `heads`), it holds a computed non-persistent index buffer, and its forward runs a
    Python loop over the windows of its input: torch.fx cannot trace it."""

    def __init__(self, dim: int, window: int, heads: int = 2, bias: bool = True) -> None:
        super().__init__()
        self.size, self.n_heads = window, heads
        self.qkv = nn.Linear(dim, dim * 3, bias=bias)
        self.proj = nn.Linear(dim, dim)
        self.table = nn.Parameter(torch.randn(2 * window - 1, heads))
        self.register_buffer("index", _relative_index(window), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = self.table[self.index].view(self.size, self.size, -1).permute(2, 0, 1)
        outs = []
        for start in range(0, n, self.size):  # one window at a time
            q, k, v = self.qkv(x[:, start:start + self.size]).reshape(
                b, -1, 3, self.n_heads, c // self.n_heads).permute(2, 0, 3, 1, 4)
            attn = (q @ k.transpose(-2, -1) + bias).softmax(-1)
            outs.append((attn @ v).transpose(1, 2).reshape(b, -1, c))
        return self.proj(torch.cat(outs, 1))


class RelativeBias(nn.Module):
    """A traceable forward, but a computed non-persistent index buffer (as timm's window
    attention holds), and `dim` kept under no attribute."""

    def __init__(self, dim: int, window: int, options: dict | None = None) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.table = nn.Parameter(torch.randn(2 * window - 1))
        self.register_buffer("index", _relative_index(window), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + self.table[self.index][: x.shape[-1]]


class Stage(nn.Module):
    """Prints its own settings beside its children, and makes its block from a class it is
    given (`block=WindowAttention`): an argument a spec cannot write."""

    def __init__(self, dim: int, window: int, block: type = WindowAttention) -> None:
        super().__init__()
        self.blocks = nn.Sequential(block(dim, window), nn.LayerNorm(dim))
        self.note = f"window={window}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)

    def extra_repr(self) -> str:
        return self.note


class Folded(nn.Module):
    """torch.fx cannot trace its forward (a Python int of a shape), torch.export can; `width`
    is kept under no attribute."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x).flatten(0, 1).view(int(x.shape[0]), -1, self.fc.out_features)


class Sized(nn.Module):
    """torch.fx cannot trace its forward (it branches on a size), torch.export can."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 1:
            x = self.fc(x)
        return x * 2


class TableBias(nn.Module):
    """torchvision's Swin V2 attention in small: a child called on the class's own buffer
    (no input of the exported graph), in a forward that branches on a size (torch.fx cannot
    trace it)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.mlp = nn.Linear(2, width)
        self.register_buffer("table", torch.ones(3, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 1:
            x = x + self.mlp(self.table).sum(0)
        return x


def _pad_even(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    return nn.functional.pad(x, (0, w % 2, 0, h % 2))


torch.fx.wrap("_pad_even")  # an fx leaf, as torchvision's Swin marks `_patch_merging_pad`


class PadMerge(nn.Module):
    """torchvision's Swin `PatchMerging` in small: it calls a function marked as an fx leaf."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(_pad_even(x))


class Unspelled(nn.Module):
    """torch.export traces it (torch.fx cannot: it branches on a size), into an op that no
    spec step spells."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 1:
            x = torch.logcumsumexp(x, -1)
        return self.fc(x)


class Positions(nn.Module):
    """Called with sizes, not a tensor (`pos(b, n)`), in a loop torch.fx cannot trace: a
    layer takes a tensor, so it cannot be a reference and keeps `forward: unknown`."""

    def __init__(self, dim: int, options: dict | None = None) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, b: int, n: int) -> torch.Tensor:
        rows = [torch.full_like(self.scale, float(i)) for i in range(n)]
        return (torch.stack(rows) * self.scale).expand(b, -1, -1)


class WithPositions(nn.Module):
    """Adds Positions' output; makes its RelativeBias with `options={}`, a value a spec cannot
    write that the instance does not need: its reference leaves it out, verified."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pos = Positions(dim)
        self.bias = RelativeBias(dim, 2, options={})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias(x + self.pos(x.shape[0], x.shape[1]))


class ActBlock(nn.Module):
    """Calls the activation class it is given (`act_layer=nn.Hardswish`), as timm's LeViT
    attention does, and holds a computed index: a reference that passes a class."""

    def __init__(self, dim: int, act_layer: type = nn.SiLU) -> None:
        super().__init__()
        self.proj = nn.Sequential(act_layer(), nn.Linear(dim, dim))
        self.register_buffer("order", torch.arange(dim).flip(0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)[..., self.order]


class Grid(nn.Module):
    """A computed index, and called with sizes, not a tensor: no layer reference can stand
    for it, so the class is refused, naming the buffer."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("offsets", torch.arange(dim).flip(0), persistent=False)

    def forward(self, b: int, n: int) -> torch.Tensor:
        return self.offsets.expand(b, n, -1).float()


class WithGrid(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.grid = Grid(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.grid(x.shape[0], x.shape[1])


_NORMS = {"layernorm": nn.LayerNorm, "rmsnorm": nn.RMSNorm}


class Head(nn.Module):
    """Takes its norm by name or class (`norm_layer="layernorm"` by default), as timm's
    classifier heads do, and prints a setting beside its children: a reference."""

    def __init__(self, dim: int, norm_layer: str | type = "layernorm") -> None:
        super().__init__()
        layer = _NORMS[norm_layer] if isinstance(norm_layer, str) else norm_layer
        self.norm = layer(dim)
        self.fc = nn.Linear(dim, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(x))

    def extra_repr(self) -> str:
        return "head"


class Headed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = Head(4, norm_layer=nn.LayerNorm)  # the default's class, given as a class
        self.second = Head(2, norm_layer=nn.RMSNorm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))
