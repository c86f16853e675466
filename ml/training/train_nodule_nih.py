"""Nodule/mass model trained on JSRT and NIH together (cxr-nodules + nih-bbox), split by patient.

Splits (hoichan_ml.data.load_nodule_split, written to splits/nodule_split.csv): train trains,
validation chooses the checkpoint (and later the ship / no-ship decision against the shipped
model), calibration fits the calibration and the flag threshold (ml/calibration/calibrate.ts),
test chooses nothing (the test split of ml/reports/calibration.md, unchanged).

Loss: as train_nodule.py, a dense heatmap loss (focal BCE + Dice) on 128x128 crops at full 512
resolution, now with NIH's radiologist Nodule/Mass boxes beside JSRT's. Each step draws the same
number of positive and negative images from EACH source, so the source cannot stand in for the
label; positives are images with a nodule/mass box (positives without a box are not trained on),
negatives are every image without a nodule/mass label. Crops from positives are centred on the
nodule with probability --positive-bias; crops from NIH negatives that have a box of another
finding are centred on it with the same probability (hard negatives: effusion, atelectasis, ...).

Initialisation: --init-onnx (default: the shipped nodule model, ml/weights/nodule.onnx, whose
BatchNorms were folded at export; see hoichan_ml/onnx_init.py). Its training saw JSRT `train`
and chose its checkpoint on JSRT `val` and cxr-nodules' NIH images; it never saw nih-bbox.

    HOICHAN_THREADS=1 python train_nodule_nih.py --budget-min 40 --run nodule-nih
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from hoichan_ml import metrics as M
from hoichan_ml.data import box_mask, load_image_cache, load_nodule_split
from hoichan_ml.models import NoduleNet, n_params
from hoichan_ml.onnx_init import load_onnx_into, parity, reestimate_bn
from hoichan_ml.train_utils import (Run, Schedule, augment, dice_loss, focal_bce, normalise_batch,
                                    plan_epochs, setup, to_unit)
from train_nodule import predict

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def validate(scores: np.ndarray, labels: np.ndarray, sources: np.ndarray) -> dict:
    """Per-source AUC, positive = nodule/mass, negative = anything else (as on the test split)."""
    out = {}
    for s in ("JSRT", "NIH"):
        m = sources == s
        out[f"auc_{s.lower()}"] = M.auc(labels[m] == 1, scores[m])
    out["val_metric"] = 0.5 * (out["auc_jsrt"] + out["auc_nih"])
    return out


def focus_origins(focus: torch.Tensor, crop: int, bias: float, gen: torch.Generator) -> list[tuple[int, int]]:
    """Top-left corners (pixels, multiples of 4): with probability `bias` a window with a random
    cell of `focus` [B,1,128,128] in its central half, else anywhere."""
    out = []
    hi = (512 - crop) // 4
    jitter = crop // 16
    for t in focus[:, 0]:
        cells = torch.nonzero(t > 0)
        if len(cells) and torch.rand(1, generator=gen).item() < bias:
            r, c = cells[torch.randint(len(cells), (1,), generator=gen).item()].tolist()
            jr, jc = torch.randint(-jitter, jitter + 1, (2,), generator=gen).tolist()
            r0 = min(hi, max(0, r - crop // 8 + jr))
            c0 = min(hi, max(0, c - crop // 8 + jc))
        else:
            r0, c0 = torch.randint(0, hi + 1, (2,), generator=gen).tolist()
        out.append((4 * r0, 4 * c0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-min", type=float, default=40.0)
    ap.add_argument("--max-epochs", type=int, default=100)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--per-group", type=int, default=6, help="crops per step from each of JSRT+, JSRT-, NIH+, NIH-")
    ap.add_argument("--steps-per-epoch", type=int, default=40)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--positive-bias", type=float, default=0.8)
    ap.add_argument("--init-onnx", default=str(WEIGHTS / "nodule.onnx"), help="'' = from scratch")
    ap.add_argument("--run", default="nodule-nih")
    args = ap.parse_args()
    setup(args.seed)

    recs = load_nodule_split()
    imgs = load_image_cache(recs, "nodules-v2")
    labels = np.array([r.label for r in recs])
    sources = np.array([r.source for r in recs])
    split = np.array([r.split for r in recs])
    masks = np.stack([box_mask(r.boxes) for r in recs])
    others = np.stack([box_mask(r.other_boxes) for r in recs])
    tr = split == "train"
    pools = {(s, k): np.flatnonzero(tr & (sources == s) & ((labels == 1) & (masks.sum((1, 2)) > 0) if k == "pos" else labels != 1))
             for s in ("JSRT", "NIH") for k in ("pos", "neg")}
    va = np.flatnonzero(split == "validation")
    print("train pools " + ", ".join(f"{s}{k}={len(v)}" for (s, k), v in pools.items()) + f"; validation {len(va)}", flush=True)

    model = NoduleNet(16)
    if args.init_onnx:
        n = load_onnx_into(model, Path(args.init_onnx))
        model.eval()
        x = normalise_batch(to_unit(imgs[pools[("NIH", "neg")][:16]]))
        d0 = parity(model.heat, Path(args.init_onnx), x[:2].numpy())
        reestimate_bn(model, model.heat, x)
        d1 = parity(model.heat, Path(args.init_onnx), x[:2].numpy())
        print(f"initialised {n} convolutions from {args.init_onnx}; parity {d0:.2e} / after BN re-estimation {d1:.2e}", flush=True)
        assert d1 < 1e-4
    print(f"params {n_params(model)}", flush=True)

    s0, _ = predict(model, imgs[va])
    v0 = validate(s0, labels[va], sources[va])
    print("epoch 0 (initial weights):", v0, flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = Schedule(args.lr, warmup=min(50, args.steps_per_epoch))
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    run = Run(args.run)
    meta = {"kind": "nodule", "width": 16, "seed": args.seed, "args": vars(args), "initial_validation": v0}
    run.log({"epoch": 0, **v0}, model, v0["val_metric"], meta)
    epochs, step, epoch = args.max_epochs, 0, 0
    k = args.crop
    while epoch < epochs:
        epoch += 1
        model.train()
        t0 = time.time()
        losses = []
        for _ in range(args.steps_per_epoch):
            idx = np.concatenate([rng.choice(pools[g], args.per_group) for g in pools])
            stack = torch.from_numpy(np.stack([masks[idx], others[idx]], 1))
            x, y = augment(to_unit(imgs[idx]), stack, gen)
            x = normalise_batch(x) * model.in_mask
            y = y * model.heat_mask
            target, focus = y[:, :1], torch.where(y[:, :1].flatten(1).sum(1)[:, None, None, None] > 0, y[:, :1], y[:, 1:])
            origins = focus_origins(focus, k, args.positive_bias, gen)
            xc = torch.stack([x[b, :, r:r + k, c:c + k] for b, (r, c) in enumerate(origins)])
            yc = torch.stack([target[b, :, r // 4:(r + k) // 4, c // 4:(c + k) // 4] for b, (r, c) in enumerate(origins)])
            hl = model.crop_heat_logits(xc)
            loss = 20.0 * focal_bce(hl, yc)
            pos = yc.flatten(1).sum(1) > 0
            if pos.any():
                loss = loss + dice_loss(hl[pos], yc[pos])
            for g in opt.param_groups:
                g["lr"] = sched.lr(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(loss.item())
        train_s = time.time() - t0
        s, _ = predict(model, imgs[va])
        vm = validate(s, labels[va], sources[va])
        epoch_s = time.time() - t0
        if epoch == 1:
            epochs = plan_epochs(epoch_s, args.budget_min, args.max_epochs)
            sched.total = epochs * args.steps_per_epoch
            print(f"epoch time {epoch_s:.0f}s -> {epochs} epochs", flush=True)
        else:  # CPU contention varies: shrink the plan if the budget would be overrun
            elapsed = time.time() - run.t0
            fit = epoch + int((args.budget_min * 60 - elapsed) // (elapsed / epoch))
            if fit < epochs:
                epochs = max(epoch, fit)
                sched.total = epochs * args.steps_per_epoch
                print(f"re-planned -> {epochs} epochs", flush=True)
        run.log({"epoch": epoch, "epochs_planned": epochs, "train_loss": float(np.mean(losses)),
                 "train_s": round(train_s, 1), "epoch_s": round(epoch_s, 1), "lr": sched.lr(step), **vm},
                model, vm["val_metric"], meta)


if __name__ == "__main__":
    main()
