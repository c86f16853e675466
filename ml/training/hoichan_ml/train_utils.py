"""Shared training helpers: seeding, augmentation, losses, LR schedule, checkpoints."""
from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import CACHE

RUNS = CACHE / "runs"


def setup(seed: int) -> None:
    torch.set_num_threads(int(os.environ.get("HOICHAN_THREADS", "2")))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def to_unit(batch_u8: np.ndarray) -> torch.Tensor:
    """uint8 [B,512,512] -> float32 [B,1,512,512] in [0,1] (contract step 1 for 8-bit)."""
    return torch.from_numpy(batch_u8.astype(np.float32) / 255.0).unsqueeze(1)


def normalise_batch(x: torch.Tensor) -> torch.Tensor:
    """Per-image z-score (contract step 3), batched in torch."""
    flat = x.flatten(1).double()
    mean = flat.mean(1)
    std = flat.std(1, unbiased=False).clamp_min(1e-6)
    return ((x.double() - mean[:, None, None, None]) / std[:, None, None, None]).float()


def augment(img: torch.Tensor, masks: torch.Tensor | None, gen: torch.Generator,
            hflip: bool = True, max_deg: float = 7.0, max_scale: float = 0.1,
            max_shift: float = 0.04) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Small affine (+ optional horizontal flip, applied to masks too) and
    gamma / contrast / brightness / noise on a [B,1,H,W] batch in [0,1]."""
    b = img.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, generator=gen)

    ang = u(-max_deg, max_deg) * math.pi / 180
    scale = u(1 - max_scale, 1 + max_scale)
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0) if hflip else torch.ones(b)
    tx, ty = u(-2 * max_shift, 2 * max_shift), u(-2 * max_shift, 2 * max_shift)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1),
                         torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    img = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if masks is not None:
        g2 = F.affine_grid(theta, list(masks.shape), align_corners=False)
        masks = (F.grid_sample(masks, g2, mode="bilinear", padding_mode="zeros",
                               align_corners=False) >= 0.5).float()
    gamma = torch.exp(u(-0.35, 0.35))[:, None, None, None]
    contrast = u(0.8, 1.2)[:, None, None, None]
    bright = u(-0.08, 0.08)[:, None, None, None]
    sigma = u(0.0, 0.02)[:, None, None, None]
    img = img.clamp(1e-6, 1.0) ** gamma
    img = (img - 0.5) * contrast + 0.5 + bright
    img = img + sigma * torch.randn(img.shape, generator=gen)
    return img.clamp(0.0, 1.0), masks


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    return (1 - (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def focal_bce(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
              alpha: float = 0.75) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    pt = p * target + (1 - p) * (1 - target)
    w = alpha * target + (1 - alpha) * (1 - target)
    return (w * (1 - pt) ** gamma * bce).mean()


class Schedule:
    """Linear warm-up then cosine decay; total length fixed once epoch 1 is timed."""

    def __init__(self, base_lr: float, warmup: int) -> None:
        self.base, self.warmup, self.total = base_lr, warmup, None  # type: ignore[var-annotated]

    def lr(self, step: int) -> float:
        if step < self.warmup:
            return self.base * (step + 1) / self.warmup
        if self.total is None:
            return self.base
        t = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def plan_epochs(epoch_seconds: float, budget_min: float, max_epochs: int, min_epochs: int = 2) -> int:
    return int(min(max_epochs, max(min_epochs, (budget_min * 60) // max(epoch_seconds, 1.0))))


class Run:
    """A run directory with history.json, best.pt and last.pt."""

    def __init__(self, name: str) -> None:
        self.dir = RUNS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.history: list[dict] = []
        self.best = -float("inf")
        self.t0 = time.time()

    def log(self, row: dict, model: torch.nn.Module, metric: float, meta: dict) -> bool:
        row = {**row, "elapsed_s": round(time.time() - self.t0, 1)}
        self.history.append(row)
        (self.dir / "history.json").write_text(json.dumps(self.history, indent=1))
        state = {"model": model.state_dict(), "meta": {**meta, "epoch": row["epoch"], "metric": metric}}
        torch.save(state, self.dir / "last.pt")
        improved = metric > self.best
        if improved:
            self.best = metric
            torch.save(state, self.dir / "best.pt")
        print(json.dumps({**row, "best": improved}), flush=True)
        return improved


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)
