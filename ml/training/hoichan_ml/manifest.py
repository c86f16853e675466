"""Read/write ml/weights/manifest.json (THE CONTRACT)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .data import REPO

WEIGHTS = REPO / "ml" / "weights"
REPORTS = REPO / "ml" / "reports"
MANIFEST = WEIGHTS / "manifest.json"
PREPROCESSING = ("grey [0,1] (8-bit v/255, 16-bit v/65535, RGB luminance 0.299R+0.587G+0.114B); "
                 "exact area resize to 512x512 (Ry @ img @ Rx.T); per-image z-score (float64 "
                 "mean/population std, eps 1e-6); float32 [1,1,512,512]; see ml/MODEL_CARD.md")
MODELS = {"tb-lesion": {"finding": "tb", "file": "tb-lesion.onnx"},
          "nodule": {"finding": "nodule", "file": "nodule.onnx"}}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load() -> dict:
    if MANIFEST.exists():
        return json.loads(MANIFEST.read_text())
    return {"schema": 1,
            "input": {"name": "image", "shape": [1, 1, 512, 512], "preprocessing": PREPROCESSING},
            "models": [], "report": "ml/reports/report.md"}


def update_model(name: str, version: str | None = None, thresholds: dict | None = None) -> dict:
    m = load()
    entry = next((e for e in m["models"] if e["name"] == name), None)
    if entry is None:
        entry = {"name": name, **MODELS[name], "version": version or "0.0.0", "sha256": "",
                 "outputs": {"score": "score", "heatmap": "heatmap"}, "heatmapStride": 4,
                 "thresholds": {"flag": 0.5, "box": 0.5}}
        m["models"].append(entry)
        m["models"].sort(key=lambda e: list(MODELS).index(e["name"]))
    if version:
        entry["version"] = version
    if thresholds:
        entry["thresholds"].update({k: round(float(v), 4) for k, v in thresholds.items()})
    f = WEIGHTS / entry["file"]
    if f.exists():
        entry["sha256"] = sha256(f)
    m["input"]["preprocessing"] = PREPROCESSING
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text(json.dumps(m, indent=2) + "\n")
    return entry
