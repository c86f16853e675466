"""Train the TB lesion heatmap model (TBX11K TB-positive images, box-derived masks).

    python train_tb.py --budget-min 30 [--width 16] [--max-epochs 60] [--run tb]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from hoichan_ml import metrics as M
from hoichan_ml.data import box_mask, load_image_cache, load_tb
from hoichan_ml.models import TBLesionNet, n_params
from hoichan_ml.train_utils import (Run, Schedule, augment, dice_loss, normalise_batch,
                                    plan_epochs, setup, to_unit)


@torch.no_grad()
def predict(model: torch.nn.Module, imgs_u8: np.ndarray, bs: int = 8) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(imgs_u8), bs):
        x = normalise_batch(to_unit(imgs_u8[i:i + bs]))
        out.append(torch.sigmoid(model(x))[:, 0].numpy())
    return np.concatenate(out)


def random_crops(x: torch.Tensor, y: torch.Tensor, size: int, rng: np.random.Generator,
                 p_lesion: float = 0.7) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop size x size windows (offsets multiple of 4, so mask cells stay aligned); with
    probability p_lesion the window is centred near a random lesion cell. The network is
    fully convolutional and sees the same pixel scale, so it runs unchanged on 512x512."""
    cs = size // 4
    xs, ys = [], []
    for b in range(x.shape[0]):
        cells = torch.nonzero(y[b, 0] > 0)
        if len(cells) and rng.random() < p_lesion:
            r, c = cells[rng.integers(len(cells))].tolist()
            r0 = int(np.clip(r - cs // 2 + rng.integers(-cs // 4, cs // 4 + 1), 0, 128 - cs))
            c0 = int(np.clip(c - cs // 2 + rng.integers(-cs // 4, cs // 4 + 1), 0, 128 - cs))
        else:
            r0, c0 = int(rng.integers(0, 128 - cs + 1)), int(rng.integers(0, 128 - cs + 1))
        xs.append(x[b, :, 4 * r0:4 * r0 + size, 4 * c0:4 * c0 + size])
        ys.append(y[b, :, r0:r0 + cs, c0:c0 + cs])
    return torch.stack(xs), torch.stack(ys)


def validate(heats: np.ndarray, boxes: list[list], envelope: np.ndarray) -> dict:
    with_boxes = [i for i, b in enumerate(boxes) if b]
    point = float(np.mean([M.pointing_hit(heats[i], boxes[i]) for i in with_boxes]))
    ys, ss = [], []
    for i in with_boxes:
        lab = M.lesion_patch_labels(boxes[i], envelope)
        sc = M.patch_scores(heats[i])
        ys.append(lab[lab >= 0])
        ss.append(sc[lab >= 0])
    patch_auc = M.auc(np.concatenate(ys), np.concatenate(ss))
    return {"pointing": point, "patch_auc": patch_auc}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-min", type=float, default=30.0)
    ap.add_argument("--max-epochs", type=int, default=60)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256, help="training crop size (0 = full 512)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps-per-epoch", type=int, default=0, help="debug: cap steps per epoch")
    ap.add_argument("--run", default="tb")
    args = ap.parse_args()
    setup(args.seed)

    recs = load_tb()
    imgs = load_image_cache(recs, "tb")
    masks = np.stack([box_mask(r.boxes) for r in recs])
    tr = np.array([i for i, r in enumerate(recs) if r.split == "train"])
    va = np.array([i for i, r in enumerate(recs) if r.split == "val"])
    envelope = M.lung_envelope([recs[i].boxes for i in tr])
    pos_frac = float(masks[tr].mean())
    print(f"train {len(tr)} val {len(va)} lesion-cell fraction {pos_frac:.3f}", flush=True)

    model = TBLesionNet(args.width)
    print(f"params {n_params(model)}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = args.steps_per_epoch or len(tr) // args.bs
    sched = Schedule(args.lr, warmup=min(50, steps_per_epoch))
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    pos_weight = torch.tensor(min(10.0, (1 - pos_frac) / max(pos_frac, 1e-3)) ** 0.5)
    run = Run(args.run)
    meta = {"kind": "tb-lesion", "width": args.width, "seed": args.seed, "args": vars(args)}
    epochs, step, epoch = args.max_epochs, 0, 0
    while epoch < epochs:
        epoch += 1
        model.train()
        t0 = time.time()
        order = rng.permutation(tr)
        losses = []
        for k in range(steps_per_epoch):
            idx = np.sort(order[k * args.bs:(k + 1) * args.bs])
            x, y = augment(to_unit(imgs[idx]), torch.from_numpy(masks[idx]).unsqueeze(1), gen)
            x = normalise_batch(x)  # per-image z-score over the full 512 image, as at inference
            if args.crop:
                x, y = random_crops(x, y, args.crop, rng)
            logits = model(x)
            loss = (F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
                    + dice_loss(logits, y))
            for g in opt.param_groups:
                g["lr"] = sched.lr(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        train_s = time.time() - t0
        vm = validate(predict(model, imgs[va]), [recs[i].boxes for i in va], envelope)
        epoch_s = time.time() - t0
        if epoch == 1:
            epochs = plan_epochs(epoch_s, args.budget_min, args.max_epochs)
            sched.total = epochs * steps_per_epoch
            print(f"epoch time {epoch_s:.0f}s -> {epochs} epochs", flush=True)
        metric = 0.5 * (vm["pointing"] + vm["patch_auc"])
        run.log({"epoch": epoch, "epochs_planned": epochs, "train_loss": float(np.mean(losses)),
                 "train_s": round(train_s, 1), "epoch_s": round(epoch_s, 1), "lr": sched.lr(step),
                 **vm, "val_metric": metric}, model, metric, meta)


if __name__ == "__main__":
    main()
