"""Export trained checkpoints to ONNX (opset 17) with an onnxruntime parity check.

    python export.py --model tb-lesion|nodule [--ckpt PATH] [--version 2026.11.22]

Writes ml/weights/<model>.onnx, updates ml/weights/manifest.json (sha256, version; keeps
thresholds) and ml/reports/export-<model>.json (parity on real validation images).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from hoichan_ml import manifest
from hoichan_ml.data import load_nodules, load_tb
from hoichan_ml.models import NoduleExport, NoduleNet, TBExport, TBLesionNet, n_params
from hoichan_ml.preprocess import preprocess_file
from hoichan_ml.train_utils import RUNS, load_checkpoint, setup

OPSET = 17
OUTPUTS = {"tb-lesion": ["heatmap", "score"], "nodule": ["score", "heatmap"]}


def build(model: str, ckpt: Path) -> tuple[torch.nn.Module, dict]:
    state = load_checkpoint(ckpt)
    meta = state["meta"]
    if model == "tb-lesion":
        net: torch.nn.Module = TBLesionNet(meta["width"])
        net.load_state_dict(state["model"])
        wrapped: torch.nn.Module = TBExport(net)
    else:
        net = NoduleNet(meta["width"])
        net.load_state_dict(state["model"])
        wrapped = NoduleExport(net)
    return wrapped.eval(), meta


def export_onnx(wrapped: torch.nn.Module, names: list[str], path: Path) -> None:
    dummy = torch.zeros(2, 1, 512, 512)
    try:
        torch.onnx.export(wrapped, (dummy,), str(path), opset_version=OPSET, dynamo=False,
                          input_names=["image"], output_names=names,
                          dynamic_axes={"image": {0: "N"}, **{n: {0: "N"} for n in names}})
    except Exception as e:  # legacy exporter unavailable -> dynamo exporter
        print(f"legacy export failed ({e!r}); using dynamo exporter")
        batch = torch.export.Dim("N", min=1, max=64)
        prog = torch.onnx.export(wrapped, (dummy,), None, opset_version=OPSET, dynamo=True,
                                 input_names=["image"], output_names=names,
                                 dynamic_shapes=({0: batch},), external_data=False)
        prog.optimize()
        prog.save(str(path), external_data=False)
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    onnx.save(m, str(path))  # single self-contained file


def parity(wrapped: torch.nn.Module, path: Path, names: list[str], files: list[Path]) -> dict:
    x = np.concatenate([preprocess_file(f) for f in files])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"image": x})))
    single = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"image": x[:1]})))
    with torch.no_grad():
        ref = dict(zip(names, (t.numpy() for t in wrapped(torch.from_numpy(x)))))
    out = {"images": [f.name for f in files], "max_abs_diff": {}, "shapes": {}}
    for n in names:
        out["max_abs_diff"][n] = float(np.abs(got[n] - ref[n]).max())
        out["max_abs_diff"][n + "_batch1"] = float(np.abs(single[n] - ref[n][:1]).max())
        out["shapes"][n] = list(got[n].shape)
    out["pass"] = all(v < 1e-4 for v in out["max_abs_diff"].values())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=list(OUTPUTS), required=True)
    ap.add_argument("--ckpt", type=Path)
    ap.add_argument("--version", default=None)
    args = ap.parse_args()
    setup(0)
    run = "tb" if args.model == "tb-lesion" else "nodule"
    ckpt = args.ckpt or RUNS / run / "best.pt"
    wrapped, meta = build(args.model, ckpt)
    path = manifest.WEIGHTS / manifest.MODELS[args.model]["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    names = OUTPUTS[args.model]
    export_onnx(wrapped, names, path)
    # parity on real validation images (NIH only for nodules is not needed: nothing is copied)
    recs = load_tb() if args.model == "tb-lesion" else load_nodules()
    files = [r.path for r in recs if r.split == "val"][:4]
    par = parity(wrapped, path, names, files)
    entry = manifest.update_model(args.model, version=args.version)
    info = {"model": args.model, "file": str(path.relative_to(manifest.REPO)), "sha256": entry["sha256"],
            "bytes": path.stat().st_size, "opset": OPSET, "params": n_params(wrapped),
            "checkpoint_epoch": meta.get("epoch"), "checkpoint_val_metric": meta.get("metric"),
            "train_args": meta.get("args"), "parity": par, "torch": torch.__version__,
            "onnxruntime": ort.__version__, "onnx": onnx.__version__}
    manifest.REPORTS.mkdir(parents=True, exist_ok=True)
    (manifest.REPORTS / f"export-{args.model}.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps({k: info[k] for k in ("file", "sha256", "bytes", "params", "checkpoint_epoch")}))
    print("parity", json.dumps(par["max_abs_diff"]), "PASS" if par["pass"] else "FAIL")
    if not par["pass"]:
        raise SystemExit("parity check failed")


if __name__ == "__main__":
    main()
