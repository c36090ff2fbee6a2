"""Models that use fakelib's layers, as a user's models use torchvision's and timm's."""

from fakelib.ops import (
    GELU,
    BatchNormAct2d,
    ConvAct,
    Doubled,
    Gate,
    Hidden,
    Moody,
    StochasticDepth,
)
from fakelib.windows import (
    ActBlock,
    Folded,
    Headed,
    PadMerge,
    RelativeBias,
    Sized,
    Stage,
    TableBias,
    Unspelled,
    WindowAttention,
    WithGrid,
    WithPositions,
)
from torch import nn


class Block(nn.Module):
    def __init__(self, channels: int, p: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = BatchNormAct2d(channels, eps=1e-3)
        self.gate = Gate(channels)
        self.drop = StochasticDepth(p, "row")

    def forward(self, x):
        return x + self.drop(self.gate(self.bn(self.conv(x))))


class Net(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.stem = ConvAct(3, width)
        self.blocks = nn.Sequential(Block(width, 0.1), Block(width, 0.2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, 10)

    def forward(self, x):
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


def net(width: int = 8) -> Net:
    return Net(width)


class WithHidden(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.hidden = Hidden(4)

    def forward(self, x):
        return self.hidden(self.fc(x))


def with_hidden() -> WithHidden:
    return WithHidden()


class Small(nn.Module):
    def __init__(self, last: nn.Module) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = GELU()
        self.last = last

    def forward(self, x):
        return self.last(self.act(self.fc(x)))


def named_like_torch() -> Small:
    return Small(nn.GELU())


def doubled() -> Small:
    return Small(Doubled(1.5))


def moody() -> Small:
    return Small(Moody(7))


class Windowed(nn.Module):
    """A model of fakelib's window classes, as swin is of torchvision's."""

    def __init__(self, dim: int = 8, window: int = 4) -> None:
        super().__init__()
        self.embed = nn.Linear(3, dim)
        self.attn = WindowAttention(dim, window, heads=2)
        self.norm = nn.LayerNorm(dim)
        self.bias = RelativeBias(dim, window)
        self.head = nn.Linear(dim, 5)

    def forward(self, x):
        return self.head(self.bias(self.norm(self.attn(self.embed(x)))).mean(1))


def windowed() -> Windowed:
    return Windowed()


def folded() -> Small:
    return Small(Folded(4))


def sized() -> Small:
    return Small(Sized(4))


class Checked(nn.Module):
    """Runs only on batches of 3 or more, a check torch.fx cannot trace."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.shape[0] < 3:
            raise ValueError("a batch of 3 or more, please")
        return self.fc(x)


def checked() -> Checked:
    return Checked()


def pad_merge() -> Small:
    return Small(PadMerge(4))


def unspelled() -> Small:
    return Small(Unspelled(4))


def table_bias() -> Small:
    return Small(TableBias(4))


def with_positions() -> WithPositions:
    return WithPositions(4)


class Staged(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(3, 4)
        self.stage = Stage(4, 2, block=RelativeBias)
        self.act = ActBlock(4, act_layer=nn.Hardswish)

    def forward(self, x):
        return self.act(self.stage(self.embed(x)))


def staged() -> Staged:
    return Staged()


def folded_root() -> Folded:
    return Folded(4)


def with_grid() -> WithGrid:
    return WithGrid(4)


def headed() -> Headed:
    return Headed()
