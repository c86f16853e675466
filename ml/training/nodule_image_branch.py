"""Round 2 of the image-level nodule score (round 1: nodule_image_head.py, where no candidate was
eligible: a linear head on pooled features scored below the heatmap maximum on validation).

Here an image branch (hoichan_ml.models.ImageBranch: copies of the two deepest encoder stages of
the shipped network, initialised from it, pooled into a linear layer) is trained end to end with
the image label of EVERY training image (NIH nodule/mass images without a box included) on the
shipped network's 1/16 encoder features, which are cached once (4 augmented versions of each
training image: affine, flip, gamma / contrast / brightness / noise, as in training). Each step
draws 8 images from each of JSRT+, JSRT-, NIH+, NIH- of the train split. Fixed schedule chosen
in advance (no checkpoint selection): 15 epochs of 40 steps, AdamW (1e-3 linear layer, 3e-4
stages, weight decay 1e-2), cosine decay; the last epoch's weights are the candidate.

    python nodule_image_branch.py --cache      # 1/16 features of train (x4 augmented) / validation / calibration
    python nodule_image_branch.py --train      # the branch (fixed schedule)
    python nodule_image_branch.py --decide     # validation table and decision (test untouched)
    python nodule_image_branch.py --test       # once, after the decision
      -> $HOICHAN_CACHE/runs/nodule-branch/, ml/reports/nodule-image-branch.json

THE SHIP RULE (round 2, written before any round-2 candidate's number was computed):
Candidates, fixed in advance:
  T1  the shipped heatmap score averaged over the image and its horizontal mirror (mean of the two
      3x3-smoothed maxima; heatmap output unchanged; twice the inference time);
  D1  the image branch's probability;
  D2  σ(mean of the image branch's logit and the logit of the shipped heatmap score) (fixed weights).
Validation metric, incumbent and eligibility as in round 1: mean of the per-source validation AUCs
(JSRT, NIH; positive = nodule/mass, negative = anything else); eligible only if >= the shipped
model's + 0.02 and neither source lower than the shipped model's by more than 0.05. Among the
eligible, the highest validation mean, except that a candidate within 0.01 of a cheaper one (D1, D2
cost less than T1) loses to it. If none is eligible, the shipped model stays. The test split is
scored once, after the decision is written; it chooses nothing. Note: with round 1, five
candidates have met this validation split, so a small validation gain is partly selection.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from hoichan_ml import manifest
from hoichan_ml.data import load_image_cache, load_nodule_split
from hoichan_ml.models import ImageBranch, encode16
from hoichan_ml.train_utils import RUNS, augment, normalise_batch, setup, to_unit
from nodule_image_head import MAX3, extract, load_base, per_source_auc
from nodule_nih_report import SOURCES, auc_by_patient

RUN = RUNS / "nodule-branch"
HEAD_FEATURES = RUNS / "nodule-head" / "features.npz"
N_AUG, EPOCHS, STEPS, PER_GROUP = 4, 15, 40, 8
COST = {"D1": 1, "D2": 1, "T1": 2}


def rule() -> str:
    return __doc__.split("THE SHIP RULE (round 2, written before any round-2 candidate's number was computed):")[1].strip()


@torch.no_grad()
def cache16(net, imgs_u8: np.ndarray, gen: torch.Generator | None, bs: int = 8) -> np.ndarray:
    out = []
    for i in range(0, len(imgs_u8), bs):
        x = to_unit(imgs_u8[i:i + bs])
        if gen is not None:
            x, _ = augment(x, None, gen)
        out.append(encode16(net, normalise_batch(x))[2].half().numpy())
    return np.concatenate(out)


@torch.no_grad()
def branch_logits(branch: ImageBranch, f16: np.ndarray, bs: int = 64) -> np.ndarray:
    branch.eval()
    return np.concatenate([branch(torch.from_numpy(f16[i:i + bs]).float()).numpy() for i in range(0, len(f16), bs)])


def main() -> None:
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    for a in ("--cache", "--train", "--decide", "--test"):
        g.add_argument(a, action="store_true")
    ap.add_argument("--reps", type=int, default=2000)
    args = ap.parse_args()
    setup(0)
    RUN.mkdir(parents=True, exist_ok=True)
    recs = load_nodule_split()
    split = np.array([r.split for r in recs])
    src = np.array([r.source for r in recs])
    y = np.array([int(r.label == 1) for r in recs])
    pat = np.array([r.patient for r in recs])
    if args.cache:
        imgs = load_image_cache(recs, "nodules-v2")
        net = load_base()
        gen = torch.Generator().manual_seed(11)
        tr = np.flatnonzero(split == "train")
        ev = np.flatnonzero(np.isin(split, ["validation", "calibration"]))
        t0 = time.time()
        np.save(RUN / "train16.npy", np.stack([cache16(net, imgs[tr], gen) for _ in range(N_AUG)], 1))
        np.save(RUN / "eval16.npy", cache16(net, imgs[ev], None))
        np.savez(RUN / "index.npz", train=tr, eval=ev)
        print(f"cached {len(tr)}x{N_AUG} + {len(ev)} in {time.time() - t0:.0f}s")
    elif args.train:
        train(split, src, y)
    elif args.decide:
        decide(split, src, y)
    else:
        test(recs, split, src, y, pat, args.reps)


def train(split: np.ndarray, src: np.ndarray, y: np.ndarray) -> None:
    ix = np.load(RUN / "index.npz")
    f16 = np.load(RUN / "train16.npy", mmap_mode="r")
    tr = ix["train"]
    pools = [np.flatnonzero((src[tr] == s) & (y[tr] == v)) for s in SOURCES for v in (1, 0)]
    branch = ImageBranch(load_base())
    opt = torch.optim.AdamW([{"params": branch.downs.parameters(), "lr": 3e-4},
                             {"params": branch.linear.parameters(), "lr": 1e-3}], weight_decay=1e-2)
    base = [gr["lr"] for gr in opt.param_groups]
    rng = np.random.default_rng(5)
    total, step = EPOCHS * STEPS, 0
    t0 = time.time()
    for ep in range(EPOCHS):
        branch.train()
        losses = []
        for _ in range(STEPS):
            k = np.concatenate([rng.choice(p, PER_GROUP) for p in pools])
            a = rng.integers(0, N_AUG, len(k))
            x = torch.from_numpy(np.stack([f16[i, j] for i, j in zip(k, a)])).float()
            t = torch.from_numpy(y[tr][k].astype(np.float32))
            for gr, b in zip(opt.param_groups, base):
                gr["lr"] = b * 0.5 * (1 + np.cos(np.pi * step / total))
            loss = F.binary_cross_entropy_with_logits(branch(x), t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(loss.item())
        print(json.dumps({"epoch": ep + 1, "train_loss": round(float(np.mean(losses)), 4),
                          "elapsed_s": round(time.time() - t0)}), flush=True)
    torch.save({"branch": branch.state_dict(), "epochs": EPOCHS}, RUN / "branch.pt")


def load_branch() -> ImageBranch:
    branch = ImageBranch(load_base())
    branch.load_state_dict(torch.load(RUN / "branch.pt", map_location="cpu")["branch"])
    return branch.eval()


def decide(split: np.ndarray, src: np.ndarray, y: np.ndarray) -> None:
    ix = np.load(RUN / "index.npz")
    ev = ix["eval"]
    va = split[ev] == "validation"
    hf = np.load(HEAD_FEATURES)
    pos = {i: k for k, i in enumerate(hf["idx"])}
    hk = np.array([pos[i] for i in ev[va]])
    shipped = hf["f0"][hk, MAX3]  # logit of the shipped heatmap score
    mirror = hf["f1"][hk, MAX3]
    d1 = branch_logits(load_branch(), np.load(RUN / "eval16.npy")[va])
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    cands = {"T1": 0.5 * (sig(shipped) + sig(mirror)), "D1": d1, "D2": 0.5 * (d1 + shipped)}
    yv, sv = y[ev][va], src[ev][va]
    v = {"shipped": per_source_auc(yv, shipped, sv), **{n: per_source_auc(yv, s, sv) for n, s in cands.items()}}
    ref = v["shipped"]
    eligible = [n for n in cands if v[n]["mean"] >= ref["mean"] + 0.02 and all(v[n][k] >= ref[k] - 0.05 for k in SOURCES)]
    choice = None
    for n in sorted(eligible, key=lambda n: -v[n]["mean"]):
        cheaper = [m for m in eligible if COST[m] < COST[n] and v[m]["mean"] >= v[n]["mean"] - 0.01]
        choice = cheaper[0] if cheaper else n
        break
    res = {"rule": rule(), "validation": v, "eligible": eligible, "choice": choice}
    (RUN / "decision.json").write_text(json.dumps(res, indent=1) + "\n")
    (manifest.REPORTS / "nodule-image-branch.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: res[k] for k in ("validation", "eligible", "choice")}, indent=1))


def test(recs, split: np.ndarray, src: np.ndarray, y: np.ndarray, pat: np.ndarray, reps: int) -> None:
    """Once, after decide: the test split for the shipped model and the chosen candidate."""
    dec = json.loads((RUN / "decision.json").read_text())
    assert "test" not in dec, "the test split was already scored"
    idx = np.flatnonzero(split == "test")
    imgs = load_image_cache(recs, "nodules-v2")
    f0, f1 = extract(load_base(), imgs[idx])
    scores = {"shipped": f0[:, MAX3]}
    c = dec["choice"]
    if c == "T1":
        scores[c] = 0.5 * (1 / (1 + np.exp(-f0[:, MAX3])) + 1 / (1 + np.exp(-f1[:, MAX3])))
    elif c in ("D1", "D2"):
        d1 = branch_logits(load_branch(), cache16(load_base(), imgs[idx], None))
        scores[c] = d1 if c == "D1" else 0.5 * (d1 + f0[:, MAX3])
    dec["test"] = {m: {k: auc_by_patient(y[idx][src[idx] == k], s[src[idx] == k], pat[idx][src[idx] == k], reps)
                       for k in SOURCES} for m, s in scores.items()}
    for m in dec["test"]:
        dec["test"][m]["mean"] = round(float(np.mean([dec["test"][m][k]["auc"] for k in SOURCES])), 4)
    (RUN / "decision.json").write_text(json.dumps(dec, indent=1) + "\n")
    (manifest.REPORTS / "nodule-image-branch.json").write_text(json.dumps(dec, indent=1) + "\n")
    print(json.dumps(dec["test"], indent=1))


if __name__ == "__main__":
    main()
