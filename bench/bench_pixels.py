"""Burned-in text detectors on the synthetic generator: recall, collateral, false masks, speed.

Run: ``python bench/bench_pixels.py [--n 24] [--seed 0]``.  Prints one table per
detector (medanon's OpenCV detector; Tesseract via pytesseract when the
``tesseract`` binary is installed; the PP-OCRv4 DB detection model shipped in
the ``rapidocr-onnxruntime`` wheel, via ``detect_text(detector="dnn")``, when it is
installed) and saves them under ``bench/results/``.

Metrics per background and overall:
recall      fraction of ground-truth text pixels masked (all contrasts, and >= 0.2)
min box     smallest fraction of a ground-truth box's area masked (contrast >= 0.2)
boxes<90%   ground-truth boxes (contrast >= 0.2) less than 90% covered
collateral  fraction of non-text pixels masked, on frames with text
free        fraction masked on text-free controls
fps         frames per second on one core at 512x512 grey and 1024x768 RGB
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medanon.dicom.pixels import Box, _pad_merge, _to_grey_u8, boxes_mask, detect_text
from medanon.synthetic.text_images import TextSample, generate, sample

Detector = Callable[[np.ndarray[Any, Any]], list[Box]]


def tesseract_detector() -> Detector | None:
    if shutil.which("tesseract") is None or importlib.util.find_spec("pytesseract") is None:
        return None
    import pytesseract  # type: ignore[import-untyped]

    def det(frame: np.ndarray[Any, Any]) -> list[Box]:
        g = _to_grey_u8(frame)
        d = pytesseract.image_to_data(g, config="--psm 11", output_type=pytesseract.Output.DICT)
        out = []
        for x, y, w, h, conf, txt in zip(
            d["left"], d["top"], d["width"], d["height"], d["conf"], d["text"], strict=True
        ):
            if str(txt).strip() and float(conf) >= 0:
                out.append((int(x), int(y), int(w), int(h)))
        return _pad_merge(out, g.shape)

    return det


def dnn_detector() -> Detector | None:
    """medanon's ``detector="dnn"``: the PP-OCRv4 DB model of rapidocr-onnxruntime."""
    try:
        detect_text(np.zeros((32, 32), np.uint8), detector="dnn")
    except ImportError:
        return None
    return lambda f: detect_text(f, detector="dnn")


def evaluate(det: Detector, samples: list[TextSample]) -> dict[str, dict[str, float]]:
    acc: dict[str, dict[str, Any]] = {}
    for s in samples:
        m = boxes_mask(det(s.image), s.image.shape)
        for key in (s.background, "overall"):
            r = acc.setdefault(key, dict(tp=0, t=0, tp2=0, t2=0, col=0, nt=0, free=[], cov=[]))
            if s.boxes:
                r["tp"] += int((m & s.text_mask).sum())
                r["t"] += int(s.text_mask.sum())
                r["col"] += int((m & ~s.text_mask).sum())
                r["nt"] += int((~s.text_mask).sum())
                readable = np.zeros_like(s.text_mask)
                for b in s.boxes:
                    if b.contrast >= 0.2:
                        readable[b.y : b.y + b.h, b.x : b.x + b.w] = True
                        r["cov"].append(float(m[b.y : b.y + b.h, b.x : b.x + b.w].mean()))
                tm = s.text_mask & readable
                r["tp2"] += int((m & tm).sum())
                r["t2"] += int(tm.sum())
            else:
                r["free"].append(float(m.mean()))
    out = {}
    for k, r in acc.items():
        cov = np.array(r["cov"] or [1.0])
        out[k] = {
            "recall": r["tp"] / max(r["t"], 1),
            "recall>=0.2": r["tp2"] / max(r["t2"], 1),
            "min box": float(cov.min()),
            "boxes<90%": f"{int((cov < 0.9).sum())}/{len(cov)}",
            "collateral": r["col"] / max(r["nt"], 1),
            "free": float(np.mean(r["free"])) if r["free"] else float("nan"),
        }
    return out


def fps(det: Detector, frames: list[np.ndarray[Any, Any]], budget: float = 3.0) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < budget:
        det(frames[n % len(frames)])
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=24, help="frames per background")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fps-budget", type=float, default=3.0)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    samples = generate(args.n, seed=args.seed)
    rng = np.random.default_rng(args.seed + 1)
    grey512 = [s.image for s in samples[:8]]
    rgb = []
    for _ in range(4):
        s = sample("us", rng, shape=(768, 1024))
        g = _to_grey_u8(s.image)
        rgb.append(np.dstack([g, g, (g * 0.8).astype(np.uint8)]))
    dets: list[tuple[str, Detector | None]] = [
        ("medanon OpenCV (usual)", detect_text),
        ("medanon OpenCV (strict)", lambda f: detect_text(f, strict=True)),
        ("Tesseract (pytesseract, psm 11)", tesseract_detector()),
        ("PP-OCRv4 DB, detect_text(detector='dnn') (rapidocr-onnxruntime model)", dnn_detector()),
    ]
    lines = [
        f"synthetic: {args.n} frames per background, seed {args.seed}, 512x512, "
        "text-free fraction 0.25; one core (cv2.setNumThreads(1))"
    ]
    for name, det in dets:
        if det is None:
            lines.append(f"\n## {name}: not available (package or binary not installed)")
            continue
        slow = name.startswith(("Tesseract", "PP-OCR"))
        res = evaluate(det, samples)
        f1 = fps(det, grey512, 1.0 if slow else args.fps_budget)
        f2 = fps(det, rgb, 1.0 if slow else args.fps_budget)
        lines.append(f"\n## {name}   fps 512x512 grey: {f1:.1f}   fps 1024x768 RGB: {f2:.1f}")
        hdr = f"{'background':<10} {'recall':>7} {'rec>=.2':>8} {'min box':>8} "
        hdr += f"{'box<90%':>8} {'collat':>7} {'free':>7}"
        lines.append(hdr)
        for k in ("ct", "us", "xr", "overall"):
            r = res[k]
            lines.append(
                f"{k:<10} {r['recall']:7.3f} {r['recall>=0.2']:8.3f} {r['min box']:8.2f} "
                f"{r['boxes<90%']:>8} {r['collateral']:7.3f} {r['free']:7.3f}"
            )
        print("\n".join(lines[-6:]), flush=True)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_pixels.txt").write_text("\n".join(lines) + "\n")
    print(f"\nsaved {out / 'bench_pixels.txt'}")


if __name__ == "__main__":
    main()
