"""Compact FPN-style networks (two stride-2 stem convs, heatmap at 1/4 resolution)."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

BORDER_FRACTION = 0.08  # nodule model: zero a band of 8% of the image on every side


def cbr(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = cbr(ch, ch)
        self.c2 = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.c2(self.c1(x)))


class FPNBackbone(nn.Module):
    """Encoder 1/4..1/64 with a top-down FPN back to 1/4 resolution (128x128 at 512 input)."""

    def __init__(self, width: int = 16, fpn_ch: int = 32) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(cbr(1, w, 2), cbr(w, w, 2), ResBlock(w))            # 1/4
        chans = [w, 2 * w, 4 * w, 8 * w, 8 * w]
        self.downs = nn.ModuleList(
            nn.Sequential(cbr(chans[i], chans[i + 1], 2), ResBlock(chans[i + 1]))
            for i in range(4))                                                         # 1/8..1/64
        self.lateral = nn.ModuleList(nn.Conv2d(c, fpn_ch, 1) for c in chans)
        self.smooth = cbr(fpn_ch, fpn_ch)
        self.out_channels = chans[-1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = [self.stem(x)]
        for d in self.downs:
            feats.append(d(feats[-1]))
        p = self.lateral[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            p = F.interpolate(p, scale_factor=2.0, mode="nearest") + self.lateral[i](feats[i])
        return self.smooth(p), feats[-1]  # (1/4 map, deepest features)


class HeatmapHead(nn.Sequential):
    def __init__(self, ch: int) -> None:
        super().__init__(cbr(ch, ch), nn.Conv2d(ch, 1, 1))


class TBLesionNet(nn.Module):
    """Outputs (heatmap logits [N,1,128,128]); ``export_forward`` gives (heatmap, score)."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.backbone = FPNBackbone(width, 2 * width)
        self.head = HeatmapHead(2 * width)
        nn.init.constant_(self.head[-1].bias, -4.0)  # lesions are a minority of cells

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p2, _ = self.backbone(x)
        return self.head(p2)

    @staticmethod
    def score_from_heatmap(heat: torch.Tensor) -> torch.Tensor:
        """Image score = max of the 3x3-smoothed probability map."""
        smooth = F.avg_pool2d(heat, 3, stride=1, padding=1, count_include_pad=False)
        return smooth.flatten(1).amax(dim=1)


def border_mask(size: int, fraction: float = BORDER_FRACTION) -> torch.Tensor:
    band = int(round(size * fraction))
    m = torch.zeros(1, 1, size, size)
    m[..., band:size - band, band:size - band] = 1.0
    return m


class NoduleNet(nn.Module):
    """Nodule/mass localisation heatmap; the image score is its 3x3-smoothed maximum (as for TB).

    Works at full 512 resolution. The input border band (8% per side) is zeroed inside the
    graph and the heatmap is zeroed on the corresponding band of the 128x128 grid (JSRT's
    anonymisation rectangles must not become a cue).
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.backbone = FPNBackbone(width, 2 * width)
        self.head = HeatmapHead(2 * width)
        nn.init.constant_(self.head[-1].bias, -4.0)
        self.feature_dim = 2 * self.backbone.out_channels
        self.register_buffer("in_mask", border_mask(512), persistent=False)
        self.register_buffer("heat_mask", border_mask(128, 11 / 128), persistent=False)

    def crop_heat_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Heatmap logits at 1/4 resolution for a crop of an image that was already
        normalised and border-masked at full size (training on crops)."""
        return self.head(self.backbone(x)[0])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised [N,1,512,512] -> (heatmap logits [N,1,128,128], pooled deepest features
        [N,F] for the source probe)."""
        p2, deep = self.backbone(x * self.in_mask)
        pooled = torch.cat([deep.mean(dim=(2, 3)), deep.amax(dim=(2, 3))], dim=1)
        return self.head(p2), pooled

    def heat(self, x: torch.Tensor) -> torch.Tensor:
        """Border-masked probability map [N,1,128,128]."""
        return torch.sigmoid(self.forward(x)[0]) * self.heat_mask


class TBExport(nn.Module):
    def __init__(self, net: TBLesionNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat = torch.sigmoid(self.net(image))
        return heat, TBLesionNet.score_from_heatmap(heat)


class NoduleExport(nn.Module):
    def __init__(self, net: NoduleNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat = self.net.heat(image)
        return TBLesionNet.score_from_heatmap(heat), heat


class ImageHead(nn.Module):
    """Image-level nodule/mass logit from pooled features of a NoduleNet (nodule_image_head.py).

    Features: mean and max of the deepest features, mean of the 1/4 FPN map, and the logits of
    the heatmap's 3x3-smoothed maximum and of its top-16 / top-64 cell means. Standardisation
    and the logistic regression fitted offline are folded into one linear layer. With ``flip``
    the features are to be averaged over the image and its horizontal mirror. An experiment that
    was not shipped: no export wrapper exists for it.
    """

    def __init__(self, n_features: int, flip: bool = False) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 1)
        self.flip = flip

    @staticmethod
    def features(net: NoduleNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised [N,1,512,512] -> (features [N,F], border-masked probability map)."""
        p2, deep = net.backbone(x * net.in_mask)
        heat = torch.sigmoid(net.head(p2)) * net.heat_mask
        flat = heat.flatten(1)
        stats = torch.stack([TBLesionNet.score_from_heatmap(heat), flat.topk(16, dim=1).values.mean(1),
                             flat.topk(64, dim=1).values.mean(1)], 1).clamp(1e-6, 1 - 1e-6)
        f = torch.cat([deep.mean(dim=(2, 3)), deep.amax(dim=(2, 3)), p2.mean(dim=(2, 3)),
                       torch.log(stats / (1 - stats))], 1)
        return f, heat


class ImageBranch(nn.Module):
    """Image-level nodule/mass logit: copies of the two deepest encoder stages of a NoduleNet
    (initialised from it, then trained with image labels) on its 1/16 features, pooled (mean, max)
    into a linear layer. The heatmap path of the NoduleNet is left as it is. An experiment that
    was not shipped: no export wrapper exists for it."""

    def __init__(self, net: NoduleNet) -> None:
        super().__init__()
        self.downs = copy.deepcopy(net.backbone.downs[2:])
        ch = net.backbone.out_channels
        self.linear = nn.Linear(2 * ch, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, f16: torch.Tensor) -> torch.Tensor:
        for d in self.downs:
            f16 = d(f16)
        return self.linear(torch.cat([f16.mean(dim=(2, 3)), f16.amax(dim=(2, 3))], 1))[:, 0]


def encode16(net: NoduleNet, x: torch.Tensor) -> list[torch.Tensor]:
    """Encoder features at 1/4 and 1/8 and 1/16 of a normalised [N,1,512,512] batch (border-masked)."""
    feats = [net.backbone.stem(x * net.in_mask)]
    for d in net.backbone.downs[:2]:
        feats.append(d(feats[-1]))
    return feats


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
