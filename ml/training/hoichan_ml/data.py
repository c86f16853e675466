"""Dataset loading: labels, boxes, splits and a uint8 image cache.

All source images are already 512x512 8-bit grey PNGs, so the cache holds them as one
uint8 array [N, 512, 512]; ``preprocess.normalise(cache[i] / 255)`` is exactly what
``preprocess.preprocess_file`` gives for the original file.
"""
from __future__ import annotations

import csv
import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .preprocess import decode_to_unit

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("HOICHAN_SHARED", REPO.parent / "shared"))
TB_DIR = SHARED / "datasets" / "tbx11k-tb"
NODULE_DIR = SHARED / "datasets" / "cxr-nodules"
CACHE = Path(os.environ.get("HOICHAN_CACHE", Path.home() / ".cache" / "hoichan"))
SPLITS = Path(__file__).resolve().parents[1] / "splits"
TB_SPLIT_CSV = SPLITS / "tb_split.csv"
TB_SPLIT_SEED = 20261121

Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in 512 space


@dataclass
class Record:
    image: str
    path: Path
    boxes: list[Box] = field(default_factory=list)
    split: str = "train"
    label: int = 1  # TB: always 1; nodules: 1 / 0 / -1 (other findings)
    source: str = "TBX11K"
    subtlety: int | None = None
    size_mm: float | None = None


def load_image_cache(records: list[Record], name: str) -> np.ndarray:
    """Decode all images once into a uint8 [N, 512, 512] array cached under $HOICHAN_CACHE."""
    key = hashlib.sha256("\n".join(r.image for r in records).encode()).hexdigest()[:12]
    path = CACHE / "cxr-cache" / f"{name}-{key}.npy"
    if path.exists():
        return np.load(path)
    arr = np.zeros((len(records), 512, 512), dtype=np.uint8)
    for i, r in enumerate(records):
        img = decode_to_unit(r.path)
        if img.shape != (512, 512):
            raise ValueError(f"{r.path}: expected 512x512, got {img.shape}")
        arr[i] = np.rint(img * 255.0).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)
    return arr


# ----------------------------------------------------------------------------- TB
def _write_tb_split(names: list[str]) -> None:
    rng = random.Random(TB_SPLIT_SEED)
    order = sorted(names)
    rng.shuffle(order)
    n_val = round(0.2 * len(order))
    val = set(order[:n_val])
    SPLITS.mkdir(parents=True, exist_ok=True)
    with TB_SPLIT_CSV.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "split"])
        for n in sorted(names):
            w.writerow([n, "val" if n in val else "train"])


def load_tb() -> list[Record]:
    """600 TB-positive TBX11K images with lesion boxes; split from splits/tb_split.csv."""
    boxes: dict[str, list[Box]] = {}
    with (TB_DIR / "boxes.csv").open() as f:
        for row in csv.DictReader(f):
            b = boxes.setdefault(row["image"], [])
            if row["finding"]:
                b.append(tuple(float(row[k]) for k in ("x_min", "y_min", "x_max", "y_max")))  # type: ignore[arg-type]
    names = sorted(p.name for p in (TB_DIR / "images").glob("*.png"))
    if not TB_SPLIT_CSV.exists():
        _write_tb_split(names)
    with TB_SPLIT_CSV.open() as f:
        split = {row["image"]: row["split"] for row in csv.DictReader(f)}
    return [Record(image=n, path=TB_DIR / "images" / n, boxes=boxes.get(n, []), split=split[n])
            for n in names]


# ------------------------------------------------------------------------ nodules
def _parse_boxes(s: str) -> list[Box]:
    out: list[Box] = []
    for part in filter(None, (p.strip() for p in s.split(";"))):
        coords = part.split(":", 1)[1]
        out.append(tuple(float(v) for v in coords.split(",")))  # type: ignore[arg-type]
    return out


def _detail(s: str, key: str) -> str | None:
    for part in s.split(";"):
        if part.startswith(key + "="):
            return part.split("=", 1)[1]
    return None


def load_nodules() -> list[Record]:
    """696 JSRT + NIH images, suggested split from labels.csv."""
    out: list[Record] = []
    with (NODULE_DIR / "labels.csv").open() as f:
        for row in csv.DictReader(f):
            src = "JSRT" if row["source"] == "JSRT" else "NIH"
            det = row.get("jsrt_detail") or ""
            sub = _detail(det, "subtlety")
            size = _detail(det, "size_mm")
            out.append(Record(image=row["image"], path=NODULE_DIR / "images" / row["image"],
                              boxes=_parse_boxes(row.get("boxes_512") or ""), split=row["split"],
                              label=int(row["nodule_label"]), source=src,
                              subtlety=int(sub) if sub else None,
                              size_mm=float(size) if size else None))
    out.sort(key=lambda r: r.image)
    return out


# ------------------------------------------------------------------------- masks
def box_mask(boxes: list[Box], size: int = 128, stride: int = 4) -> np.ndarray:
    """Binary mask on the heatmap grid: cell (r, c) is 1 if its centre lies in a box,
    or, for boxes smaller than a cell, the cell containing the box centre."""
    m = np.zeros((size, size), dtype=np.float32)
    centres = (np.arange(size) + 0.5) * stride
    for x0, y0, x1, y1 in boxes:
        cols = (centres >= x0) & (centres < x1)
        rows = (centres >= y0) & (centres < y1)
        if cols.any() and rows.any():
            m[np.ix_(rows, cols)] = 1.0
        else:
            r = min(size - 1, int(((y0 + y1) / 2) // stride))
            c = min(size - 1, int(((x0 + x1) / 2) // stride))
            m[r, c] = 1.0
    return m


# ------------------------------------------------ nodules v2: cxr-nodules + nih-bbox, nested
NIH_BBOX_DIR = SHARED / "datasets" / "nih-bbox"
NODULE_SPLIT_CSV = SPLITS / "nodule_split.csv"
NODULE_FINDINGS = ("Nodule", "Mass")


@dataclass
class NoduleRecord(Record):
    dataset: str = ""
    patient: str = ""
    other_boxes: list[Box] = field(default_factory=list)  # boxes of other findings (hard negatives)


def _u32(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def calibration_half(patient: str) -> str:
    """The split ml/calibration/calibrate.ts has always used: 'calibration' or 'test' (same hash)."""
    return "calibration" if _u32(f"calibration:{patient}") % 2 == 0 else "test"


def _labelled_boxes(s: str) -> list[tuple[str, Box]]:
    out: list[tuple[str, Box]] = []
    for part in filter(None, (p.strip() for p in s.split(";"))):
        name, coords = part.split(":", 1)
        out.append((name, tuple(float(v) for v in coords.split(","))))  # type: ignore[arg-type]
    return out


def load_nodule_split() -> list[NoduleRecord]:
    """cxr-nodules (JSRT + NIH) and nih-bbox, split by patient into train / validation /
    calibration / test (written to splits/nodule_split.csv).

    test         = the test split of ml/reports/calibration.md, unchanged: half of nih-bbox's
                   patients (hash) and half of the patients of JSRT `val`; chooses nothing.
    validation   = the other half of JSRT `val`; NIH patients outside test with hash bucket 6-7 of 10.
    calibration  = a quarter of JSRT `train` patients (hash); NIH patients outside test, bucket 8-9.
    train        = the rest: JSRT `train` (three quarters), NIH patients outside test, bucket 0-5.
    NIH patients that have any image in test are never in another split; the few images in both
    NIH sets are taken once, from cxr-nodules (as calibrate.ts does).
    """
    recs: list[NoduleRecord] = []
    nod_names: set[str] = set()
    with (NODULE_DIR / "labels.csv").open() as f:
        for row in csv.DictReader(f):
            nod_names.add(row["image"])
            jsrt = row["source"] == "JSRT"
            boxes = [b for n, b in _labelled_boxes(row.get("boxes_512") or "") if n in NODULE_FINDINGS]
            det = row.get("jsrt_detail") or ""
            sub, size = _detail(det, "subtlety"), _detail(det, "size_mm")
            recs.append(NoduleRecord(
                image=row["image"], path=NODULE_DIR / "images" / row["image"], boxes=boxes,
                split=row["split"], label=int(row["nodule_label"]), source="JSRT" if jsrt else "NIH",
                subtlety=int(sub) if sub else None, size_mm=float(size) if size else None,
                dataset="cxr-nodules", patient=f"JSRT:{row['patient_id']}" if jsrt else f"NIH:{row['image'].split('_')[0]}"))
    with (NIH_BBOX_DIR / "labels.csv").open() as f:
        for row in csv.DictReader(f):
            if row["image"] in nod_names:
                continue
            lb = _labelled_boxes(row.get("boxes_512") or "")
            recs.append(NoduleRecord(
                image=row["image"], path=NIH_BBOX_DIR / "images" / row["image"],
                boxes=[b for n, b in lb if n in NODULE_FINDINGS], other_boxes=[b for n, b in lb if n not in NODULE_FINDINGS],
                split="", label=int(row["nodule_label"]), source="NIH", dataset="nih-bbox",
                patient=f"NIH:{row['patient_id']}"))
    test_nih = {r.patient for r in recs if r.dataset == "nih-bbox" and calibration_half(r.patient) == "test"}
    for r in recs:
        if r.source == "JSRT":
            if r.split == "val":
                r.split = "test" if calibration_half(r.patient) == "test" else "validation"
            else:
                r.split = "calibration" if _u32(f"nodule-v2:{r.patient}") % 4 == 0 else "train"
        elif r.patient in test_nih:
            # nih-bbox images of a test patient are test; their cxr-nodules images chose the old
            # checkpoint, so they are left out (calibration.md's test set, unchanged)
            r.split = "test" if r.dataset == "nih-bbox" else "excluded"
        else:
            b = _u32(f"nodule-v2:{r.patient}") % 10
            r.split = "train" if b < 6 else "validation" if b < 8 else "calibration"
    recs.sort(key=lambda r: (r.dataset, r.image))
    SPLITS.mkdir(parents=True, exist_ok=True)
    with NODULE_SPLIT_CSV.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "image", "source", "patient", "split", "nodule_label", "nodule_boxes"])
        for r in recs:
            w.writerow([r.dataset, r.image, r.source, r.patient, r.split, r.label, len(r.boxes)])
    return recs
