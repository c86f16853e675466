"""Compact FPN-style networks (two stride-2 stem convs, heatmap at 1/4 resolution)."""
from __future__ import annotations

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
    """Image-level nodule/mass classifier with a localisation heatmap.

    The input border band (8% per side) is zeroed inside the graph; the heatmap is zeroed
    on the corresponding band of the 128x128 grid. With ``internal=256`` the masked input is
    2x2-average-pooled to 256x256 inside the graph (4x cheaper on 2 CPU cores) and the 64x64
    heatmap is bilinearly upsampled to the contract's 128x128.
    """

    def __init__(self, width: int = 16, dropout: float = 0.3, internal: int = 512) -> None:
        super().__init__()
        if internal not in (256, 512):
            raise ValueError("internal must be 256 or 512")
        self.internal = internal
        self.backbone = FPNBackbone(width, 2 * width)
        self.head = HeatmapHead(2 * width)
        nn.init.constant_(self.head[-1].bias, -4.0)
        feat = 2 * self.backbone.out_channels
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(feat, 1)
        self.feature_dim = feat
        self.register_buffer("in_mask", border_mask(512), persistent=False)
        self.register_buffer("heat_mask", border_mask(128, 11 / 128), persistent=False)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x * self.in_mask
        if self.internal == 256:
            x = F.avg_pool2d(x, 2)
        p2, deep = self.backbone(x)
        pooled = torch.cat([deep.mean(dim=(2, 3)), deep.amax(dim=(2, 3))], dim=1)
        heat = self.head(p2)
        if self.internal == 256:
            heat = F.interpolate(heat, scale_factor=2.0, mode="bilinear", align_corners=False)
        return pooled, heat

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (score logit [N], heatmap logits [N,1,128,128], pooled features [N,F])."""
        pooled, heat_logits = self.features(x)
        logit = self.classifier(self.dropout(pooled)).squeeze(1)
        return logit, heat_logits, pooled


class TBExport(nn.Module):
    def __init__(self, net: TBLesionNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat = torch.sigmoid(self.net(image))
        return heat, TBLesionNet.score_from_heatmap(heat)


class NoduleExport(nn.Module):
    """score_mode: "classifier" (image-level head) or "heatmap" (max of the 3x3-smoothed
    localisation map, as for TB), chosen on validation in evaluate/export."""

    def __init__(self, net: NoduleNet, score_mode: str = "classifier") -> None:
        super().__init__()
        if score_mode not in ("classifier", "heatmap"):
            raise ValueError(score_mode)
        self.net = net
        self.score_mode = score_mode

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logit, heat_logits, _ = self.net(image)
        heat = torch.sigmoid(heat_logits) * self.net.heat_mask
        if self.score_mode == "heatmap":
            return TBLesionNet.score_from_heatmap(heat), heat
        return torch.sigmoid(logit), heat


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
