"""Report plots (matplotlib, Agg). Never draws JSRT images."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def froc(curves: dict[str, dict], path: Path) -> str:
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, c in curves.items():
        ax.plot(c["fp_per_image"], c["sensitivity"], ".-", label=name)
    for x in (0.5, 1, 2):
        ax.axvline(x, color="grey", lw=0.5, ls=":")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel("false positives per image")
    ax.set_ylabel("lesion sensitivity")
    ax.set_ylim(0, 1)
    ax.set_title("FROC (box threshold sweep)")
    ax.legend()
    return _save(fig, path)


def reliability(panels: dict[str, list[dict]], path: Path) -> str:
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.8), squeeze=False)
    for ax, (name, rows) in zip(axes[0], panels.items()):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        conf = [r["confidence"] for r in rows]
        acc = [r["accuracy"] for r in rows]
        n = np.array([r["n"] for r in rows], dtype=float)
        ax.scatter(conf, acc, s=20 + 200 * n / n.max())
        ax.plot(conf, acc, lw=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_title(name, fontsize=9)
    return _save(fig, path)


def rocs(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> str:
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    for name, (y, s) in curves.items():
        ts = np.append(np.sort(np.unique(s))[::-1], -np.inf)
        tpr = [(s[y == 1] >= t).mean() for t in ts]
        fpr = [(s[y == 0] >= t).mean() for t in ts]
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.6, ls=":")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title("nodule ROC per source (validation)")
    ax.legend(fontsize=7)
    return _save(fig, path)


def curves(histories: dict[str, list[dict]], path: Path) -> str:
    fig, axes = plt.subplots(1, 2 * len(histories), figsize=(4 * 2 * len(histories), 3.2), squeeze=False)
    axs = iter(axes[0])
    for name, h in histories.items():
        ep = [r["epoch"] for r in h]
        ax = next(axs)
        for k in [k for k in h[-1] if k.startswith("train_loss") and h[-1][k] is not None]:  # row 0 may be the initial weights
            ax.plot(ep, [r.get(k, np.nan) for r in h], label=k.removeprefix("train_loss_") if k != "train_loss" else "loss")
        ax.set_title(f"{name}: train loss")
        ax.legend(fontsize=6)
        ax.set_xlabel("epoch")
        ax = next(axs)
        for k in [k for k in h[-1] if k.startswith(("auc", "pointing", "patch", "val_metric"))]:
            ax.plot(ep, [r.get(k, np.nan) for r in h], label=k)
        ax.set_title(f"{name}: validation")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=6)
    return _save(fig, path)


def overlay(img_u8: np.ndarray, heat: np.ndarray, boxes: list[dict], gt: list, title: str,
            path: Path) -> str:
    """For TBX11K / NIH images only."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.imshow(img_u8, cmap="gray", vmin=0, vmax=255)
    ax.imshow(np.kron(heat, np.ones((4, 4))), cmap="jet", alpha=0.3, vmin=0, vmax=1)
    for b in gt:
        ax.add_patch(plt.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec="lime", lw=1.2))
    for b in boxes:
        x0, y0, x1, y1 = b["box"]
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="red", lw=1, ls="--"))
    ax.set_axis_off()
    ax.set_title(title, fontsize=8)
    return _save(fig, path)
