"""Burned-in text detectors on the synthetic generator: recall, collateral, false masks, speed.

Run: ``python bench/bench_pixels.py [--n 24] [--seed 0] [--size 512] [--fonts hershey|truetype] [--dump DIR]``.
``--fonts truetype`` draws the text in the TrueType fonts that ship with
matplotlib instead of OpenCV's Hershey fonts, which the detector was tuned on;
``--jpeg Q`` scores the frames after 8-bit JPEG compression at quality Q (most
real ultrasound is stored as JPEG baseline).  OpenCV 5 draws the "Hershey"
fonts as outline fonts, OpenCV 4 as the original stroke fonts (1 px strokes,
thickened by round pens): to score the latter, write the frames under
OpenCV 4 with ``--save-frames F.pkl`` (for example with
``pip install --target DIR opencv-python-headless==4.10.0.84`` and
``PYTHONPATH=DIR``) and score them here with ``--load-frames F.pkl``.  Prints one table per
detector (medanon's OpenCV detector; Tesseract via pytesseract when the
``tesseract`` binary is installed; the PP-OCRv4 DB detection model shipped in
the ``rapidocr-onnxruntime`` wheel, via ``detect_text(detector="dnn")``, when it is
installed) and saves them under ``bench/results/``.

Definitions.  The generator records, per drawn line, its *text pixels*
(anti-aliasing coverage >= 0.25) and its *ground-truth box*, the tight box of
those pixels.  A mask is a union of boxes, so "text" for collateral is the
union of the ground-truth boxes.  Metrics per background and overall:

recall      fraction of ground-truth text (stroke) pixels masked (all
            contrasts; ``rec>=.2``: lines of contrast >= 0.2 only)
min box     smallest per-box coverage over lines of contrast >= 0.2, where a
            box's coverage is the fraction of its text pixels masked
boxes<90%   ground-truth boxes (contrast >= 0.2) with coverage < 0.9
collateral  masked pixels outside the ground-truth boxes / pixels outside
            them, on frames with text
col(old)    the former definition, kept for comparison: masked non-text
            pixels / non-text pixels (counts the background between a
            line's strokes, so even the exact line boxes score ~0.04)
free        fraction masked on text-free controls
fps         frames per second on one core at 512x512 grey and 1024x768 RGB
"""

from __future__ import annotations

import argparse
import importlib.util
import pickle
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from medanon.dicom.pixels import Box, _pad_merge, _to_grey_u8, boxes_mask, detect_text
from medanon.synthetic.text_images import TextBox, TextSample, generate, sample

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


def box_coverage(mask: np.ndarray[Any, Any], s: TextSample, b: TextBox) -> float:
    """Fraction of the text pixels of ground-truth box `b` that `mask` covers."""
    sub = (slice(b.y, b.y + b.h), slice(b.x, b.x + b.w))
    t = s.text_mask[sub]
    return float(mask[sub][t].mean()) if t.any() else 1.0


def text_boxes_mask(s: TextSample) -> np.ndarray[Any, Any]:
    """Union of the ground-truth boxes of `s` (the "text" of the collateral metric)."""
    return boxes_mask([(b.x, b.y, b.w, b.h) for b in s.boxes], s.text_mask.shape)


def evaluate(
    det: Detector, samples: list[TextSample], misses: list[tuple[TextSample, TextBox, float]] | None = None
) -> dict[str, dict[str, Any]]:
    """Recall, per-box coverage, collateral (new and old definition) and free masking.

    `misses`, when given, receives (sample, box, coverage) of every box of
    contrast >= 0.2 covered less than 90%.
    """
    acc: dict[str, dict[str, Any]] = {}
    for s in samples:
        m = boxes_mask(det(s.image), s.image.shape)
        gt = text_boxes_mask(s)
        for key in (s.background, "overall"):
            r = acc.setdefault(key, dict(tp=0, t=0, tp2=0, t2=0, col=0, nt=0, old=0, ont=0, free=[], cov=[]))
            if s.boxes:
                r["tp"] += int((m & s.text_mask).sum())
                r["t"] += int(s.text_mask.sum())
                r["col"] += int((m & ~gt).sum())
                r["nt"] += int((~gt).sum())
                r["old"] += int((m & ~s.text_mask).sum())
                r["ont"] += int((~s.text_mask).sum())
                readable = np.zeros_like(s.text_mask)
                for b in s.boxes:
                    if b.contrast >= 0.2:
                        readable[b.y : b.y + b.h, b.x : b.x + b.w] = True
                        c = box_coverage(m, s, b)
                        r["cov"].append(c)
                        if key == "overall" and misses is not None and c < 0.9:
                            misses.append((s, b, c))
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
            "col(old)": r["old"] / max(r["ont"], 1),
            "free": float(np.mean(r["free"])) if r["free"] else float("nan"),
        }
    return out


def fps(det: Detector, frames: list[np.ndarray[Any, Any]], budget: float = 3.0) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < budget:
        det(frames[n % len(frames)])
        n += 1
    return n / (time.perf_counter() - t0)


def dump_misses(misses: list[tuple[TextSample, TextBox, float]], det: Detector, out: Path) -> None:
    """Write each poorly covered box as a PNG: frame crop (top) and the mask over it (bottom)."""
    out.mkdir(parents=True, exist_ok=True)
    for i, (s, b, c) in enumerate(misses):
        g = _to_grey_u8(s.image)
        m = boxes_mask(det(s.image), g.shape)
        pad = max(8, b.h)
        y0, y1 = max(b.y - pad, 0), min(b.y + b.h + pad, g.shape[0])
        x0, x1 = max(b.x - pad, 0), min(b.x + b.w + pad, g.shape[1])
        crop = cv2.cvtColor(g[y0:y1, x0:x1], cv2.COLOR_GRAY2BGR)
        over = crop.copy()
        over[m[y0:y1, x0:x1]] = (0.5 * over[m[y0:y1, x0:x1]] + (0, 0, 127)).astype(np.uint8)
        over[s.text_mask[y0:y1, x0:x1] & ~m[y0:y1, x0:x1]] = (0, 255, 0)  # missed strokes
        img = np.vstack([crop, over])
        k = max(1, 200 // max(img.shape[0], 1))
        img = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_NEAREST)
        name = f"{i:03d}_{s.background}_c{b.contrast}_f{b.font}_s{b.scale}_t{b.thickness}_{c:.2f}.png"
        cv2.imwrite(str(out / name), img)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=24, help="frames per background")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=512, help="frame side for the accuracy metrics")
    ap.add_argument("--fps-budget", type=float, default=3.0)
    ap.add_argument("--only", default="", help="run only detectors whose name contains this")
    ap.add_argument("--dump", type=Path, default=None, help="write missed boxes (first detector)")
    ap.add_argument("--fonts", choices=("hershey", "truetype"), default="hershey", help="fonts of the drawn text")
    ap.add_argument("--jpeg", type=int, default=0, help="JPEG-compress the frames (8-bit) at this quality first")
    ap.add_argument("--save-frames", type=Path, default=None, help="write the generated frames here (.pkl) and stop")
    ap.add_argument("--load-frames", type=Path, default=None, help="score frames written by --save-frames")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    if args.load_frames is not None:
        with args.load_frames.open("rb") as f:
            samples = pickle.load(f)
    else:
        samples = generate(args.n, seed=args.seed, shape=(args.size, args.size), fonts=args.fonts)
    if args.save_frames is not None:
        with args.save_frames.open("wb") as f:
            pickle.dump(samples, f)
        print(f"saved {len(samples)} frames drawn by OpenCV {cv2.__version__} to {args.save_frames}")
        return
    if args.jpeg:
        for s in samples:  # the truth stays where the text was drawn
            _, buf = cv2.imencode(".jpg", _to_grey_u8(s.image), [cv2.IMWRITE_JPEG_QUALITY, args.jpeg])
            s.image = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    rng = np.random.default_rng(args.seed + 1)
    grey512 = [s.image for s in generate(3, seed=args.seed + 2, shape=(512, 512))]
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
    dets = [d for d in dets if args.only.lower() in d[0].lower()]
    lines = [
        f"synthetic: {args.n} frames per background, seed {args.seed}, {args.size}x{args.size}, {args.fonts} fonts, "
        + (f"frames from {args.load_frames.name}, " if args.load_frames else f"drawn by OpenCV {cv2.__version__}, ")
        + (f"JPEG quality {args.jpeg}, " if args.jpeg else "")
        + "text-free fraction 0.25; one core (cv2.setNumThreads(1)); fps on 512x512 grey "
        "(9 frames) and 1024x768 RGB (4 frames)"
    ]
    print(lines[0], flush=True)
    for j, (name, det) in enumerate(dets):
        if det is None:
            lines.append(f"\n## {name}: not available (package or binary not installed)")
            continue
        slow = name.startswith(("Tesseract", "PP-OCR"))
        misses: list[tuple[TextSample, TextBox, float]] = []
        res = evaluate(det, samples, misses)
        if args.dump is not None and j == 0:
            dump_misses(misses, det, args.dump)
        f1 = fps(det, grey512, 1.0 if slow else args.fps_budget)
        f2 = fps(det, rgb, 1.0 if slow else args.fps_budget)
        lines.append(f"\n## {name}   fps 512x512 grey: {f1:.1f}   fps 1024x768 RGB: {f2:.1f}")
        hdr = f"{'background':<10} {'recall':>7} {'rec>=.2':>8} {'min box':>8} "
        hdr += f"{'box<90%':>8} {'collat':>7} {'col(old)':>8} {'free':>7}"
        lines.append(hdr)
        for k in ("ct", "us", "xr", "overall"):
            r = res[k]
            lines.append(
                f"{k:<10} {r['recall']:7.3f} {r['recall>=0.2']:8.3f} {r['min box']:8.2f} "
                f"{r['boxes<90%']:>8} {r['collateral']:7.3f} {r['col(old)']:8.3f} {r['free']:7.3f}"
            )
        print("\n".join(lines[-6:]), flush=True)
    if args.only or args.dump is not None:
        return  # partial runs are not saved
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    suffix = ("" if args.size == 512 else f"_{args.size}") + ("" if args.fonts == "hershey" else f"_{args.fonts}")
    suffix += f"_jpeg{args.jpeg}" if args.jpeg else ""
    suffix += f"_{args.load_frames.stem}" if args.load_frames else ""
    (out / f"bench_pixels{suffix}.txt").write_text("\n".join(lines) + "\n")
    print(f"\nsaved {out / f'bench_pixels{suffix}.txt'}")


if __name__ == "__main__":
    main()
