"""Library layers of the kinds real libraries have: a leaf printing its own arguments, a
BatchNorm subclass with an activation child, a class whose forward torch.fx cannot trace, an
ordinary block, and one whose constructor argument no attribute keeps."""

import torch
from torch import nn


class StochasticDepth(nn.Module):
    """torchvision's: drops the residual branch per sample while training."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty([x.shape[0]] + [1] * (x.ndim - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's: a BatchNorm2d that applies its activation child."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 apply_act: bool = True, act_layer: type = nn.ReLU) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.act = act_layer() if apply_act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


class Gate(nn.Module):
    """A forward with data-dependent control flow, which torch.fx cannot trace."""

    def __init__(self, channels: int, threshold: float = 0.0) -> None:
        super().__init__()
        self.threshold = threshold
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.mean() > self.threshold:
            return self.proj(x)
        return x


class ConvAct(nn.Module):
    """An ordinary block: nnspec expands it unless told to keep the package opaque."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Hidden(nn.Module):
    """Keeps its constructor argument under a name no alias finds."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._width = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2

    def extra_repr(self) -> str:
        return f"size={self._width}"


class GELU(nn.Module):
    """timm's: a class named like a torch layer, which is not torch's."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.gelu(x)

    def extra_repr(self) -> str:
        return f"inplace={self.inplace}"


class Doubled(nn.Module):
    """Keeps a value under its argument's name that is not what it was given: the rebuilt
    class prints and loads the same, and only its outputs differ."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.factor = scale * 2
        self.scale = scale * 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return "scaled"


class Moody(nn.Module):
    """An untraceable forward, and a constructor argument no attribute keeps: it cannot be a
    reference, so it stays a block whose forward is unknown."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self._width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) if x.sum() > 0 else x


class CachedMix(nn.Module):
    """timm's LeViT attention in small: a class argument (`act_layer`), and a `train` override
    that returns None rather than the module."""

    def __init__(self, channels: int, act_layer: type = nn.SiLU) -> None:
        super().__init__()
        self.proj = nn.Linear(channels, 2 * channels)
        self.act = act_layer()

    def train(self, mode: bool = True) -> None:  # type: ignore[override]
        super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.proj(x))
