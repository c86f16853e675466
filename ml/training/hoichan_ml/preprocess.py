"""Reference preprocessing (THE CONTRACT). numpy + Pillow only, no torch.

1. decode to a 2-D float image in [0, 1], higher = brighter
   (8-bit grey: v/255; 16-bit grey: v/65535; RGB(A): Y = 0.299R + 0.587G + 0.114B, /255)
2. resize to 512x512 by exact area resampling: out = Ry @ img @ Rx.T (float64 weights,
   result cast to float32)
3. z = (x - mean(x)) / max(std(x), 1e-6), mean and population std in float64, result float32
4. tensor float32 [1, 1, 512, 512], row-major (y, x)

CLI (cwd ml/training):
    python -m hoichan_ml.preprocess --dump <image.png> <out.f32>
writes the normalised 512x512 float32 tensor as little-endian raw bytes.
"""
from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 512
STD_EPS = 1e-6


def decode_to_unit(path: str | Path) -> np.ndarray:
    """Decode an image file to a 2-D float64 array in [0, 1] (higher = brighter)."""
    with Image.open(path) as im:
        im.load()
        return image_to_unit(im)


def image_to_unit(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im, dtype=np.uint16).astype(np.float64) / 65535.0
    if mode == "I":  # Pillow may open 16-bit PNGs as 32-bit int
        return np.asarray(im, dtype=np.int64).astype(np.float64) / 65535.0
    if mode == "L":
        return np.asarray(im, dtype=np.uint8).astype(np.float64) / 255.0
    if mode == "LA":
        return np.asarray(im.getchannel("L"), dtype=np.uint8).astype(np.float64) / 255.0
    if mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")
    rgb = np.asarray(im, dtype=np.uint8)[..., :3].astype(np.float64)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    return y / 255.0


@lru_cache(maxsize=64)
def area_matrix(in_len: int, out_len: int = SIZE) -> np.ndarray:
    """(out_len x in_len) float64 weights of exact area resampling.

    Output index i covers the source interval [i*L/out, (i+1)*L/out); input pixel j
    (covering [j, j+1)) contributes overlap / (L/out).
    """
    scale = in_len / out_len
    m = np.zeros((out_len, in_len), dtype=np.float64)
    for i in range(out_len):
        a = i * in_len / out_len
        b = (i + 1) * in_len / out_len
        j0 = int(np.floor(a))
        j1 = min(int(np.ceil(b)), in_len)
        for j in range(j0, j1):
            overlap = min(b, j + 1.0) - max(a, float(j))
            if overlap > 0.0:
                m[i, j] = overlap / scale
    m.setflags(write=False)
    return m


def resize_area(img: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Exact area resize of a 2-D float image to size x size, float32 result."""
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {img.shape}")
    h, w = img.shape
    ry = area_matrix(h, size)
    rx = area_matrix(w, size)
    out = ry @ img.astype(np.float64) @ rx.T
    return out.astype(np.float32)


def normalise(x: np.ndarray) -> np.ndarray:
    """Per-image z-score; mean/std (population) in float64, float32 result."""
    x64 = x.astype(np.float64)
    mean = x64.mean()
    std = max(float(x64.std()), STD_EPS)
    return ((x64 - mean) / std).astype(np.float32)


def preprocess_unit(img01: np.ndarray) -> np.ndarray:
    """[0,1] 2-D image -> float32 tensor [1, 1, 512, 512]."""
    return normalise(resize_area(img01))[None, None]


def preprocess_file(path: str | Path) -> np.ndarray:
    """Image file -> float32 tensor [1, 1, 512, 512]."""
    return preprocess_unit(decode_to_unit(path))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hoichan_ml.preprocess", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dump", nargs=2, metavar=("IMAGE", "OUT_F32"), required=True,
                   help="write the normalised 512x512 float32 tensor, little-endian raw")
    args = p.parse_args(argv)
    src, dst = args.dump
    t = preprocess_file(src)[0, 0]
    Path(dst).write_bytes(t.astype("<f4", copy=False).tobytes(order="C"))
    print(f"{src}: mean={t.mean():.6f} std={t.std():.6f} -> {dst} ({t.nbytes} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
