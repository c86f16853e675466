"""Metrics shared by training-time validation and the evaluation report."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import ndimage
from scipy.stats import rankdata

from .data import Box

STRIDE = 4
GRID = 128
PATCH_CELLS = 8  # lesion-vs-lung patches are 32x32 px = 8x8 heatmap cells
EIGHT = np.ones((3, 3), dtype=bool)


# ------------------------------------------------------------------ box extraction
def extract_boxes(heat: np.ndarray, thr: float, max_boxes: int = 10) -> list[dict]:
    """THE CONTRACT box extraction on a [128,128] probability map.

    threshold >= thr; 8-connected components; box (512 space) =
    [min_col*4, min_row*4, (max_col+1)*4, (max_row+1)*4]; score = max probability in the
    component; single-cell components with max < thr + 0.1 are dropped; sort by score
    (descending; ties keep raster order of each component's first cell); keep <= 10.
    """
    heat = np.asarray(heat, dtype=np.float32).reshape(GRID, GRID)
    lab, n = ndimage.label(heat >= np.float32(thr), structure=EIGHT)
    out: list[dict] = []
    for k, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None:
            continue
        comp = lab[sl] == k
        vals = heat[sl][comp]
        score = float(vals.max())
        if comp.sum() == 1 and score < thr + 0.1:
            continue
        r0, r1 = sl[0].start, sl[0].stop
        c0, c1 = sl[1].start, sl[1].stop
        out.append({"box": [c0 * STRIDE, r0 * STRIDE, c1 * STRIDE, r1 * STRIDE], "score": score})
    out.sort(key=lambda b: -b["score"])  # stable: ties keep raster order
    return out[:max_boxes]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_hits(pred: Sequence[float], gt: Box) -> bool:
    """A predicted box hits a true box if IoU >= 0.3 or its centre lies inside the true box."""
    cx, cy = (pred[0] + pred[2]) / 2, (pred[1] + pred[3]) / 2
    return iou(pred, gt) >= 0.3 or (gt[0] <= cx <= gt[2] and gt[1] <= cy <= gt[3])


def match_image(preds: list[dict], gts: list[Box]) -> tuple[int, int]:
    """Greedy by score: -> (true boxes hit, false-positive predicted boxes)."""
    used: set[int] = set()
    fp = 0
    for p in preds:
        j = next((j for j, g in enumerate(gts) if j not in used and box_hits(p["box"], g)), None)
        if j is None:
            # a second box on an already-found lesion is not counted as a false positive
            if not any(box_hits(p["box"], g) for g in gts):
                fp += 1
        else:
            used.add(j)
    return len(used), fp


def froc(heats: np.ndarray, gts: list[list[Box]], thresholds: np.ndarray) -> dict:
    """Sweep the heatmap (box) threshold; -> sensitivity and FP/image per threshold."""
    n_gt = sum(len(g) for g in gts)
    sens, fppi = [], []
    for t in thresholds:
        hit = fp = 0
        for h, g in zip(heats, gts):
            a, b = match_image(extract_boxes(h, float(t)), g)
            hit += a
            fp += b
        sens.append(hit / max(n_gt, 1))
        fppi.append(fp / len(heats))
    return {"thresholds": [float(t) for t in thresholds], "sensitivity": sens, "fp_per_image": fppi}


def sens_at_fppi(curve: dict, target: float) -> tuple[float, float | None]:
    """Best sensitivity with FP/image <= target, and the (highest-sens) threshold giving it."""
    best, thr = 0.0, None
    for t, s, f in zip(curve["thresholds"], curve["sensitivity"], curve["fp_per_image"]):
        if f <= target and (s >= best or thr is None):  # ties: prefer the higher threshold
            best, thr = s, t
    return best, thr


# ------------------------------------------------------------------ localisation
def cell_in_box(r: int, c: int, box: Box, tol_cells: int = 0) -> bool:
    """Heatmap cell (r, c) (covering [4c,4c+4) x [4r,4r+4)) intersects the box (+ tolerance)."""
    x0, y0 = (c - tol_cells) * STRIDE, (r - tol_cells) * STRIDE
    x1, y1 = (c + 1 + tol_cells) * STRIDE, (r + 1 + tol_cells) * STRIDE
    return x0 < box[2] and x1 > box[0] and y0 < box[3] and y1 > box[1]


def pointing_hit(heat: np.ndarray, boxes: list[Box]) -> bool:
    r, c = np.unravel_index(int(np.argmax(heat)), heat.shape[-2:])
    return any(cell_in_box(int(r), int(c), b) for b in boxes)


def lesion_patch_labels(boxes: list[Box], envelope: np.ndarray) -> np.ndarray:
    """16x16 patch grid: 1 = patch centre inside a box, 0 = lung patch (inside the lung
    envelope, touching no box), -1 = ignored."""
    n = GRID // PATCH_CELLS
    lab = -np.ones((n, n), dtype=np.int8)
    size = PATCH_CELLS * STRIDE
    for i in range(n):
        for j in range(n):
            cx, cy = (j + 0.5) * size, (i + 0.5) * size
            px = (j * size, i * size, (j + 1) * size, (i + 1) * size)
            if any(b[0] <= cx < b[2] and b[1] <= cy < b[3] for b in boxes):
                lab[i, j] = 1
            elif envelope[i, j] and not any(iou(px, b) > 0 for b in boxes):
                lab[i, j] = 0
    return lab


def lung_envelope(train_boxes: list[list[Box]], min_freq: float = 0.01) -> np.ndarray:
    """Data-driven lung-field proxy (no lung masks available): 32x32 patches that any
    training lesion box touches in >= min_freq of training images."""
    n = GRID // PATCH_CELLS
    size = PATCH_CELLS * STRIDE
    cnt = np.zeros((n, n))
    for boxes in train_boxes:
        hit = np.zeros((n, n), dtype=bool)
        for b in boxes:
            j0, j1 = int(b[0] // size), int(min(b[2] - 1e-6, 511) // size)
            i0, i1 = int(b[1] // size), int(min(b[3] - 1e-6, 511) // size)
            hit[i0:i1 + 1, j0:j1 + 1] = True
        cnt += hit
    return cnt / max(len(train_boxes), 1) >= min_freq


def patch_scores(heat: np.ndarray) -> np.ndarray:
    n = GRID // PATCH_CELLS
    return heat.reshape(n, PATCH_CELLS, n, PATCH_CELLS).mean(axis=(1, 3))


# ---------------------------------------------------------------- classification
def auc(y: np.ndarray, s: np.ndarray) -> float:
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_ci(stat: Callable[[np.ndarray], float], n: int, groups: np.ndarray | None = None,
                 reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile 95% CI; resamples indices 0..n-1 (within each group if given)."""
    rng = np.random.default_rng(seed)
    vals = []
    idx_all = np.arange(n)
    for _ in range(reps):
        if groups is None:
            idx = rng.integers(0, n, n)
        else:
            idx = np.concatenate([rng.choice(idx_all[groups == g], (groups == g).sum())
                                  for g in np.unique(groups)])
        v = stat(idx)
        if np.isfinite(v):
            vals.append(v)
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def auc_ci(y: np.ndarray, s: np.ndarray, reps: int = 2000, seed: int = 0) -> dict:
    y = np.asarray(y).astype(int)
    s = np.asarray(s, dtype=np.float64)
    lo, hi = bootstrap_ci(lambda i: auc(y[i], s[i]), len(y), groups=y, reps=reps, seed=seed)
    return {"auc": auc(y, s), "ci95": [lo, hi], "n_pos": int(y.sum()), "n_neg": int((1 - y).sum())}


def sens_spec(y: np.ndarray, s: np.ndarray, t: float) -> tuple[float, float]:
    y = np.asarray(y).astype(bool)
    s = np.asarray(s)
    return float((s[y] >= t).mean()), float((s[~y] < t).mean())


def sens_at_spec(y: np.ndarray, s: np.ndarray, spec: float) -> float:
    y = np.asarray(y).astype(bool)
    best = 0.0
    for t in np.append(np.unique(s), np.inf):
        se, sp = sens_spec(y, s, t)
        if sp >= spec:
            best = max(best, se)
    return best


def threshold_for_sensitivity(pos_scores: np.ndarray, target: float) -> float:
    """Largest threshold t with mean(pos >= t) >= target."""
    p = np.sort(np.asarray(pos_scores))[::-1]
    k = int(np.ceil(target * len(p))) - 1
    return float(p[max(k, 0)])


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[float, list[dict]]:
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total, rows = 0.0, []
    for b in range(bins):
        m = idx == b
        if m.any():
            conf, acc = float(p[m].mean()), float(y[m].mean())
            total += m.mean() * abs(acc - conf)
            rows.append({"bin": b, "n": int(m.sum()), "confidence": conf, "accuracy": acc})
    return float(total), rows
