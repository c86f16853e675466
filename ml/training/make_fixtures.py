"""Build test/fixtures/cxr/: CC0 NIH + TBX11K images (never JSRT), synthetic resize/bit-depth
variants, and expected.json (preprocessing checksums + PyTorch outputs of the committed models).

    python make_fixtures.py
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from export import build
from hoichan_ml import manifest
from hoichan_ml.data import REPO, load_nodules, load_tb
from hoichan_ml.metrics import extract_boxes
from hoichan_ml.preprocess import decode_to_unit, preprocess_file, resize_area
from hoichan_ml.train_utils import RUNS, setup

OUT = REPO / "test" / "fixtures" / "cxr"
POSITIONS = [[0, 0], [0, 511], [511, 0], [511, 511], [256, 256], [255, 255], [1, 510], [37, 480],
             [100, 200], [128, 384], [200, 50], [300, 300], [384, 128], [420, 77], [499, 333], [511, 256]]


def pick_sources() -> list[tuple[str, Path, str]]:
    nod = [r for r in load_nodules() if r.source == "NIH" and r.split == "val"]
    out = []
    for lab, tag in ((1, "nodule"), (0, "nofinding"), (-1, "otherfindings")):
        r = next(r for r in nod if r.label == lab)
        out.append((f"nih_{tag}_{r.image}", r.path, f"NIH ChestX-ray14 `{r.image}`, nodule_label={lab} (CC0)"))
    tb = [r for r in load_tb() if r.split == "val" and r.boxes][:2]
    for r in tb:
        out.append((f"tbx11k_{r.image}", r.path, f"TBX11K `{r.image}` (TB-positive, {len(r.boxes)} lesion box(es)); "
                    "research use, cite Liu Y. et al., CVPR 2020"))
    return out


def synthesise(nih_pos: Path, nih_neg: Path) -> list[tuple[str, str]]:
    out = []
    img = Image.open(nih_pos)
    img.resize((600, 450), Image.Resampling.BICUBIC).save(OUT / "synth_nih_nonsquare_600x450.png")
    out.append(("synth_nih_nonsquare_600x450.png", f"{nih_pos.name} resized to 600×450 (W×H) with Pillow bicubic, 8-bit"))
    x = decode_to_unit(nih_neg)
    big = np.asarray(Image.fromarray(x.astype(np.float32), mode="F").resize((700, 640), Image.Resampling.BICUBIC))
    u16 = np.clip(np.rint(big * 65535.0), 0, 65535).astype(np.uint16)
    Image.fromarray(u16).save(OUT / "synth_nih_16bit_700x640.png")
    out.append(("synth_nih_16bit_700x640.png", f"{nih_neg.name} resized to 700×640 in float, saved as 16-bit grey PNG"))
    g = np.asarray(Image.open(nih_pos).crop((6, 0, 506, 512)), dtype=np.uint8)
    rgb = np.stack([g, np.clip(g.astype(int) + 10, 0, 255), np.clip(g.astype(int) - 10, 0, 255)], -1).astype(np.uint8)
    Image.fromarray(rgb, mode="RGB").save(OUT / "synth_nih_rgb_500x512.png")
    out.append(("synth_nih_rgb_500x512.png", f"{nih_pos.name} cropped to 500×512, channels G, G+10, G−10 (RGB, tests luminance)"))
    return out


def heat_stats(h: np.ndarray, thr: float) -> dict:
    h = h.reshape(128, 128)
    a = int(np.argmax(h))
    return {"max": float(h.max()), "argmax": a, "argmax_rowcol": [a // 128, a % 128],
            "sum": float(h.astype(np.float64).sum()),
            "boxes": [{"box": b["box"], "score": b["score"]} for b in extract_boxes(h, thr)]}


def update_nodule(run: str) -> None:
    path = OUT / "expected.json"
    expected = json.loads(path.read_text())
    man = manifest.load()
    thr = {m["name"]: m["thresholds"] for m in man["models"]}
    nod, _ = build("nodule", RUNS / run / "best.pt")
    for name, entry in expected["files"].items():
        x = preprocess_file(OUT / name)
        with torch.no_grad():
            ns, nh = nod(torch.from_numpy(x))
        entry["nodule"] = {"score": float(ns[0]), "heatmap": heat_stats(nh[0, 0].numpy(), thr["nodule"]["box"])}
    expected["models"] = {m["name"]: {"file": m["file"], "sha256": m["sha256"], "version": m["version"],
                                      "thresholds": m["thresholds"]} for m in man["models"]}
    path.write_text(json.dumps(expected, indent=1) + "\n")
    print(f"nodule outputs of {len(expected['files'])} fixtures recomputed from {run}")


def main() -> None:
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--tb-run", default="tb")
    ap.add_argument("--nodule-run", default="nodule")
    ap.add_argument("--only-nodule", action="store_true",
                    help="keep the images and the TB outputs (their checkpoint is gone); recompute the nodule "
                         "outputs from --nodule-run and the model entries from the manifest")
    args = ap.parse_args()
    setup(0)
    if args.only_nodule:
        update_nodule(args.nodule_run)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    for p in OUT.glob("*.png"):
        p.unlink()
    srcs = pick_sources()
    prov = []
    for name, path, desc in srcs:
        shutil.copyfile(path, OUT / name)
        (OUT / name).chmod(0o644)
        prov.append((name, desc))
    prov += synthesise(OUT / srcs[0][0], OUT / srcs[1][0])
    man = manifest.load()
    thr = {m["name"]: m["thresholds"] for m in man["models"]}
    tb, _ = build("tb-lesion", RUNS / args.tb_run / "best.pt")
    exp = json.loads((manifest.REPORTS / "export-nodule.json").read_text())
    nod, _ = build("nodule", RUNS / args.nodule_run / "best.pt")
    files = {}
    for name, _ in prov:
        im = Image.open(OUT / name)
        x = preprocess_file(OUT / name)
        t = x[0, 0].astype(np.float64)
        resized = resize_area(decode_to_unit(OUT / name)).astype(np.float64)
        with torch.no_grad():
            th, ts = tb(torch.from_numpy(x))
            ns, nh = nod(torch.from_numpy(x))
        files[name] = {
            "width": im.width, "height": im.height, "mode": im.mode,
            "preprocess": {"sum": float(t.sum()), "sum_sq": float((t * t).sum()),
                           "resized_mean": float(resized.mean()), "resized_std": float(resized.std()),
                           "values": [float(t[y, x_]) for y, x_ in POSITIONS]},
            "tb-lesion": {"score": float(ts[0]), "heatmap": heat_stats(th[0, 0].numpy(), thr["tb-lesion"]["box"])},
            "nodule": {"score": float(ns[0]), "heatmap": heat_stats(nh[0, 0].numpy(), thr["nodule"]["box"])},
        }
    expected = {
        "description": "Expected outputs for CXR parity tests; see PROVENANCE.md and ml/MODEL_CARD.md",
        "positions_yx": POSITIONS,
        "tolerance": {"preprocess_abs": 1e-5, "score_abs": 1e-4, "heatmap_abs": 1e-4,
                      "note": "sum/sum_sq are over the 512x512 normalised tensor (float64 accumulation): sum ~0, sum_sq ~262144; compare with relative tolerance 1e-5"},
        "models": {m["name"]: {"file": m["file"], "sha256": m["sha256"], "version": m["version"],
                               "thresholds": m["thresholds"]} for m in man["models"]},
        "generated_with": "PyTorch (checkpoints that were exported to the ONNX files above)",
        "files": files,
    }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    lines = ["# CXR test fixtures: provenance\n",
             "Used by the preprocessing and model parity tests. Generated by `ml/training/make_fixtures.py`. "
             "No JSRT image is included in any form (JSRT terms forbid redistribution).\n",
             "| file | origin and licence |", "|---|---|"]
    lines += [f"| `{n}` | {d} |" for n, d in prov]
    lines += ["",
              "- NIH ChestX-ray14: Wang X. et al., *ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks*, CVPR 2017; "
              "released CC0 by the NIH Clinical Center. These copies are the 512×512 8-bit downsampled versions from "
              "`shared/datasets/cxr-nodules`.",
              "- TBX11K: Liu Y., Wu Y.-H., Ban Y., Wang H., Cheng M.-M., *Rethinking Computer-Aided Tuberculosis Diagnosis*, "
              "CVPR 2020; released for research, citation requested. 512×512 8-bit copies from `shared/datasets/tbx11k-tb`.",
              "- `synth_*` files are derived from the NIH images above (CC0) to exercise resizing, 16-bit decoding and RGB luminance.",
              "- `expected.json`: per file, preprocessing checksums (sum, sum of squares, values at `positions_yx` of the "
              "normalised [512,512] tensor) and the PyTorch outputs of the models whose sha256 it lists.", ""]
    (OUT / "PROVENANCE.md").write_text("\n".join(lines))
    print(f"{len(files)} fixtures -> {OUT}")


if __name__ == "__main__":
    main()
