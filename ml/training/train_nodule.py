"""Train the nodule/mass classifier with an auxiliary localisation heatmap.

Sampling balances source x class (JSRT/NIH x positive/negative) so that source carries no
information about the label; NIH "other findings" (-1) are noisy negatives (loss weight
0.5) by default (--other exclude drops them). The heatmap loss uses JSRT images only
(positives: nodule boxes; negatives: empty map), so heatmap supervision is source-neutral.
A small gradient-reversal source adversary on the pooled features discourages source cues.

    python train_nodule.py --budget-min 30 [--other noisy|exclude] [--adv 0.1]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hoichan_ml import metrics as M
from hoichan_ml.data import box_mask, load_image_cache, load_nodules
from hoichan_ml.models import NoduleNet, n_params
from hoichan_ml.train_utils import (Run, Schedule, augment, dice_loss, focal_bce, load_checkpoint,
                                    normalise_batch, plan_epochs, setup, to_unit)


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:  # type: ignore[override]
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        return -ctx.lam * g, None


@torch.no_grad()
def predict(model: NoduleNet, imgs_u8: np.ndarray, bs: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (scores [N], heatmaps [N,128,128], pooled features [N,F])."""
    model.eval()
    s, h, f = [], [], []
    for i in range(0, len(imgs_u8), bs):
        x = normalise_batch(to_unit(imgs_u8[i:i + bs]))
        logit, hl, pooled = model(x)
        s.append(torch.sigmoid(logit).numpy())
        h.append((torch.sigmoid(hl) * model.heat_mask)[:, 0].numpy())
        f.append(pooled.numpy())
    return np.concatenate(s), np.concatenate(h), np.concatenate(f)


def validate(scores: np.ndarray, labels: np.ndarray, sources: np.ndarray) -> dict:
    j = sources == "JSRT"
    n = sources == "NIH"
    out = {"auc_jsrt": M.auc(labels[j] == 1, scores[j]),
           "auc_nih_excl_other": M.auc(labels[n & (labels >= 0)] == 1, scores[n & (labels >= 0)]),
           "auc_nih_incl_other": M.auc(labels[n] == 1, scores[n])}
    out["val_metric"] = 0.5 * out["auc_jsrt"] + 0.25 * (out["auc_nih_excl_other"] + out["auc_nih_incl_other"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget-min", type=float, default=30.0)
    ap.add_argument("--max-epochs", type=int, default=60)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--internal", type=int, default=256, choices=[256, 512],
                    help="in-graph working resolution (input is always 512)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--other", choices=["noisy", "exclude"], default="noisy")
    ap.add_argument("--other-weight", type=float, default=0.5)
    ap.add_argument("--heat-weight", type=float, default=1.0)
    ap.add_argument("--adv", type=float, default=0.1, help="gradient-reversal weight (0 = off)")
    ap.add_argument("--steps-per-epoch", type=int, default=0, help="debug: cap steps per epoch")
    ap.add_argument("--init-from", default="", help="checkpoint whose backbone/head initialise the net "
                    "(e.g. the TB lesion model: same architecture, different data and task)")
    ap.add_argument("--run", default="nodule")
    args = ap.parse_args()
    setup(args.seed)

    recs = load_nodules()
    imgs = load_image_cache(recs, "nodules")
    labels = np.array([r.label for r in recs])
    sources = np.array([r.source for r in recs])
    masks = np.stack([box_mask(r.boxes) for r in recs])
    tr = np.array([i for i, r in enumerate(recs) if r.split == "train"
                   and not (args.other == "exclude" and r.label == -1)])
    va = np.array([i for i, r in enumerate(recs) if r.split == "val"])
    strata = np.array([f"{sources[i]}:{int(labels[i] == 1)}" for i in tr])
    counts = {s: int((strata == s).sum()) for s in np.unique(strata)}
    w = np.array([1.0 / counts[s] for s in strata])
    w /= w.sum()
    print(f"train {len(tr)} strata {counts} val {len(va)}", flush=True)

    model = NoduleNet(args.width, internal=args.internal)
    if args.init_from:
        src_state = load_checkpoint(Path(args.init_from).expanduser())["model"]
        keep = {k: v for k, v in src_state.items() if k.startswith(("backbone.", "head."))}
        missing = model.load_state_dict(keep, strict=False)
        print(f"initialised {len(keep)} tensors from {args.init_from}; "
              f"not initialised: {missing.missing_keys}", flush=True)
    adversary = nn.Linear(model.feature_dim, 1)
    print(f"params {n_params(model)}", flush=True)
    opt = torch.optim.AdamW(list(model.parameters()) + list(adversary.parameters()),
                            lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = args.steps_per_epoch or len(tr) // args.bs
    sched = Schedule(args.lr, warmup=min(50, steps_per_epoch))
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    run = Run(args.run)
    meta = {"kind": "nodule", "width": args.width, "internal": args.internal, "seed": args.seed, "args": vars(args)}
    epochs, step, epoch = args.max_epochs, 0, 0
    while epoch < epochs:
        epoch += 1
        model.train()
        t0 = time.time()
        draw = rng.choice(tr, size=steps_per_epoch * args.bs, replace=True, p=w)
        losses = []
        for k in range(steps_per_epoch):
            idx = np.sort(draw[k * args.bs:(k + 1) * args.bs])
            x, y_heat = augment(to_unit(imgs[idx]), torch.from_numpy(masks[idx]).unsqueeze(1), gen)
            logit, heat_logits, pooled = model(normalise_batch(x))
            lab = torch.from_numpy(labels[idx])
            y = (lab == 1).float()
            cw = torch.where(lab == -1, args.other_weight, 1.0)
            loss = (F.binary_cross_entropy_with_logits(logit, y, reduction="none") * cw).mean()
            is_j = torch.from_numpy(sources[idx] == "JSRT")
            if is_j.any() and args.heat_weight > 0:
                hl, ht = heat_logits[is_j], y_heat[is_j] * model.heat_mask
                hloss = 20.0 * focal_bce(hl, ht)
                pos = ht.flatten(1).sum(1) > 0
                if pos.any():
                    hloss = hloss + dice_loss(hl[pos], ht[pos])
                loss = loss + args.heat_weight * hloss * is_j.float().mean()
            if args.adv > 0:
                ramp = min(1.0, step / max(1, 2 * steps_per_epoch))
                src_logit = adversary(GradReverse.apply(pooled, args.adv * ramp)).squeeze(1)
                loss = loss + F.binary_cross_entropy_with_logits(src_logit, is_j.float())
            for g in opt.param_groups:
                g["lr"] = sched.lr(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
        train_s = time.time() - t0
        s, _, _ = predict(model, imgs[va])
        vm = validate(s, labels[va], sources[va])
        epoch_s = time.time() - t0
        if epoch == 1:
            epochs = plan_epochs(epoch_s, args.budget_min, args.max_epochs)
            sched.total = epochs * steps_per_epoch
            print(f"epoch time {epoch_s:.0f}s -> {epochs} epochs", flush=True)
        else:  # CPU contention varies: shrink the plan if the budget would be overrun
            elapsed = time.time() - run.t0
            fit = epoch + int((args.budget_min * 60 - elapsed) // (elapsed / epoch))
            if fit < epochs:
                epochs = max(epoch, fit)
                sched.total = epochs * steps_per_epoch
                print(f"re-planned -> {epochs} epochs", flush=True)
        run.log({"epoch": epoch, "epochs_planned": epochs, "train_loss": float(np.mean(losses)),
                 "train_s": round(train_s, 1), "epoch_s": round(epoch_s, 1), "lr": sched.lr(step),
                 **vm}, model, vm["val_metric"], meta)


if __name__ == "__main__":
    main()
