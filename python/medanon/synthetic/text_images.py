"""Seeded synthetic frames with burned-in text and exact ground truth.

Used by ``bench/bench_pixels.py`` and the pixel tests to measure how much of
the drawn text a detector masks (recall: fraction of the text pixels masked;
per-box coverage: the same within one line's box), how much it masks outside
the ground-truth line boxes (collateral: masked pixels outside the boxes /
pixels outside them, since a mask is itself a union of boxes), and how much it
masks on text-free controls.

Text is drawn with :func:`cv2.putText` in every Hershey font (optionally
italic), at scales 0.4 to 2.5, thickness 1 to 3, with and without
anti-aliasing, at low to high contrast, bright or dark, horizontally, over
three kinds of background.  ``fonts="truetype"`` draws it instead with
Pillow in the TrueType fonts that ship with matplotlib (DejaVu, STIX and
Computer Modern: sans, serif, monospace, bold, italic), 8 to 48 px, with
and without anti-aliasing: outline fonts like those of scanners and
workstations, which the detector was not tuned on.  The backgrounds:

``"ct"``
    12-bit CT-like slice (air, body ellipse, organs, bone ring, noise).
``"us"``
    8-bit ultrasound-like frame (black surround, sector of speckle).
``"xr"``
    12-bit radiograph-like frame (smooth density, rib-like bands,
    collimation, noise).

Text is an overlay of constant value blended with its anti-aliasing coverage,
as scanners and workstations burn annotations into the finished image.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "BACKGROUNDS",
    "CONTRASTS",
    "HERSHEY_FONTS",
    "TRUETYPE_FONTS",
    "TextBox",
    "TextSample",
    "generate",
    "make_background",
    "sample",
]

HERSHEY_FONTS: tuple[int, ...] = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
)
"""All eight Hershey fonts of OpenCV; each may also be drawn italic."""

TRUETYPE_FONTS: tuple[str, ...] = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
)
"""TrueType fonts of matplotlib's ``mpl-data/fonts/ttf`` used by ``fonts="truetype"``."""

BACKGROUNDS: tuple[str, ...] = ("ct", "us", "xr")
CONTRASTS: tuple[float, ...] = (0.1, 0.2, 0.35, 0.6, 1.0)
"""Text contrast as a fraction of the frame's display range.  0.1 is faint;
0.2 and above are read without effort on a normal display."""

_FULL = {"ct": 4095.0, "us": 255.0, "xr": 4095.0}


@dataclass(frozen=True)
class TextBox:
    """Tight box (x, y, w, h) of one drawn text line's pixels and how it was drawn."""

    x: int
    y: int
    w: int
    h: int
    font: int | str  # Hershey font code, or TrueType file name
    scale: float  # Hershey scale, or TrueType size in pixels
    thickness: int  # Hershey thickness; 0 for TrueType
    contrast: float
    text: str


@dataclass
class TextSample:
    """One synthetic frame with its ground truth.

    Attributes
    ----------
    image : ndarray
        2-D frame, ``uint8`` (``"us"``) or ``uint16`` with 12 bits stored.
    text_mask : ndarray of bool
        Pixels covered by drawn text (anti-aliasing coverage >= 0.25).
    boxes : list of TextBox
        One tight box per text line; empty for text-free controls.
    background : str
        ``"ct"``, ``"us"`` or ``"xr"``.
    """

    image: npt.NDArray[np.generic]
    text_mask: npt.NDArray[np.bool_]
    boxes: list[TextBox] = field(default_factory=list)
    background: str = "ct"


def _speckle(rng: np.random.Generator, h: int, w: int) -> npt.NDArray[Any]:
    # Fully developed speckle: Rayleigh amplitude, smoothed into
    # laterally elongated grains, under a slowly varying tissue echogenicity.
    ray: npt.NDArray[Any] = rng.rayleigh(1.0, size=(h, w)).astype(np.float32)
    ray = cv2.GaussianBlur(ray, (0, 0), sigmaX=1.6, sigmaY=0.8)
    tissue: npt.NDArray[Any] = rng.normal(0.0, 1.0, size=(max(h // 32, 2), max(w // 32, 2))).astype(
        np.float32
    )
    tissue = cv2.resize(tissue, (w, h), interpolation=cv2.INTER_CUBIC)
    tissue = 0.55 + 0.25 * np.tanh(tissue)
    # bright specular interfaces
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = int(rng.integers(h // 4, max(h, h // 4 + 1))), int(rng.integers(0, max(w, 1)))
        ax = (int(rng.integers(w // 8, max(w // 2, w // 8 + 1))), int(rng.integers(4, 20)))
        cv2.ellipse(tissue, (cx, cy), ax, float(rng.uniform(-20, 20)), 0, 360, 1.1, -1)
    tissue = cv2.GaussianBlur(tissue, (0, 0), 3)
    return ray * tissue


def make_background(
    kind: str, shape: tuple[int, int], rng: np.random.Generator
) -> npt.NDArray[Any]:
    """Draw a text-free background of the given kind, as float32 in its value range.

    Parameters
    ----------
    kind : {"ct", "us", "xr"}
    shape : (rows, columns)
        Realistic from 64 x 64; smaller shapes (down to 1 x 1) are drawn
        without error but look like little.
    rng : numpy.random.Generator

    Examples
    --------
    >>> import numpy as np
    >>> bg = make_background("us", (128, 128), np.random.default_rng(0))
    >>> bg.shape
    (128, 128)
    """
    h, w = shape
    if kind == "ct":
        img: npt.NDArray[Any] = np.full((h, w), 24.0, np.float32)  # air, -1000 HU + offset
        cx, cy = w / 2 + rng.uniform(-0.05, 0.05) * w, h / 2 + rng.uniform(-0.05, 0.05) * h
        ax = (int(w * rng.uniform(0.3, 0.45)), int(h * rng.uniform(0.25, 0.4)))
        cv2.ellipse(img, (int(cx), int(cy)), ax, 0, 0, 360, 1040.0, -1)
        for _ in range(int(rng.integers(3, 8))):  # organs, vessels
            c = (int(cx + rng.uniform(-0.6, 0.6) * ax[0]), int(cy + rng.uniform(-0.6, 0.6) * ax[1]))
            a = (int(rng.integers(5, max(6, ax[0] // 3))), int(rng.integers(5, max(6, ax[1] // 3))))
            cv2.ellipse(
                img, c, a, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(900, 1250)), -1
            )
        # bone ring (spine / ribs) and a few calcifications
        ring = (max(ax[0] - 12, 1), max(ax[1] - 12, 1))
        cv2.ellipse(img, (int(cx), int(cy)), ring, 0, 0, 360, 1900.0, 5)
        cv2.circle(img, (int(cx), int(cy + ax[1] * 0.6)), int(min(ax) * 0.15), 1700.0, -1)
        for _ in range(int(rng.integers(0, 6))):
            c = (int(cx + rng.uniform(-0.7, 0.7) * ax[0]), int(cy + rng.uniform(-0.7, 0.7) * ax[1]))
            cv2.circle(img, c, int(rng.integers(1, 4)), float(rng.uniform(1300, 2600)), -1)
        img = cv2.GaussianBlur(img, (0, 0), 1.0)
        img += rng.normal(0, 12, size=(h, w)).astype(np.float32)
        return np.clip(img, 0, 4095)
    if kind == "us":
        img = np.zeros((h, w), np.float32)
        sec = np.zeros((h, w), np.uint8)
        apex = (w // 2, int(-0.1 * h))
        r_out = int(h * rng.uniform(0.95, 1.05))
        half = float(rng.uniform(30, 42))
        cv2.ellipse(sec, apex, (r_out, r_out), 90, -half, half, 255, -1)
        cv2.circle(sec, apex, int(h * 0.15), 0, -1)
        sp = _speckle(rng, h, w) * float(rng.uniform(60, 110))
        depth = np.linspace(1.0, 0.45, h, dtype=np.float32)[:, None]
        img = np.where(sec > 0, sp * depth, 0.0).astype(np.float32)
        img += rng.normal(0, 1.5, size=(h, w)).astype(np.float32)
        return np.asarray(np.clip(img, 0, 255), dtype=np.float32)
    if kind == "xr":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        img = 1400 + 600 * np.sin(xx / w * np.pi) * np.cos((yy / h - 0.5) * 2.0)
        period = float(rng.uniform(35, 70)) * h / 512
        img += 250 * (np.sin(2 * np.pi * (yy + 0.25 * xx * np.sin(xx / w * 3)) / period) > 0.6)
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 4)
        m = int(rng.integers(0, max(1, w // 12)))
        if m:  # collimation: bright unexposed border (MONOCHROME2 as stored)
            img[:, :m] = 3500
            img[:, w - m :] = 3500
        img += rng.normal(0, 18, size=(h, w)).astype(np.float32)
        return np.asarray(np.clip(img, 0, 4095), dtype=np.float32)
    raise ValueError(f"kind must be one of {BACKGROUNDS}, got {kind!r}")


_WORDS = [
    "DOE^JANE",
    "SMITH, JOHN",
    "Patient:",
    "ID",
    "MRN",
    "DOB",
    "Acc#",
    "St. Mary Hospital",
    "CCHS CLINIC",
    "Dr. Who",
    "L12-5",
    "TIS0.4",
    "MI 1.1",
    "Sag Liver",
    "Gen OB",
]


def _random_text(rng: np.random.Generator) -> str:
    kind = int(rng.integers(0, 5))
    if kind == 0:
        return f"{rng.choice(_WORDS)} {int(rng.integers(10**5, 10**9))}"
    if kind == 1:
        y, m, d = int(rng.integers(1930, 2024)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        return f"DOB: {m:02d}/{d:02d}/{y}"
    if kind == 2:
        n = int(rng.integers(3, 14))
        letters = string.ascii_letters + string.digits + " .-:/"
        return "".join(str(rng.choice(list(letters))) for _ in range(n)).strip() or "X1"
    if kind == 3:
        hh, mm, ss = (int(v) for v in rng.integers(0, [24, 60, 60]))
        return f"{hh:02d}:{mm:02d}:{ss:02d} PM"
    return str(rng.choice(_WORDS))


def _truetype(
    text: str, font: str, size: int, antialias: bool, rng: np.random.Generator, shape: tuple[int, int]
) -> npt.NDArray[np.uint8] | None:
    """Coverage (0-255) of `text` in TrueType `font` at a random place, or None when it does not fit."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont  # Pillow: a dependency of matplotlib

    h, w = shape
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / font
    face = ImageFont.truetype(str(path), size)
    left, top, right, bottom = (int(v) for v in face.getbbox(text))
    tw, th = right - left, bottom - top
    if tw + 6 >= w or th + 6 >= h:
        return None
    x = int(rng.integers(2, w - tw - 2)) - left
    y = int(rng.integers(2, h - th - 2)) - top
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    if not antialias:
        draw.fontmode = "1"  # bitmap-like glyphs, as on older consoles
    draw.text((x, y), text, fill=255, font=face)
    return np.asarray(canvas, dtype=np.uint8)


def sample(
    kind: str,
    rng: np.random.Generator,
    *,
    shape: tuple[int, int] = (512, 512),
    lines: int | None = None,
    contrast: float | None = None,
    text_free: bool = False,
    fonts: str = "hershey",
) -> TextSample:
    """Draw one frame of `kind` with 1-4 horizontal text lines (or none).

    Parameters
    ----------
    kind : {"ct", "us", "xr"}
    rng : numpy.random.Generator
    shape : (rows, columns)
    lines : int, optional
        Number of text lines; random 1-4 by default.
    contrast : float, optional
        Text contrast as a fraction of the display range; one of
        :data:`CONTRASTS` at random by default.
    text_free : bool
        Return a control frame without text.
    fonts : {"hershey", "truetype"}
        OpenCV's Hershey fonts, or :data:`TRUETYPE_FONTS` drawn with Pillow.

    Returns
    -------
    TextSample

    Examples
    --------
    >>> import numpy as np
    >>> s = sample("ct", np.random.default_rng(1), lines=2)
    >>> len(s.boxes), s.image.dtype.name
    (2, 'uint16')
    """
    if fonts not in ("hershey", "truetype"):
        raise ValueError(f"fonts must be 'hershey' or 'truetype', got {fonts!r}")
    h, w = shape
    bg = make_background(kind, shape, rng)
    full = _FULL[kind]
    img = bg.copy()
    mask = np.zeros((h, w), bool)
    boxes: list[TextBox] = []
    n = 0 if text_free else (int(rng.integers(1, 5)) if lines is None else lines)
    occupied = np.zeros((h, w), bool)
    for _ in range(n):
        for _attempt in range(30):
            font: int | str
            if fonts == "truetype":
                font, scale, thick = str(rng.choice(TRUETYPE_FONTS)), float(rng.integers(8, 49)), 0
                text = _random_text(rng)
                drawn_cov = _truetype(text, font, int(scale), rng.random() < 0.7, rng, shape)
                if drawn_cov is None:
                    continue
                cov = drawn_cov
            else:
                font = int(rng.choice(HERSHEY_FONTS)) | (cv2.FONT_ITALIC if rng.random() < 0.2 else 0)
                scale = float(rng.uniform(0.4, 2.5))
                thick = int(rng.integers(1, 4))
                text = _random_text(rng)
                (tw, th), base = cv2.getTextSize(text, font, scale, thick)
                if tw + 4 >= w or th + base + 4 >= h:
                    continue
                x = int(rng.integers(2, w - tw - 2))
                y = int(rng.integers(th + 2, h - base - 2))
                cov = np.zeros((h, w), np.uint8)
                aa = cv2.LINE_AA if rng.random() < 0.5 else cv2.LINE_8
                cv2.putText(cov, text, (x, y), font, scale, 255, thick, aa)
            drawn = cov >= 64
            if not drawn.any():
                continue
            ys, xs = np.nonzero(drawn)
            bx, by, bw, bh = (
                int(xs.min()),
                int(ys.min()),
                int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1),
            )
            if occupied[max(by - 4, 0) : by + bh + 4, max(bx - 4, 0) : bx + bw + 4].any():
                continue
            c = float(rng.choice(CONTRASTS)) if contrast is None else contrast
            # polarity: bright text unless the local background is too bright
            # for it; when neither polarity fits (high contrast on a mid-grey
            # background), the extreme farther from the background, so the
            # text is never drawn black on black (invisible yet in the truth)
            local = float(np.median(bg[by : by + bh, bx : bx + bw]))
            if local + c * full <= full:
                value = local + c * full
            elif local - c * full >= 0:
                value = local - c * full
            else:
                value = full if full - local >= local else 0.0
            a = cov.astype(np.float32) / 255.0
            img = img * (1 - a) + value * a
            mask |= drawn
            occupied[by : by + bh, bx : bx + bw] = True
            boxes.append(TextBox(bx, by, bw, bh, font, round(scale, 3), thick, c, text))
            break
    dtype = np.uint8 if kind == "us" else np.uint16
    out = np.clip(np.rint(img), 0, full).astype(dtype)
    return TextSample(out, mask, boxes, kind)


def generate(
    n_per_kind: int,
    *,
    seed: int = 0,
    kinds: tuple[str, ...] = BACKGROUNDS,
    shape: tuple[int, int] = (512, 512),
    text_free_fraction: float = 0.25,
    fonts: str = "hershey",
) -> list[TextSample]:
    """Generate `n_per_kind` frames per background, a fraction of them text-free.

    Parameters
    ----------
    n_per_kind : int
    seed : int
        Seed of :func:`numpy.random.default_rng`; the output is a pure function
        of the arguments.
    kinds : tuple of str
    shape : (rows, columns)
    text_free_fraction : float
        Fraction of frames drawn without text (controls).
    fonts : {"hershey", "truetype"}
        See :func:`sample`.

    Returns
    -------
    list of TextSample

    Examples
    --------
    >>> frames = generate(2, seed=3, kinds=("us",))
    >>> [f.background for f in frames]
    ['us', 'us']
    """
    rng = np.random.default_rng(seed)
    out = []
    for kind in kinds:
        n_free = round(n_per_kind * text_free_fraction)
        for i in range(n_per_kind):
            out.append(sample(kind, rng, shape=shape, text_free=i < n_free, fonts=fonts))
    return out
