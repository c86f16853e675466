"""Render ml/MODEL_CARD.md from MODEL_CARD.template.md + ml/reports/report.json, so the card,
the report, the manifest and the ONNX sha256 always agree.

    python model_card.py
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hoichan_ml import manifest

HERE = Path(__file__).resolve().parent
def ci(d: dict, key: str = "auc") -> str:
    return f"{d[key]:.2f} (95% CI {d['ci95'][0]:.2f}–{d['ci95'][1]:.2f})"


def results(r: dict) -> str:
    tb, nod = r["tb"], r["nodule"]
    man = {m["name"]: m for m in manifest.load()["models"]}
    L: list[str] = []
    a = L.append
    a("## Thresholds (chosen on validation, in `manifest.json`)\n")
    a(f"- **tb-lesion** `box` = {man['tb-lesion']['thresholds']['box']}: heatmap threshold with the best lesion "
      f"sensitivity at ≤1 false-positive box per image on TBX11K validation "
      f"({tb['froc']['points']['1.0']['sensitivity']:.2f}).")
    a(f"- **tb-lesion** `flag` = {man['tb-lesion']['thresholds']['flag']}: image score reached by 90% of the "
      "TB-positive images of the selection half of validation (`ml/reports/tb-image-score.md`). **Not a validated screening threshold**: with no TB-negative images its "
      "specificity (false-alarm rate on healthy or non-TB patients) is unknown.")
    op = nod["operating_point"]
    specs = "; ".join(f"{k}: sensitivity {v['sensitivity']:.2f}, specificity {v['specificity']:.2f}"
                      for k, v in op["per_source"].items())
    cal = man["nodule"].get("calibration")
    superseded = (f" (raw score; **superseded in use** by the calibrated threshold {cal['flag']:.3f} in the manifest's "
                  "`calibration`, chosen by the same rule on the calibration split, see above)" if cal else "")
    a(f"- **nodule** `flag` = {man['nodule']['thresholds']['flag']}{superseded}: ≥90% sensitivity in each source on "
      f"validation (sensitivity first, WHO-style triage). Resulting {specs}.")
    a(f"- **nodule** `box` = {man['nodule']['thresholds']['box']}: heatmap threshold with the best nodule "
      f"sensitivity at ≤1 false-positive box per image ({nod.get('froc_set', 'JSRT validation')}: "
      f"{nod['jsrt_froc']['points']['1.0']['sensitivity']:.2f}).\n")
    a("## Metrics (validation splits; 95% bootstrap CIs)\n")
    a("TB lesions (TBX11K, 120 TB-positive validation images):\n")
    a(f"- pointing game (heatmap maximum inside a true lesion box): {ci(tb['pointing_game'], 'hit_rate')}")
    a(f"- lesion-vs-lung patch AUC (same images): {ci(tb['patch_auc'])}")
    p = tb["froc"]["points"]
    a(f"- box FROC sensitivity at 0.5 / 1 / 2 false positives per image: {p['0.5']['sensitivity']:.2f} / "
      f"{p['1.0']['sensitivity']:.2f} / {p['2.0']['sensitivity']:.2f}")
    a(f"- heatmap calibration vs box masks: ECE {tb['heatmap_calibration']['ece']:.3f}\n")
    a("Nodules / masses, per source (never pooled):\n")
    a("| source / negatives | n pos / neg | AUC (95% CI) | sens @90% spec |\n|---|---|---|---|")
    for k, d in nod["per_source"].items():
        a(f"| {k} | {d['n_pos']} / {d['n_neg']} | {ci(d)} | {d['sens_at_spec_90']:.2f} |")
    loc = nod["jsrt_localisation_by_subtlety"]
    a(f"\nJSRT localisation hit rate (heatmap maximum on the nodule): {loc['all']['hit_rate']:.2f} "
      f"(n={loc['all']['n']}); by subtlety 1–5: "
      + ", ".join(f"{k}: {v['hit_rate']:.2f} (n={v['n']})" for k, v in loc.items() if k != "all") + ".")
    op = nod["operating_point"]["per_source"]
    a(f"\nAt the `flag` threshold ({nod['thresholds']['flag']}, ≥90% sensitivity in each source): "
      + "; ".join(f"{k} sensitivity {v['sensitivity']:.2f}, specificity {v['specificity']:.2f}" for k, v in op.items())
      + ". A flag therefore means \"look here first\", not \"nodule\": most flags on a general population are false.")
    a("Calibration ECE: " + "; ".join(f"{k} {v['ece']:.3f}" for k, v in nod["calibration"].items())
      + ": the score (a heatmap maximum) is a ranking, not a probability.")
    sp = nod["source_probe"]
    base = (f" the same probe on an untrained network of the same architecture: {ci(sp['untrained_positives'])} / "
            f"{ci(sp['untrained_negatives_no_finding'])}." if "untrained_positives" in sp else "")
    leaks = min(sp["positives"]["ci95"][0], sp["negatives_no_finding"]["ci95"][0]) > 0.55
    verdict = ("Chance is 0.5: **the features do identify the source**, as raw image statistics already do (the "
               "untrained network scores the same), so this check fails; hiding the source from "
               "the features would take an adversarial objective, which did not train stably here. What matters "
               "for a shortcut is whether the source moves the *score*:"
               if leaks else
               "Chance is 0.5: the probe does not clearly separate the sources. The score itself:")
    a(f"\nSource shortcut check (linear probe on the model's pooled features predicting JSRT vs NIH within "
      f"a label stratum, cross-validated): positives {ci(sp['positives'])}, no-finding negatives "
      f"{ci(sp['negatives_no_finding'])};{base} {verdict}")
    if "score" in sp:
        sc = sp["score"]
        neg_shift = sc["negatives_no_finding"]["ci95"][0] > 0.5
        a(f"source AUC of the image score among no-finding negatives {ci(sc['negatives_no_finding'])} "
          + ("(**the score ranks JSRT's normal images above NIH's**: the hospital moves the score itself, so one "
             "threshold means different things in the two sources)" if neg_shift else
             "(the score does not rank one hospital's normal images above the other's)")
          + f", among positives {ci(sc['positives'])} (JSRT nodules score higher than NIH nodules/masses). "
          "Quote per-source metrics only and validate per site.\n")
    hist = r.get("histories_rows", {}).get("nodule", [])
    if hist and "auc_nih_excl_other" in hist[0]:
        first_half = max(h["auc_nih_excl_other"] for h in hist[: len(hist) // 2])
        last = hist[-1]
        tail = hist[-10:]
        a(f"Training curve (`ml/reports/training_curves.png`): JSRT validation AUC held near its best to the end "
          f"(mean {np.mean([h['auc_jsrt'] for h in tail]):.2f} over the last {len(tail)} epochs) while the out-of-source NIH AUC peaked mid-training "
          f"({first_half:.2f}) and fell to {last['auc_nih_excl_other']:.2f} by the last epoch: longer training fits "
          "JSRT's own look. The exported checkpoint is the one with the best combined validation metric.\n")
    a("## Limits, in plain words\n")
    a("- **No TB-negative images.** The TB model was trained and validated only on images of TB patients. It "
      "localises lesions inside TB images; it has **not** been shown to tell TB from normal or from other "
      "disease. Image-level TB screening is **not validated**, and the WHO triage target (≥90% sensitivity, "
      "≥70% specificity) **cannot be claimed**. The `flag` threshold is a placeholder with unknown specificity.")
    if any(d["ci95"][0] <= 0.5 for d in nod["per_source"].values()):
        a("- **The nodule model is NOT usable in this version.** Its validation AUC is not distinguishable from "
          "chance in any source (confidence intervals include 0.5) and its heatmap does not localise JSRT nodules. "
          "It ships only so the inference pipeline can be built and tested end to end; keep nodule flagging "
          "disabled in the product until a retrained model passes validation.")
    a("- **Nodule model is research grade**: trained on 70 JSRT and 49 NIH images with a nodule/mass box and 452 "
      "images without a nodule/mass (JSRT: one curated, mostly PA, Japanese database of 1990s film scans; NIH: "
      "one US hospital), validated on 8 JSRT and 47 NIH positives, hence the wide confidence intervals. NIH labels "
      "are text-mined (~10% wrong). It flags; it does not measure, characterise or follow up nodules.")
    a("- **Held-out sets.** The validation figures below were chosen on the same splits they are measured on "
      "(optimistic). For nodules there is a test split that chose nothing (above): "
      "AUC 0.55 on NIH, 0.73 on JSRT. For TB the official TBX11K validation set must be used for an independent evaluation "
      "before any clinical pilot.")
    a("- **Small, CPU-trained models**: ~1 M parameters each, trained on 2 CPU cores "
      f"(TB {len(r.get('histories_rows', {}).get('tb', [])) or '?'} epochs, nodule "
      f"{max((h['epoch'] for h in r.get('histories_rows', {}).get('nodule', [])), default='?')} epochs of 40 steps) from a few hundred "
      "images; a larger model pretrained on many chest X-rays would do better.")
    a("- Inputs must be frontal (PA/AP) adult chest X-rays; lateral views, children, photos of films and "
      "heavily post-processed images are out of scope. The nodule score is calibrated on a NIH-dominated "
      "calibration split (above), not to any clinic's prevalence; the TB score is not "
      "calibrated at all. Images that are not frontal chest X-rays are refused by the input gate and not scored.")
    a("- Never use the output to rule out disease or to delay a radiologist's read.\n")
    return "\n".join(L)


def main() -> None:
    r = json.loads((manifest.REPORTS / "report.json").read_text())
    r["histories_rows"] = {k: json.loads((manifest.REPORTS / v).read_text()) for k, v in r.get("histories", {}).items()}
    man = {m["name"]: m for m in manifest.load()["models"]}
    text = (HERE / "MODEL_CARD.template.md").read_text()
    for key, val in {"@@TB_VERSION@@": man["tb-lesion"]["version"], "@@TB_SHA@@": man["tb-lesion"]["sha256"],
                     "@@NOD_VERSION@@": man["nodule"]["version"], "@@NOD_SHA@@": man["nodule"]["sha256"],
                     "@@RESULTS@@": results(r)}.items():
        text = text.replace(key, val)
    for m in man.values():
        assert m["sha256"] == manifest.sha256(manifest.WEIGHTS / m["file"]), m["name"]
        assert r["manifest"]["models"][[x["name"] for x in r["manifest"]["models"]].index(m["name"])]["sha256"] == m["sha256"]
    (manifest.REPO / "ml" / "MODEL_CARD.md").write_text(text)
    print("wrote ml/MODEL_CARD.md")


if __name__ == "__main__":
    main()
