"""Compare nodule image-score definitions on validation (classifier head vs heatmap maximum),
per source. Used once to choose export.py --score-mode; the choice is reported.

    python compare_scores.py [--run nodule]
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from hoichan_ml import manifest
from hoichan_ml import metrics as M
from hoichan_ml.data import load_image_cache, load_nodules
from hoichan_ml.models import NoduleNet, TBLesionNet
from hoichan_ml.train_utils import RUNS, load_checkpoint, normalise_batch, setup, to_unit


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="nodule")
    args = ap.parse_args()
    setup(0)
    recs = load_nodules()
    imgs = load_image_cache(recs, "nodules")
    va = [i for i, r in enumerate(recs) if r.split == "val"]
    st = load_checkpoint(RUNS / args.run / "best.pt")
    net = NoduleNet(st["meta"]["width"], internal=st["meta"].get("internal", 512))
    net.load_state_dict(st["model"])
    net.eval()
    cls, hm = [], []
    with torch.no_grad():
        for i in range(0, len(va), 8):
            logit, hl, _ = net(normalise_batch(to_unit(imgs[va[i:i + 8]])))
            cls.append(torch.sigmoid(logit).numpy())
            hm.append(TBLesionNet.score_from_heatmap(torch.sigmoid(hl) * net.heat_mask).numpy())
    scores = {"classifier": np.concatenate(cls), "heatmap": np.concatenate(hm)}
    lab = np.array([recs[i].label for i in va])
    src = np.array([recs[i].source for i in va])
    out = {"checkpoint_epoch": st["meta"]["epoch"]}
    for mode, s in scores.items():
        j, n = src == "JSRT", src == "NIH"
        out[mode] = {"auc_jsrt": M.auc(lab[j] == 1, s[j]),
                     "auc_nih_excl_other": M.auc(lab[n & (lab >= 0)] == 1, s[n & (lab >= 0)]),
                     "auc_nih_incl_other": M.auc(lab[n] == 1, s[n])}
        o = out[mode]
        o["val_metric"] = 0.5 * o["auc_jsrt"] + 0.25 * (o["auc_nih_excl_other"] + o["auc_nih_incl_other"])
    out["chosen"] = max(("classifier", "heatmap"), key=lambda m: out[m]["val_metric"])
    (manifest.REPORTS / "nodule-score-mode.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
