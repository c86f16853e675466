"""Round 3 of the nodule experiments of 2026-12-06 (rounds 1 and 2: nodule_image_head.py and
nodule_image_branch.py; no candidate was eligible). Two changes of the heatmap itself:

    HOICHAN_THREADS=1 python train_nodule_nih.py --budget-min 25 --lr 3e-4 --seed 4 --run nodule-ft
    python nodule_round3.py --decide       # validation table and decision (test untouched)
      -> $HOICHAN_CACHE/runs/nodule-ft/decision.json, ml/reports/nodule-round3.json

THE SHIP RULE (round 3, written before any round-3 candidate's number was computed):
Candidates, fixed in advance:
  F1  more epochs from the shipped weights: train_nodule_nih.py initialised from ml/weights/nodule.onnx,
      lr 3e-4, seed 4, 25-minute budget (run nodule-ft); the LAST epoch's weights (last.pt), no
      checkpoint selection (the per-epoch validation figures it prints choose nothing);
  L1  lung-field restriction: the shipped heatmap multiplied by a fixed envelope, the 32x32-pixel
      patches touched by a lesion box in >= 1 % of the images of TBX11K's train split or of the
      nodule/mass-boxed images of the nodule train split (hoichan_ml.metrics.lung_envelope), the
      score being the 3x3-smoothed maximum of the restricted heatmap.
Validation metric, incumbent and eligibility as in rounds 1 and 2: mean of the per-source
validation AUCs (JSRT, NIH; positive = nodule/mass, negative = anything else); eligible only if >=
the shipped model's + 0.02 and neither source lower than the shipped model's by more than 0.05;
among the eligible, the higher validation mean. If none is eligible, the shipped model stays. The
test split is scored once, after the decision is written, only for a chosen candidate; it chooses
nothing. With rounds 1 and 2, seven candidates have met this validation split.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from hoichan_ml import manifest
from hoichan_ml.data import load_image_cache, load_nodule_split, load_tb
from hoichan_ml.metrics import lung_envelope
from hoichan_ml.models import NoduleNet, TBLesionNet
from hoichan_ml.train_utils import RUNS, load_checkpoint, normalise_batch, setup, to_unit
from nodule_image_head import load_base, per_source_auc
from nodule_nih_report import SOURCES

RUN = RUNS / "nodule-ft"


def rule() -> str:
    return __doc__.split("THE SHIP RULE (round 3, written before any round-3 candidate's number was computed):")[1].strip()


def envelope(recs) -> torch.Tensor:
    """[1,1,128,128] 0/1 lung-field proxy on the heatmap grid."""
    boxes = [r.boxes for r in load_tb() if r.split == "train"]
    boxes += [r.boxes for r in recs if r.split == "train" and r.label == 1 and r.boxes]
    env = lung_envelope(boxes).astype(np.float32)  # 16x16 patches of 8x8 cells
    return torch.from_numpy(np.kron(env, np.ones((8, 8), np.float32)))[None, None]


@torch.no_grad()
def scores(net: NoduleNet, imgs_u8: np.ndarray, env: torch.Tensor | None, bs: int = 8) -> np.ndarray:
    out = []
    for i in range(0, len(imgs_u8), bs):
        heat = net.heat(normalise_batch(to_unit(imgs_u8[i:i + bs])))
        if env is not None:
            heat = heat * env
        out.append(TBLesionNet.score_from_heatmap(heat).numpy())
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--decide", action="store_true", required=True)
    ap.parse_args()
    setup(0)
    recs = load_nodule_split()
    split = np.array([r.split for r in recs])
    src = np.array([r.source for r in recs])
    y = np.array([int(r.label == 1) for r in recs])
    va = np.flatnonzero(split == "validation")
    imgs = load_image_cache(recs, "nodules-v2")[va]
    base = load_base()
    st = load_checkpoint(RUN / "last.pt")
    ft = NoduleNet(st["meta"]["width"])
    ft.load_state_dict(st["model"])
    ft.eval()
    env = envelope(recs)
    s = {"shipped": scores(base, imgs, None), "F1": scores(ft, imgs, None), "L1": scores(base, imgs, env)}
    v = {n: per_source_auc(y[va], x, src[va]) for n, x in s.items()}
    ref = v["shipped"]
    eligible = [n for n in ("F1", "L1") if v[n]["mean"] >= ref["mean"] + 0.02 and all(v[n][k] >= ref[k] - 0.05 for k in SOURCES)]
    res = {"rule": rule(), "validation": v, "F1_epoch": st["meta"]["epoch"],
           "L1_envelope_cells": int(env.sum()), "eligible": eligible,
           "choice": max(eligible, key=lambda n: v[n]["mean"]) if eligible else None}
    (RUN / "decision.json").write_text(json.dumps(res, indent=1) + "\n")
    (manifest.REPORTS / "nodule-round3.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: res[k] for k in res if k != "rule"}, indent=1))


if __name__ == "__main__":
    main()
