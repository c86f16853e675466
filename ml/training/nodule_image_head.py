"""Image-level nodule score: a logistic head on the shipped nodule network's features, trained with
the image labels of EVERY training image (NIH nodule/mass images without a box included).

The heatmap model (train_nodule_nih.py) learns only from boxed positives, and its score is the
heatmap maximum. This head reads pooled features of the same network (mean / max of the deepest
features, mean of the 1/4 FPN map, heatmap maximum and top-k means: hoichan_ml.models.ImageHead)
and is fitted as an L2 logistic regression on the train split of splits/nodule_split.csv, each of
JSRT+, JSRT-, NIH+, NIH- given the same total weight (so the hospital cannot stand in for the
label). The L2 strength is chosen by 5-fold cross-validation grouped by patient inside train
(mean per-source AUC of out-of-fold predictions). The exported `score` is the head's probability,
computed in the graph; the heatmap output and box extraction are unchanged.

    python nodule_image_head.py --features           # features of train / validation / calibration
    python nodule_image_head.py --decide             # fit, validation table, decision (test untouched)
    python nodule_image_head.py --test               # once, after the decision: test split
      -> $HOICHAN_CACHE/runs/nodule-head/{features.npz,decision.json,best.pt}, ml/reports/nodule-image-head.{md,json}

THE SHIP RULE (written before any candidate's number was computed):
Candidates, fixed in advance:
  H1  the head above on the features of the image;
  H2  the same with each feature averaged over the image and its horizontal mirror (two network
      passes in the graph, twice the inference time).
Validation metric: the mean of the per-source AUCs (JSRT, NIH; positive = nodule/mass, negative =
anything else) on the validation split, as in nodule_nih_report.py. The incumbent is the shipped
model (its heatmap-maximum score, 2026.12.06-1), whose validation figure is optimistic because its
checkpoint was chosen on this split. A candidate is eligible only if its validation mean is higher
than the shipped model's by >= 0.02 AND neither source's validation AUC is lower than the shipped
model's by more than 0.05. H2 is preferred to H1 only if its validation mean is higher by >= 0.01
(it doubles the inference time); otherwise the eligible candidate with the higher validation mean.
If none is eligible, the shipped model stays. The test split is scored once, after the decision is
written, for the shipped model and the chosen candidate (if any); it chooses nothing.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from hoichan_ml import manifest
from hoichan_ml import metrics as M
from hoichan_ml.data import load_image_cache, load_nodule_split
from hoichan_ml.models import ImageHead, NoduleNet
from hoichan_ml.train_utils import RUNS, load_checkpoint, normalise_batch, setup, to_unit
from nodule_nih_report import SOURCES, auc_by_patient

RUN = RUNS / "nodule-head"
BASE = RUNS / "nodule-nih" / "best.pt"  # the checkpoint exported as 2026.12.06-1
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
CANDIDATES = {"H1": False, "H2": True}  # name -> flip-averaged features
MAX3 = -3  # column of the logit of the heatmap's 3x3-smoothed maximum (the shipped score)


def rule() -> str:
    return __doc__.split("THE SHIP RULE (written before any candidate's number was computed):")[1].strip()


def load_base() -> NoduleNet:
    st = load_checkpoint(BASE)
    net = NoduleNet(st["meta"]["width"])
    net.load_state_dict(st["model"])
    return net.eval()


@torch.no_grad()
def extract(net: NoduleNet, imgs_u8: np.ndarray, bs: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """-> features of the images and of their mirrors, [N,F] each."""
    f0, f1 = [], []
    for i in range(0, len(imgs_u8), bs):
        x = normalise_batch(to_unit(imgs_u8[i:i + bs]))
        f0.append(ImageHead.features(net, x)[0].numpy())
        f1.append(ImageHead.features(net, torch.flip(x, dims=[3]))[0].numpy())
    return np.concatenate(f0), np.concatenate(f1)


def per_source_auc(y: np.ndarray, s: np.ndarray, src: np.ndarray) -> dict:
    out = {k: float(M.auc(y[src == k], s[src == k])) for k in SOURCES}
    out["mean"] = float(np.mean([out[k] for k in SOURCES]))
    return out


def group_weights(y: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Each (source, label) group gets the same total weight; the weights average to 1."""
    w = np.zeros(len(y))
    for k in SOURCES:
        for v in (0, 1):
            m = (src == k) & (y == v)
            w[m] = 1.0 / m.sum()
    return w * len(y) / w.sum()


def fit(x: np.ndarray, y: np.ndarray, src: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, float, dict]:
    """Standardised L2 logistic regression; C by patient-grouped 5-fold CV inside train.
    -> (weights folded with the standardisation [F], bias, CV table)."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = group_weights(y, src)
    cv = {}
    for c in C_GRID:
        oof = np.zeros(len(y))
        for tr, te in GroupKFold(5).split(z, y, groups):
            clf = LogisticRegression(C=c, max_iter=2000).fit(z[tr], y[tr], sample_weight=w[tr])
            oof[te] = clf.decision_function(z[te])
        cv[c] = per_source_auc(y, oof, src)["mean"]
    best = max(cv, key=lambda c: cv[c])
    clf = LogisticRegression(C=best, max_iter=2000).fit(z, y, sample_weight=w)
    coef = clf.coef_[0] / sd
    return coef, float(clf.intercept_[0] - (clf.coef_[0] * mu / sd).sum()), {"C": best, "cv_mean_auc": cv}


def main() -> None:
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--features", action="store_true")
    g.add_argument("--decide", action="store_true")
    g.add_argument("--test", action="store_true")
    ap.add_argument("--reps", type=int, default=2000)
    args = ap.parse_args()
    setup(0)
    RUN.mkdir(parents=True, exist_ok=True)
    recs = load_nodule_split()
    split = np.array([r.split for r in recs])
    src = np.array([r.source for r in recs])
    y = np.array([int(r.label == 1) for r in recs])
    pat = np.array([r.patient for r in recs])
    if args.features:
        imgs = load_image_cache(recs, "nodules-v2")
        idx = np.flatnonzero(np.isin(split, ["train", "validation", "calibration"]))
        f0, f1 = extract(load_base(), imgs[idx])
        np.savez(RUN / "features.npz", idx=idx, f0=f0, f1=f1)
        print(f"features of {len(idx)} images: {f0.shape[1]} each")
        return
    if args.decide:
        decide(np.load(RUN / "features.npz"), split, src, y, pat)
        return
    test(recs, split, src, y, pat, args.reps)


def decide(d, split: np.ndarray, src: np.ndarray, y: np.ndarray, pat: np.ndarray) -> None:
    idx = d["idx"]
    tr, va = split[idx] == "train", split[idx] == "validation"
    res: dict = {"rule": rule(), "validation": {"shipped": per_source_auc(y[idx][va], d["f0"][va, MAX3], src[idx][va])},
                 "fits": {}}
    heads = {}
    for name, flip in CANDIDATES.items():
        f = 0.5 * (d["f0"] + d["f1"]) if flip else d["f0"]
        coef, bias, cv = fit(f[tr], y[idx][tr], src[idx][tr], pat[idx][tr])
        heads[name] = (coef, bias, flip)
        res["fits"][name] = cv
        res["validation"][name] = per_source_auc(y[idx][va], f[va] @ coef + bias, src[idx][va])
    v = res["validation"]
    ref = v["shipped"]
    eligible = [n for n in CANDIDATES if v[n]["mean"] >= ref["mean"] + 0.02
                and all(v[n][k] >= ref[k] - 0.05 for k in SOURCES)]
    if "H1" in eligible and "H2" in eligible:
        choice = "H2" if v["H2"]["mean"] >= v["H1"]["mean"] + 0.01 else "H1"
    else:
        choice = eligible[0] if eligible else None
    res["eligible"], res["choice"] = eligible, choice
    (RUN / "decision.json").write_text(json.dumps(res, indent=1) + "\n")
    (manifest.REPORTS / "nodule-image-head.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: res[k] for k in ("validation", "fits", "eligible", "choice")}, indent=1))
    if choice:
        coef, bias, flip = heads[choice]
        head = ImageHead(len(coef), flip)
        with torch.no_grad():
            head.linear.weight.copy_(torch.from_numpy(coef[None].astype(np.float32)))
            head.linear.bias.fill_(bias)
        st = load_checkpoint(BASE)
        st["head"] = {"state": head.state_dict(), "n_features": len(coef), "flip": flip}
        st["meta"] = {**st["meta"], "head": choice, "head_C": res["fits"][choice]["C"],
                      "metric": v[choice]["mean"], "base_checkpoint": str(BASE)}
        torch.save(st, RUN / "best.pt")
        print(f"ship {choice}: {RUN / 'best.pt'}")
    else:
        print("no candidate is eligible: keep the shipped model")


def test(recs, split: np.ndarray, src: np.ndarray, y: np.ndarray, pat: np.ndarray, reps: int) -> None:
    """Once, after decide: the test split for the shipped model and the chosen head."""
    dec = json.loads((RUN / "decision.json").read_text())
    assert "test" not in dec, "the test split was already scored"
    idx = np.flatnonzero(split == "test")
    imgs = load_image_cache(recs, "nodules-v2")
    f0, f1 = extract(load_base(), imgs[idx])
    scores = {"shipped": f0[:, MAX3]}
    if dec["choice"]:
        head = load_checkpoint(RUN / "best.pt")["head"]
        w, b = head["state"]["linear.weight"].numpy()[0], float(head["state"]["linear.bias"])
        scores[dec["choice"]] = (0.5 * (f0 + f1) if head["flip"] else f0) @ w + b
    dec["test"] = {m: {k: auc_by_patient(y[idx][src[idx] == k], s[src[idx] == k], pat[idx][src[idx] == k], reps)
                       for k in SOURCES} for m, s in scores.items()}
    for m in dec["test"]:
        dec["test"][m]["mean"] = round(float(np.mean([dec["test"][m][k]["auc"] for k in SOURCES])), 4)
    (RUN / "decision.json").write_text(json.dumps(dec, indent=1) + "\n")
    (manifest.REPORTS / "nodule-image-head.json").write_text(json.dumps(dec, indent=1) + "\n")
    print(json.dumps(dec["test"], indent=1))


if __name__ == "__main__":
    main()
