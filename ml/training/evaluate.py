"""Evaluate the exported ONNX models on the validation splits; choose thresholds; write
ml/reports/report.{md,json} + PNG plots; write thresholds into ml/weights/manifest.json.

    python evaluate.py [--reps 2000]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np
import onnxruntime as ort
import torch

from hoichan_ml import manifest, plots
from hoichan_ml import metrics as M
from hoichan_ml.data import box_mask, load_image_cache, load_nodule_split, load_nodules, load_tb
from hoichan_ml.models import NoduleNet, TBLesionNet
from hoichan_ml.preprocess import normalise
from hoichan_ml.report_md import render
from hoichan_ml.train_utils import RUNS, load_checkpoint, normalise_batch, setup, to_unit

R = manifest.REPORTS
FROC_THRESHOLDS = np.round(np.concatenate([np.arange(0.05, 0.95, 0.025), np.arange(0.95, 0.9951, 0.005)]), 3)


def run_onnx(name: str, imgs_u8: np.ndarray, bs: int = 8) -> dict[str, np.ndarray]:
    path = manifest.WEIGHTS / manifest.MODELS[name]["file"]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("HOICHAN_THREADS", "2"))
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    outs: dict[str, list[np.ndarray]] = {"score": [], "heatmap": []}
    for i in range(0, len(imgs_u8), bs):
        x = np.stack([normalise(im.astype(np.float64) / 255.0) for im in imgs_u8[i:i + bs]])[:, None]
        res = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"image": x})))
        outs["score"].append(res["score"])
        outs["heatmap"].append(res["heatmap"][:, 0])
    return {k: np.concatenate(v) for k, v in outs.items()}


def r3(x: float) -> float:
    return round(float(x), 4)


# ------------------------------------------------------------------------------- TB
def evaluate_tb(reps: int) -> dict:
    recs = load_tb()
    imgs = load_image_cache(recs, "tb")
    tr = [i for i, r in enumerate(recs) if r.split == "train"]
    va = [i for i, r in enumerate(recs) if r.split == "val"]
    envelope = M.lung_envelope([recs[i].boxes for i in tr])
    out = run_onnx("tb-lesion", imgs[va])
    heats, scores = out["heatmap"], out["score"]
    boxes = [recs[i].boxes for i in va]
    wb = np.array([k for k, b in enumerate(boxes) if b])
    # pointing game
    hits = np.array([M.pointing_hit(heats[k], boxes[k]) for k in wb], dtype=float)
    p_ci = M.bootstrap_ci(lambda i: hits[i].mean(), len(hits), reps=reps)
    # FROC
    curve = M.froc(heats[wb], [boxes[k] for k in wb], FROC_THRESHOLDS)
    froc_pts = {}
    for target in (0.5, 1.0, 2.0):
        s, t = M.sens_at_fppi(curve, target)
        froc_pts[str(target)] = {"sensitivity": r3(s), "threshold": t}
    box_thr = froc_pts["1.0"]["threshold"] or 0.5
    # lesion-vs-lung patches, cluster bootstrap over images
    per_img = []
    for k in wb:
        lab = M.lesion_patch_labels(boxes[k], envelope)
        sc = M.patch_scores(heats[k])
        per_img.append((lab[lab >= 0], sc[lab >= 0]))

    def patch_auc(idx: np.ndarray) -> float:
        return M.auc(np.concatenate([per_img[i][0] for i in idx]), np.concatenate([per_img[i][1] for i in idx]))

    pa = patch_auc(np.arange(len(per_img)))
    pa_ci = M.bootstrap_ci(patch_auc, len(per_img), reps=min(reps, 1000))
    n_les = int(sum((p[0] == 1).sum() for p in per_img))
    n_lung = int(sum((p[0] == 0).sum() for p in per_img))
    # cell-level calibration inside the lung envelope
    env_cells = np.kron(envelope, np.ones((M.PATCH_CELLS, M.PATCH_CELLS), dtype=bool))
    ys = np.concatenate([box_mask(boxes[k])[env_cells] for k in wb])
    ps = np.concatenate([heats[k][env_cells] for k in wb])
    e, rel = M.ece(ys, ps)
    # image-level score: positives only
    flag = M.threshold_for_sensitivity(scores, 0.90)
    n_boxes = [len(M.extract_boxes(h, box_thr)) for h in heats]
    figs = {"froc": plots.froc({"TB lesions (val)": curve}, R / "tb_froc.png"),
            "reliability": plots.reliability({f"TB heatmap cells in lung envelope (ECE {e:.3f})": rel},
                                             R / "tb_reliability.png")}
    k = int(wb[int(np.argsort(-hits)[0])]) if len(wb) else 0
    figs["example"] = plots.overlay(imgs[va[k]], heats[k], M.extract_boxes(heats[k], box_thr), boxes[k],
                                    f"TBX11K {recs[va[k]].image} (CVPR 2020): heatmap, true boxes (green), "
                                    f"extracted (red)", R / "tb_example.png")
    return {
        "n_val_images": len(va), "n_val_images_with_boxes": int(len(wb)),
        "n_val_boxes": int(sum(len(b) for b in boxes)),
        "pointing_game": {"hit_rate": r3(hits.mean()), "ci95": [r3(p_ci[0]), r3(p_ci[1])]},
        "froc": {"points": froc_pts, "curve": curve,
                 "hit_rule": "IoU>=0.3 or predicted-box centre inside the true box; extra boxes on an already-hit lesion are not FPs"},
        "patch_auc": {"auc": r3(pa), "ci95": [r3(pa_ci[0]), r3(pa_ci[1])], "n_lesion_patches": n_les,
                      "n_lung_patches": n_lung, "patch_px": 32,
                      "lung_definition": "32x32 patches touched by training-set lesion boxes in >=1% of training images (lung-field proxy; no lung masks), touching no box of this image"},
        "heatmap_calibration": {"ece": r3(e), "bins": rel},
        "score_on_tb_positive_val": {"median": r3(np.median(scores)), "p10": r3(np.percentile(scores, 10)),
                                     "sensitivity_at_flag": r3((scores >= flag).mean())},
        "boxes_per_image_at_box_threshold": {"mean": r3(np.mean(n_boxes)), "max": int(np.max(n_boxes))},
        "thresholds": {"box": r3(box_thr), "flag": r3(flag)},
        "figures": figs,
    }


# -------------------------------------------------------------------------- nodules
def source_probe(reps: int, run: str) -> dict:
    """Can the model's pooled features tell JSRT from NIH within a label stratum?"""
    recs = load_nodules()
    imgs = load_image_cache(recs, "nodules")
    st = load_checkpoint(RUNS / run / "best.pt")
    labels = np.array([r.label for r in recs])
    src = np.array([r.source == "JSRT" for r in recs]).astype(int)
    out: dict = {}
    for which in ("trained", "untrained"):
        torch.manual_seed(0)
        net = NoduleNet(st["meta"]["width"])
        if which == "trained":
            net.load_state_dict(st["model"])
        net.eval()
        feats, scores = [], []
        with torch.no_grad():
            for i in range(0, len(imgs), 8):
                heat_logits, pooled = net(normalise_batch(to_unit(imgs[i:i + 8])))
                feats.append(pooled.numpy())
                scores.append(TBLesionNet.score_from_heatmap(torch.sigmoid(heat_logits) * net.heat_mask).numpy())
        out.update(_probe(np.concatenate(feats), labels, src, reps, "" if which == "trained" else "untrained_"))
        if which == "trained":
            score = np.concatenate(scores)
            out["score"] = {}
            for name, m in (("positives", labels == 1), ("negatives_no_finding", labels == 0)):
                a = M.auc_ci(src[m], score[m], reps=reps)
                out["score"][name] = {"auc": r3(a["auc"]), "ci95": [r3(v) for v in a["ci95"]]}
    out["method"] = ("5-fold stratified CV logistic regression (standardised, C=0.1) on the "
                     f"{net.feature_dim}-d pooled deepest backbone features (mean + max) of all 696 images (train+val), within each "
                     "label stratum; AUC of out-of-fold predictions for source=JSRT; 0.5 = chance. "
                     "untrained_*: the same probe on a randomly initialised network of the same architecture "
                     "(how much source information raw image statistics carry). "
                     "score: AUC of the heatmap image score itself for source=JSRT within each label "
                     "stratum (all 696 images; 0.5 = the score does not rank one source above the other)")
    return out


def _probe(f: np.ndarray, labels: np.ndarray, src: np.ndarray, reps: int, prefix: str) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    for name, m in (("positives", labels == 1), ("negatives_no_finding", labels == 0)):
        x, y = f[m], src[m]
        oof = np.zeros(len(y))
        for trn, tst in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
            clf.fit(x[trn], y[trn])
            oof[tst] = clf.predict_proba(x[tst])[:, 1]
        a = M.auc_ci(y, oof, reps=reps)
        out[prefix + name] = {"auc": r3(a["auc"]), "ci95": [r3(v) for v in a["ci95"]],
                              "n_jsrt": int(y.sum()), "n_nih": int((1 - y).sum())}
    return out


def evaluate_nodule(reps: int, run: str, split: str) -> dict:
    """split v2: the validation split of load_nodule_split (model trained on JSRT + NIH);
    v1: labels.csv's `val` (the model trained on JSRT `train` only)."""
    recs = load_nodule_split() if split == "v2" else load_nodules()
    imgs = load_image_cache(recs, "nodules-v2" if split == "v2" else "nodules")
    va = [i for i, r in enumerate(recs) if r.split == ("validation" if split == "v2" else "val")]
    out = run_onnx("nodule", imgs[va])
    s, heats = out["score"], out["heatmap"]
    lab = np.array([recs[i].label for i in va])
    src = np.array([recs[i].source for i in va])
    sets = {"JSRT": (src == "JSRT"), "NIH (no-finding negatives)": (src == "NIH") & (lab >= 0),
            "NIH (no-finding + other-findings negatives)": (src == "NIH")}
    res: dict = {"per_source": {}}
    roc_curves = {}
    for name, m in sets.items():
        y = (lab[m] == 1).astype(int)
        a = M.auc_ci(y, s[m], reps=reps)
        res["per_source"][name] = {"auc": r3(a["auc"]), "ci95": [r3(v) for v in a["ci95"]],
                                   "n_pos": a["n_pos"], "n_neg": a["n_neg"],
                                   **{f"sens_at_spec_{int(p * 100)}": r3(M.sens_at_spec(y, s[m], p))
                                      for p in (0.8, 0.9, 0.95)}}
        roc_curves[f"{name} AUC {a['auc']:.2f}"] = (y, s[m])
    # threshold: >= 90% sensitivity in EACH source (sensitivity first)
    thr = min(M.threshold_for_sensitivity(s[(src == k) & (lab == 1)], 0.90) for k in ("JSRT", "NIH"))
    op = {}
    for name, m in sets.items():
        se, sp = M.sens_spec(lab[m] == 1, s[m], thr)
        op[name] = {"sensitivity": r3(se), "specificity": r3(sp)}
    # localisation on JSRT positives, by subtlety
    jp = [k for k, i in enumerate(va) if recs[i].source == "JSRT" and recs[i].label == 1]
    by_sub: dict[str, list[int]] = {}
    for k in jp:
        by_sub.setdefault(str(recs[va[k]].subtlety), []).append(int(M.pointing_hit(heats[k], recs[va[k]].boxes)))
    loc = {sub: {"hit_rate": r3(np.mean(v)), "n": len(v)} for sub, v in sorted(by_sub.items())}
    allhits = [h for v in by_sub.values() for h in v]
    loc["all"] = {"hit_rate": r3(np.mean(allhits)), "n": len(allhits)}
    # nodule box threshold from a FROC: v1 JSRT val positives and negatives; v2 every validation
    # image with a nodule/mass box, and every validation negative, of both sources
    jv = ([k for k, i in enumerate(va) if recs[i].source == "JSRT"] if split == "v1" else
          [k for k, i in enumerate(va) if recs[i].label != 1 or recs[i].boxes])
    curve = M.froc(heats[jv], [recs[va[k]].boxes for k in jv], FROC_THRESHOLDS)
    fr = {str(t): dict(zip(("sensitivity", "threshold"), M.sens_at_fppi(curve, t))) for t in (0.5, 1.0, 2.0)}
    box_thr = fr["1.0"]["threshold"] or 0.5
    # calibration
    cal = {}
    panels = {}
    for name, m in sets.items():
        e, rows = M.ece((lab[m] == 1).astype(float), s[m])
        cal[name] = {"ece": r3(e), "bins": rows}
        panels[f"{name}\nECE {e:.3f}"] = rows
    # a CC0 NIH example (never JSRT)
    nih_pos = [k for k, i in enumerate(va) if recs[i].source == "NIH" and recs[i].label == 1]
    k = max(nih_pos, key=lambda k: s[k])
    figs = {"roc": plots.rocs(roc_curves, R / "nodule_roc.png"),
            "reliability": plots.reliability(panels, R / "nodule_reliability.png"),
            "froc_jsrt": plots.froc({"JSRT nodules (val)": curve}, R / "nodule_froc_jsrt.png"),
            "example_nih": plots.overlay(imgs[va[k]], heats[k], M.extract_boxes(heats[k], box_thr), [],
                                         f"NIH ChestX-ray14 (CC0) {recs[va[k]].image}: score {s[k]:.2f}",
                                         R / "nodule_example_nih.png")}
    res.update({
        "n_val": {"JSRT": int((src == "JSRT").sum()), "NIH": int((src == "NIH").sum())}, "split": split,
        "froc_set": ("JSRT val, positives and negatives" if split == "v1" else
                     "validation, JSRT and NIH: images with a nodule/mass box and negatives"),
        "operating_point": {"threshold": r3(thr), "rule": ">=90% sensitivity in each source (min of per-source thresholds)", "per_source": op},
        "jsrt_localisation_by_subtlety": loc,
        "localisation_rule": "heatmap argmax cell (4x4 px) intersects the nodule box",
        "jsrt_froc": {"points": {k: {"sensitivity": r3(v["sensitivity"]), "threshold": v["threshold"]} for k, v in fr.items()}, "curve": curve},
        "calibration": cal, "source_probe": source_probe(reps, run), "figures": figs,
        "thresholds": {"flag": r3(thr), "box": r3(box_thr)},
    })
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--tb-run", default="tb")
    ap.add_argument("--nodule-run", default="nodule", help="run whose best.pt was exported (feature probe)")
    ap.add_argument("--nodule-split", choices=["v1", "v2"], default="v2",
                    help="v2: splits/nodule_split.csv (train_nodule_nih.py); v1: labels.csv (train_nodule.py)")
    args = ap.parse_args()
    setup(0)
    R.mkdir(parents=True, exist_ok=True)
    histories = {}
    for run, name in ((args.tb_run, "tb"), (args.nodule_run, "nodule")):
        h = RUNS / run / "history.json"
        if h.exists():
            shutil.copy(h, R / f"history-{name}.json")
        if (R / f"history-{name}.json").exists():  # a run folder that is gone keeps its copied history
            histories[name] = json.loads((R / f"history-{name}.json").read_text())
    tb = evaluate_tb(args.reps)
    nod = evaluate_nodule(args.reps, args.nodule_run, args.nodule_split)
    tb_entry = next(m for m in manifest.load()["models"] if m["name"] == "tb-lesion")
    # the TB flag is set by tb_image_score.py's written rule once it has run; keep it
    manifest.update_model("tb-lesion", thresholds={"box": tb["thresholds"]["box"]} if "imageScore" in tb_entry else tb["thresholds"])
    manifest.update_model("nodule", thresholds=nod["thresholds"])
    man = manifest.load()
    exports = {n: json.loads((R / f"export-{n}.json").read_text()) for n in manifest.MODELS}
    for n, e in exports.items():
        cur = next(m for m in man["models"] if m["name"] == n)
        assert cur["sha256"] == manifest.sha256(manifest.WEIGHTS / cur["file"]) == e["sha256"], n
    report = {"tb": tb, "nodule": nod, "manifest": man, "exports": exports,
              "figures": {"training_curves": plots.curves(histories, R / "training_curves.png")} if histories else {},
              "histories": {k: f"history-{k}.json" for k in histories}}
    (R / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (R / "report.md").write_text(render(report))
    print(json.dumps({"tb": {k: tb[k] for k in ("pointing_game", "patch_auc", "thresholds")},
                      "tb_froc": tb["froc"]["points"],
                      "nodule": {k: nod[k] for k in ("per_source", "operating_point", "thresholds")},
                      "probe": nod["source_probe"]}, indent=1))


if __name__ == "__main__":
    main()
