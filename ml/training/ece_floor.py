"""How small can the per-source ECE of the nodule score be on the test split, for a PERFECTLY
calibrated score? Outcomes are drawn as Bernoulli(p) for scores p (uniform, or Beta(2, 2)) and the
ECE of ml/training/hoichan_ml/metrics.ece (10 equal-width bins) is computed at the test split's
sizes (JSRT 33 images, NIH 441). No data are read: the figures say what the target (ECE <= 0.05 per
source) can show at these sizes.

    python ece_floor.py   -> ml/reports/ece-floor.json
"""
from __future__ import annotations

import json

import numpy as np

from hoichan_ml import manifest
from hoichan_ml import metrics as M

SIZES = {"JSRT test": 33, "NIH test": 441, "JSRT calibration": 35, "NIH calibration": 192}


def main() -> None:
    rng = np.random.default_rng(0)
    out = {}
    for name, n in SIZES.items():
        out[name] = {"n": n}
        for dist, draw in (("uniform", lambda: rng.uniform(0, 1, n)), ("beta22", lambda: rng.beta(2, 2, n))):
            e = []
            for _ in range(2000):
                p = draw()
                e.append(M.ece((rng.uniform(size=n) < p).astype(float), p)[0])
            e = np.array(e)
            out[name][dist] = {"mean_ece": round(float(e.mean()), 3), "p95_ece": round(float(np.percentile(e, 95)), 3),
                               "share_ece_le_0.05": round(float((e <= 0.05).mean()), 3)}
    (manifest.REPORTS / "ece-floor.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
