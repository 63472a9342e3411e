"""Burned-in text: detection, masking, write-back and the fixed-region rules."""

from __future__ import annotations

import importlib.util
import io
import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from medanon.dicom.pixel_rules import PixelRuleError, load_rules, match_regions
from medanon.dicom.pixels import (
    Box,
    PixelDataError,
    boxes_mask,
    clean_pixels,
    decode_frames,
    detect_text,
)
from medanon.synthetic.text_images import HERSHEY_FONTS, TRUETYPE_FONTS, generate, make_background, sample

DATA = Path(__file__).parent / "data" / "pixels"


@dataclass(frozen=True)
class Pol:
    burned_in: str = "auto"
    pixel_rules: Path | None = None
    allow_undecodable_pixels: bool = False
    review_dir: Path | None = None


def _testfile(name: str) -> str:
    path = get_testdata_file(name)
    assert isinstance(path, str), name
    return path


def _roundtrip(ds: Dataset) -> Dataset:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    buf.seek(0)
    return pydicom.dcmread(buf)


# --------------------------------------------------------------- detection


def test_detect_high_contrast_text_on_black() -> None:
    img = np.zeros((200, 400), np.uint8)
    cv2.putText(img, "DOE^JOHN 1234567", (10, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2)
    truth = img > 0
    m = boxes_mask(detect_text(img), img.shape)
    assert m[truth].mean() == 1.0
    assert m[~truth].mean() < 0.1


def test_two_close_lines_are_both_found() -> None:
    # the dark gaps between the letters of two close bright lines once
    # bridged them into one row too tall to be a line: neither was masked
    img = np.full((512, 512), 60, np.uint8)
    cv2.putText(img, "L12-5 989716409", (124, 329), cv2.FONT_HERSHEY_DUPLEX, 1.42, 255, 1, cv2.LINE_AA)
    italic = cv2.FONT_HERSHEY_COMPLEX_SMALL | cv2.FONT_ITALIC
    cv2.putText(img, "DOE^JANE 389033804", (12, 370), italic, 1.78, 255, 2, cv2.LINE_AA)
    m = boxes_mask(detect_text(img), img.shape)
    for rows in (slice(295, 333), slice(336, 375)):
        truth = np.zeros_like(m)
        truth[rows] = img[rows] >= 200
        assert m[truth].mean() >= 0.98  # measured 1.0 (was 0.0)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
def test_detect_any_dtype_and_rgb(dtype: type) -> None:
    canvas = np.zeros((160, 320), np.uint8)
    cv2.putText(canvas, "ID 0042", (20, 90), cv2.FONT_HERSHEY_DUPLEX, 1.2, 255, 2)
    img = canvas.astype(np.float64) / 255.0
    scaled: np.ndarray[Any, Any] = (img * 200 - (100 if dtype is np.int16 else 0)).astype(dtype)
    grey = detect_text(scaled)
    rgb = detect_text(np.repeat(scaled[:, :, None], 3, axis=2))
    assert grey
    assert grey == rgb
    assert all(isinstance(b, Box) for b in grey)


def test_detect_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="frame must be"):
        detect_text(np.zeros((2, 3, 4, 5)))


def test_text_free_controls_are_hardly_masked() -> None:
    frames = generate(4, seed=11, text_free_fraction=1.0)
    for s in frames:
        frac = boxes_mask(detect_text(s.image), s.image.shape).mean()
        assert frac <= 0.01, s.background  # measured 0.000 (seeds 11, 12; one 0.06 on 13)


@pytest.mark.parametrize(("size", "limit"), [(256, 0.012), (512, 0.005)])
def test_ultrasound_speckle_is_hardly_masked(size: int, limit: float) -> None:
    # text-free ultrasound-like frames (speckle sector on black): speckle grains
    # are not text.  Mean masked fraction measured 0.011 (256) and 0.000 (512) on
    # seed 31, 0.007 and 0.003 on seeds 101-103 (10 frames each); was 0.044 at 256
    rng = np.random.default_rng(31)
    fracs = []
    for _ in range(8):
        s = sample("us", rng, shape=(size, size), text_free=True)
        fracs.append(boxes_mask(detect_text(s.image), s.image.shape).mean())
    assert float(np.mean(fracs)) <= limit, fracs


def _score(seed: int, contrast: float, shape: tuple[int, int] = (512, 512)) -> tuple[float, ...]:
    """Recall, collateral and the smallest per-box coverage on 9 frames of 2 lines.

    recall: fraction of the ground-truth text (stroke) pixels masked.
    collateral: masked pixels outside the ground-truth line boxes / pixels
    outside them (a mask is a union of boxes, so the boxes are the "text").
    per-box coverage: fraction of one line box's text pixels masked.
    """
    rng = np.random.default_rng(seed)
    tp = total = coll = other = 0
    covs = []
    for kind in ("ct", "us", "xr"):
        for _ in range(3):
            s = sample(kind, rng, lines=2, contrast=contrast, shape=shape)
            m = boxes_mask(detect_text(s.image), s.image.shape)
            gt = boxes_mask([(b.x, b.y, b.w, b.h) for b in s.boxes], m.shape)
            tp += int((m & s.text_mask).sum())
            total += int(s.text_mask.sum())
            coll += int((m & ~gt).sum())
            other += int((~gt).sum())
            for b in s.boxes:
                t = s.text_mask[b.y : b.y + b.h, b.x : b.x + b.w]
                covs.append(float(m[b.y : b.y + b.h, b.x : b.x + b.w][t].mean()))
    return tp / total, coll / other, min(covs)


@pytest.mark.parametrize(
    ("contrast", "recall", "collateral", "min_box"),
    # measured on held-out seed 21 (seeds 5, 22, 23 alike or better), recall / collateral /
    # smallest box: 1.0: 0.996 / 0.020 / 0.77;  0.35: 0.997 / 0.028 / 0.99;  0.2: 1.000 / 0.028 / 0.997
    # (0.2 was 0.988 / 0.028 / 0.64 before lines extended through their own colour)
    [(1.0, 0.99, 0.024, 0.75), (0.35, 0.99, 0.031, 0.95), (0.2, 0.99, 0.031, 0.95)],
)
def test_synthetic_recall_and_collateral(
    contrast: float, recall: float, collateral: float, min_box: float
) -> None:
    rec, col, low = _score(21, contrast)
    assert rec >= recall
    assert col <= collateral
    assert low >= min_box


def test_truetype_text_is_found() -> None:
    # outline fonts the detector was not tuned on (matplotlib's DejaVu, STIX and
    # Computer Modern, 8-48 px, via Pillow).  Readable lines (contrast >= 0.2),
    # usual / strict, measured on seed 21: recall 1.000 / 0.995, smallest box
    # 1.00 / 0.94; seeds 22, 23, 5: recall >= 0.997 / 0.987, one box of 21 under
    # 90% on seed 22 (usual) and one on 22 and 5 (strict: 8-9 px words)
    frames = generate(4, seed=21, fonts="truetype")
    assert all(isinstance(b.font, str) for s in frames for b in s.boxes)
    with pytest.raises(ValueError, match="fonts must be"):
        generate(1, fonts="arial")
    for strict, least in ((False, 0.99), (True, 0.98)):
        hit = total = 0
        for s in frames:
            m = boxes_mask(detect_text(s.image, strict=strict), s.image.shape)
            for b in s.boxes:
                if b.contrast >= 0.2:
                    sub = (slice(b.y, b.y + b.h), slice(b.x, b.x + b.w))
                    t = s.text_mask[sub]
                    hit += int(m[sub][t].sum())
                    total += int(t.sum())
                    if not strict:
                        assert m[sub][t].mean() >= 0.9, b
        assert total > 0
        assert hit / total >= least, strict


@pytest.mark.parametrize("seed", [21, 22])
def test_faint_text_is_found_by_its_flat_colour(seed: int) -> None:
    # contrast 0.1: dark grey words on black beside the ultrasound sector
    # (under a stroke threshold raised by the speckle), words inside speckle,
    # and CT lines merged with the body edge; their strokes are one grey
    # inside.  Recall / smallest box measured 0.999 / 0.99 (21) and
    # 0.998 / 0.96 (22); 0.952 / 0.00 and 0.698 / 0.00 before the flat pass
    rec, col, low = _score(seed, 0.1)
    assert rec >= 0.99
    assert col <= 0.031
    assert low >= 0.9


@pytest.mark.parametrize(
    ("seed", "kind", "text", "contrast", "before"),
    # readable lines of the bench's generator (512 px) that run across a
    # structure: white text merged with the CT bone ring or a collimator
    # edge, bold text over the CT body edge whose gaps take the body's
    # grey, bold lines of which only the gaps' rows were found, a faint line
    # running from the black surround into speckle of its own mean grey, a
    # 6 px bold word fused with the bone ring.
    # Coverage measured before the flat pass took clipped white and its
    # lines all counted, the letters' colour was used by their gaps' lines,
    # lines extended through their exact grey, and split pieces could be 4 px
    [
        (8, "ct", "Acc#", 1.0, 0.00),
        (5, "xr", "PSdjo", 0.6, 0.00),
        (7, "ct", "d-qexOZ", 1.0, 0.60),
        (5, "ct", "06:14:49 PM", 0.6, 0.74),
        (6, "ct", "23w", 0.2, 0.55),
        (777, "ct", "kRyv", 0.35, 0.44),
        (31337, "ct", "DOE^JANE", 0.2, 0.77),
        (99, "us", ":fPNZ5s8Jt2", 0.2, 0.66),
        (0, "ct", "ch-", 1.0, 0.00),
    ],
)
def test_lines_across_structures_are_found(
    seed: int, kind: str, text: str, contrast: float, before: float
) -> None:
    frames = [s for s in generate(24, seed=seed) if s.background == kind]
    hits = [(s, b) for s in frames for b in s.boxes if (b.text, b.contrast) == (text, contrast)]
    assert len(hits) == 1, "the generator's output changed"
    s, b = hits[0]
    m = boxes_mask(detect_text(s.image), s.image.shape)
    sub = (slice(b.y, b.y + b.h), slice(b.x, b.x + b.w))
    assert m[sub][s.text_mask[sub]].mean() >= 0.9 > before


def test_six_px_words_fused_with_the_bone_ring_are_found_in_strict_mode() -> None:
    # the bench's default seed: 6 px bold white "ch-" and "DOB" touching the
    # CT bone ring; cut out of it at four times the threshold their pieces
    # are 4 px tall and stand 2.25 off their box (0.00 masked each before)
    frames = [s for s in generate(24, seed=0) if s.background == "ct"]
    hits = [(s, b) for s in frames for b in s.boxes if b.text in ("ch-", "DOB") and b.h == 6]
    assert len(hits) == 2, "the generator's output changed"
    for s, b in hits:
        m = boxes_mask(detect_text(s.image, strict=True), s.image.shape)
        sub = (slice(b.y, b.y + b.h), slice(b.x, b.x + b.w))
        assert m[sub][s.text_mask[sub]].mean() >= 0.9, b.text


@pytest.mark.parametrize("strict", [False, True])
def test_small_text_drawn_thick_is_found(strict: bool) -> None:
    # a stroke font drawn thick at a small scale (OpenCV 4's Hershey fonts at
    # scale 0.4-0.8, 2-3 px lines) fills its letters and the spaces between
    # them: each word is one bar of one grey.  Emulated here by dilating thin
    # text by a 5 px disc.  Coverage measured before solid words: usual 0.00,
    # 0.98, 1.00, 0.00, 0.78, 0.79; strict 0.00, 1.00, 0.00, 0.00, 1.00, 0.00
    rng = np.random.default_rng(5)
    lines = [
        ("ct", "DOB: 04/08/1981"),
        ("us", "SMITH^JOHN 72273"),
        ("xr", "Acc# 4471902"),
        ("ct", "MRN 88112"),
        ("us", "23:12:52 PM"),
        ("xr", "St. Mary Hospital"),
    ]
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    for i, (kind, text) in enumerate(lines):
        bg = make_background(kind, (512, 512), rng)
        full = 255.0 if kind == "us" else 4095.0
        thin = np.zeros((512, 512), np.uint8)
        cv2.putText(thin, text, (60 + 20 * i, 120 + 50 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1, cv2.LINE_8)
        drawn = cv2.dilate((thin >= 128).astype(np.uint8), disc) > 0
        ys, xs = np.nonzero(drawn)
        local = float(np.median(bg[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]))
        value = local + 0.6 * full if local + 0.6 * full <= full else local - 0.6 * full
        img = np.clip(np.where(drawn, value, bg), 0, full).astype(np.uint8 if kind == "us" else np.uint16)
        m = boxes_mask(detect_text(img, strict=strict), img.shape)
        assert m[drawn].mean() >= 0.9, text


@pytest.mark.parametrize(
    ("seed", "kind", "font", "thickness", "contrast"),
    [
        (18, "ct", cv2.FONT_HERSHEY_PLAIN, 1, 0.35),
        (164, "us", cv2.FONT_HERSHEY_PLAIN, 2, 0.35),
        (234, "us", cv2.FONT_HERSHEY_COMPLEX_SMALL, 1, 0.35),
        (378, "xr", cv2.FONT_HERSHEY_COMPLEX_SMALL, 1, 0.35),
    ],
)
def test_two_letter_word_with_a_thin_bar_is_found(
    seed: int, kind: str, font: int, thickness: int, contrast: float
) -> None:
    # "ID" at scale 0.6 (8-10 px): anti-aliasing keeps the 1-2 px I short of
    # the grey the D reaches (217-235 against 255), so the pair did not share
    # a colour; 0.00 masked each before bars could join a colour they fall
    # short of
    rng = np.random.default_rng(seed)
    bg = make_background(kind, (512, 512), rng)
    full = 255.0 if kind == "us" else 4095.0
    cov = np.zeros((512, 512), np.uint8)
    org = (int(rng.integers(60, 380)), int(rng.integers(80, 450)))
    cv2.putText(cov, "ID", org, font, 0.6, 255, thickness, cv2.LINE_AA)
    drawn = cov >= 64
    ys, xs = np.nonzero(drawn)
    local = float(np.median(bg[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]))
    value = local + contrast * full if local + contrast * full <= full else local - contrast * full
    a = cov / 255.0
    img = np.clip(bg * (1 - a) + value * a, 0, full).astype(np.uint8 if kind == "us" else np.uint16)
    m = boxes_mask(detect_text(img), img.shape)
    assert m[drawn].mean() >= 0.9


def test_faint_words_inside_speckle_are_found() -> None:
    # contrast 0.1 in speckle as strong as the letters: their separation
    # from the rest of their box is 1.4-2.2, under the main pass's 1.6 / 2.2;
    # their one grey marks them instead.  Recall on 8 ultrasound frames
    # measured 0.938 -> 0.970 (usual) and 0.601 -> 0.801 (strict); 0.958
    # usual once its lines had to share a top or baseline (anatomy rules)
    for strict, least in ((False, 0.95), (True, 0.78)):
        assert _faint_recall("us", 23, 8, strict) >= least, strict


def test_faint_ct_text_is_found_in_strict_mode() -> None:
    # a faint CT line crossing the body edge and the bone ring merges with
    # them; recall measured 0.989, lines of 12 under 90% covered 2 -> 1
    # (0.797 before the flat pass)
    assert _faint_recall("ct", 22, 6, True) >= 0.97


def _faint_recall(kind: str, seed: int, frames: int, strict: bool) -> float:
    """Recall on `frames` frames of `kind` with two lines at contrast 0.1."""
    rng = np.random.default_rng(seed)
    tp = total = 0
    for _ in range(frames):
        s = sample(kind, rng, lines=2, contrast=0.1)
        m = boxes_mask(detect_text(s.image, strict=strict), s.image.shape)
        tp += int((m & s.text_mask).sum())
        total += int(s.text_mask.sum())
    return tp / total


def _scanned_page(
    lines: list[tuple[str, str, int, int]], paper: float, ink: float, seed: int
) -> tuple[np.ndarray[Any, Any], list[np.ndarray[Any, Any]]]:
    """TrueType lines (text, font, size, top row) on paper, blurred and noisy like a scan; each line's pixels."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    page = np.full((max(y for *_, y in lines) + 60, 800), paper)
    truth = []
    for text, font, size, y in lines:
        face = ImageFont.truetype(str(fonts / font), size)
        left, top, *_ = face.getbbox(text)
        layer = Image.new("L", (page.shape[1], page.shape[0]), 0)
        ImageDraw.Draw(layer).text((40 - left, y - top), text, fill=255, font=face)
        a = np.asarray(layer) / 255.0
        page = page * (1 - a) + ink * a
        truth.append(a >= 0.25)
    page = cv2.GaussianBlur(page, (3, 3), 0.8) + rng.normal(0, 4, page.shape)
    return np.clip(page, 0, 255).astype(np.uint8), truth


def test_scanned_page_bold_and_small_text() -> None:
    # a scan's blur joins the letters of bold and small text, and a large
    # line close by raises the local threshold, which then keeps each
    # stroke's fringe: whole words were one component failing the character
    # tests and left unmasked: the bold line 0.46-1.00 covered over seeds
    # 0-5 (7 of 12 under 0.9); measured 0.93-1.00 since (cut at half their
    # peak response).  Noise sigma 4, blur 0.8, as form0.png's page.
    lines = [
        ("MI 1.1 647534095 2DOZRG97eK3f DOB: 04/20/1977 DOB 02:29:00 PM", "DejaVuSansMono-Bold.ttf", 13, 20),
        ("07:47:57 PM 16:19:36 PM DOB: 06/12/1995 h9BlaDXt5", "cmss10.ttf", 25, 41),
    ]
    for seed in (0, 1, 2):
        for paper, ink in ((243, 43), (225, 80)):
            page, truth = _scanned_page(lines, paper, ink, seed)
            m = boxes_mask(detect_text(page), page.shape)
            for (text, *_), t in zip(lines, truth, strict=True):
                assert m[t].mean() >= 0.9, (seed, text, m[t].mean())


def test_scanned_line_extends_through_its_noisy_grey() -> None:
    # a scan's noise and blur leave next to none of a line's pixels at its
    # letters' extreme grey (+-1), so a line found in part did not extend
    # through its other words by colour: 0.74 covered on seed 0 (0.96-1.00
    # on seeds 1-5); measured 0.96-1.00 since (the colour's band widened by
    # the surround's noise)
    lines = [("02:28:45 PM DOB 525545428", "cmtt10.ttf", 12, 20)]
    for seed in range(6):
        page, truth = _scanned_page(lines, 225, 79, seed)
        covered = boxes_mask(detect_text(page), page.shape)[truth[0]].mean()
        assert covered >= 0.9, (seed, covered)


def _form_page(seed: int) -> tuple[np.ndarray[Any, Any], list[np.ndarray[Any, Any]]]:
    """A scanned form: lines of identifiers in matplotlib's TrueType fonts, 11-25 px, ink 10-90 on
    paper 215-250, 8-40 px apart, blurred (sigma 0.8) and noisy (sigma 4); each line's pixels."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    words = ["DOE^JANE", "SMITH, JOHN", "ST. MARY HOSPITAL", "Dr. Who", "Acc#", "MRN", "L12-5", "TIS0.4"]
    page = np.full((1100, 850), float(rng.integers(215, 250)))
    truth = []
    y = 40
    while y < page.shape[0] - 60:
        face = ImageFont.truetype(str(fonts / str(rng.choice(TRUETYPE_FONTS))), int(rng.integers(11, 26)))
        parts = []
        for _ in range(int(rng.integers(1, 6))):
            kind = int(rng.integers(0, 4))
            if kind == 0:
                parts.append(f"{rng.choice(words)} {int(rng.integers(10**5, 10**9))}")
            elif kind == 1:
                m, d, y4 = int(rng.integers(1, 13)), int(rng.integers(1, 29)), int(rng.integers(1930, 2024))
                parts.append(f"DOB: {m:02d}/{d:02d}/{y4}")
            elif kind == 2:
                hh, mm, ss = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
                parts.append(f"{hh:02d}:{mm:02d}:{ss:02d} PM")
            else:
                parts.append(str(rng.choice(words)))
        text = " ".join(parts)
        x = int(rng.integers(30, 200))
        left, top, right, bottom = face.getbbox(text)
        if x + right - left >= page.shape[1] - 20:
            y += 10
            continue
        layer = Image.new("L", (page.shape[1], page.shape[0]), 0)
        ImageDraw.Draw(layer).text((x - left, y - top), text, fill=255, font=face)
        a = np.asarray(layer) / 255.0
        page = page * (1 - a) + int(rng.integers(10, 90)) * a
        truth.append(a >= 0.25)
        y += bottom - top + int(rng.integers(8, 40))
    page = cv2.GaussianBlur(page, (3, 3), 0.8) + rng.normal(0, 4, page.shape)
    return np.clip(page, 0, 255).astype(np.uint8), truth


def test_scanned_form_pages() -> None:
    # whole pages of a scanned form (see _form_page): every line at least
    # 90% masked.  Lines under 90% on pages 100-139: 18 when a row's
    # polarity went to the more characters (blur joins letters into one
    # component, not the gaps between them) and two characters sharing a
    # grey made a polarity "one colour"; 13 since.  On these pages the
    # smallest line was 0.89 and 0.85; measured 1.00 since
    for seed in (114, 122):
        page, truth = _form_page(seed)
        m = boxes_mask(detect_text(page), page.shape)
        for t in truth:
            assert m[t].mean() >= 0.9, (seed, m[t].mean())


@pytest.mark.parametrize(("seed", "quality"), [(23, 75), (6, 50)])
def test_jpeg_compressed_frames(seed: int, quality: int) -> None:
    # most real ultrasound is JPEG baseline: ringing and blockiness spread a
    # line's grey and join or break its letters.  Readable boxes under 90%
    # on seeds 5-24 (4 frames each), q75 / q50: 19 / 28 before, 14 / 23 since;
    # on these two, 0.58 and 0.81 before, every box >= 0.9 since
    for s in generate(4, seed=seed):
        g = cv2.normalize(s.image, None, 0, 255, cv2.NORM_MINMAX, dtype=cv2.CV_8U)
        ok, buf = cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        g = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        m = boxes_mask(detect_text(g), g.shape)
        for b in s.boxes:
            if b.contrast >= 0.2:
                sub = (slice(b.y, b.y + b.h), slice(b.x, b.x + b.w))
                assert m[sub][s.text_mask[sub]].mean() >= 0.9, (b, quality)


def test_synthetic_small_frames() -> None:
    # 256 x 256 (analysed at double size); measured 1.000 / 0.047 / 1.00 on seed 21
    # (was 0.998 / 0.072 / 0.98)
    rec, col, low = _score(21, 1.0, (256, 256))
    assert rec >= 0.995
    assert col <= 0.05
    assert low >= 0.97


def test_thick_strokes_half_resolution_pass() -> None:
    # strokes wider than the top-hat kernel are found by the half-resolution pass
    for thick, scale in ((16, 4.0), (22, 5.0)):  # measured 1.0 both
        img = np.full((512, 768), 40, np.uint8)
        cv2.putText(img, "DOE 12", (10, 300), cv2.FONT_HERSHEY_SIMPLEX, scale, 220, thick)
        truth = img > 100
        m = boxes_mask(detect_text(img), img.shape)
        assert m[truth].mean() >= 0.97, thick


@pytest.mark.parametrize("word", ["wzD", "ooH", "Gap"])
@pytest.mark.parametrize(("surround", "ink"), [(20, 120), (210, 100)])
def test_few_wide_letters_are_covered_whole(word: str, surround: int, ink: int) -> None:
    # the gaps between a few wide or round letters (and their counters) are
    # characters of the other polarity and can outnumber them; a line of
    # those gaps missed the letters' ends and capitals (0.62-0.84 covered in
    # 7 to 24 of these 32 cases).  Measured 1.00 in every case since.
    rng = np.random.default_rng(5)
    for font in HERSHEY_FONTS:
        for scale, thick in ((1.2, 1), (1.6, 1), (2.2, 1), (2.2, 2)):
            img = np.full((256, 512), surround, np.float32) + rng.normal(0, 3, (256, 512)).astype(np.float32)
            cov = np.zeros(img.shape, np.uint8)
            cv2.putText(cov, word, (40, 160), font, scale, 255, thick, cv2.LINE_AA)
            a = cov / np.float32(255)
            frame = np.clip(img * (1 - a) + ink * a, 0, 255).astype(np.uint8)
            truth = cov >= 64
            covered = boxes_mask(detect_text(frame), frame.shape)[truth].mean()
            assert covered >= 0.9, (font, scale, thick, covered)


def _speckle_from(edge: int, shape: tuple[int, int], amp: float, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Black left of column `edge`, ultrasound-like speckle (smoothed Rayleigh) right of it."""
    sp = rng.rayleigh(1.0, shape).astype(np.float32)
    sp = cv2.GaussianBlur(sp, (0, 0), sigmaX=1.6, sigmaY=0.8) * amp
    img = np.where(np.arange(shape[1])[None, :] >= edge, sp, 0).astype(np.float32)
    return img + rng.normal(0, 1.5, shape).astype(np.float32)


@pytest.mark.parametrize("font", [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX])
def test_bold_line_running_into_speckle_is_covered(font: int) -> None:
    # bold letters on black: the gaps between them outnumber them and the
    # line is taken as the gaps', which stop where the speckle starts; the
    # letters, kept as found, now extend through their own grey.  A third
    # of the line on speckle brighter than its letters was left (0.63-0.72
    # covered in every case); measured 1.0 in every case since
    text = "02:05:12 PM"
    for seed in (0, 1):
        for scale, thick in ((1.35, 2), (1.2, 3)):
            rng = np.random.default_rng(seed)
            edge = 20 + int(0.65 * cv2.getTextSize(text, font, scale, thick)[0][0])
            img = _speckle_from(edge, (160, 512), 170.0, rng)
            cov = np.zeros(img.shape, np.uint8)
            cv2.putText(cov, text, (20, 90), font, scale, 255, thick, cv2.LINE_AA)
            a = cov / np.float32(255)
            frame = np.clip(img * (1 - a) + 50 * a, 0, 255).astype(np.uint8)
            covered = boxes_mask(detect_text(frame), frame.shape)[cov >= 64].mean()
            assert covered >= 0.9, (seed, scale, thick, covered)


def _line_from_speckle_onto_black(
    text: str, font: int, scale: float, seed: int, into: float, grey: int
) -> tuple[np.ndarray, np.ndarray]:
    """A 128 x 512 frame of speckle up to `into` of the way along a line of
    `text` (drawn at x = 10 in `grey`), black past it; the frame and the
    line's pixels."""
    rng = np.random.default_rng(seed)
    edge = 10 + int(into * cv2.getTextSize(text, font, scale, 1)[0][0])
    img = _speckle_from(512 - edge, (128, 512), 60.0, rng)[:, ::-1]  # speckle left of the edge
    cov = np.zeros(img.shape, np.uint8)
    cv2.putText(cov, text, (10, 70), font, scale, 255, 1, cv2.LINE_AA)
    a = cov / np.float32(255)
    return np.clip(img * (1 - a) + grey * a, 0, 255).astype(np.uint8), cov


@pytest.mark.parametrize("font", [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX | cv2.FONT_ITALIC])
def test_line_from_speckle_onto_black_is_covered(font: int) -> None:
    # the gaps between the letters, black like the surround, won the row and
    # reached past the letters where the line starts in speckle, so the
    # letters did not enclose them and were dropped; the gaps' black stops
    # at the speckle, which held the line's first third (0.72-0.78 covered
    # in 5 of these 6 cases); measured 1.0 in every case since
    text = "CCHS CLINIC 671066660"
    for seed in (0, 1, 2):
        for scale in (0.9, 1.2):
            frame, cov = _line_from_speckle_onto_black(text, font, scale, seed, 0.3, 90)
            covered = boxes_mask(detect_text(frame), frame.shape)[cov >= 64].mean()
            assert covered >= 0.9, (seed, scale, covered)


@pytest.mark.parametrize(("scale", "least"), [(0.6, 2), (0.7, 3)])
def test_thin_small_words_from_speckle_onto_black_are_covered(scale: float, least: int) -> None:
    # 8-10 px tall thin letters reach their full grey in 1-3% of the line's
    # box (too few to extend by colour), and the extension stopped at the
    # first space between words: two words of three, on speckle, were left.
    # Lines covered >= 90% of 4: 0 (0.6) and 1 (0.7) before; 2 and 4 since
    text, font = "CCHS CLINIC 671066660", cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
    covered = []
    for seed in (0, 1, 2, 3):
        frame, cov = _line_from_speckle_onto_black(text, font, scale, seed, 0.7, 100)
        covered.append(float(boxes_mask(detect_text(frame), frame.shape)[cov >= 64].mean()))
    assert sum(c >= 0.9 for c in covered) >= least, covered


@pytest.mark.parametrize("baseline", [104, 110])
def test_short_line_beside_a_line_of_changing_grey(baseline: int) -> None:
    # a line whose letters change grey along it (where it crosses a
    # structure) leaves those letters over once its main colour is taken; a
    # short word of another colour beside it on the same row had to
    # outnumber them and was missed (0.0 covered); measured 1.0 since
    rng = np.random.default_rng(0)
    img = np.full((256, 512), 10, np.float32) + rng.normal(0, 2, (256, 512)).astype(np.float32)
    font, x = cv2.FONT_HERSHEY_DUPLEX, 8
    greys = {7: 120, 8: 150, 9: 180, 10: 210, 11: 240}
    for i, ch in enumerate("TIS0.4 965772707"):
        cov = np.zeros(img.shape, np.uint8)
        cv2.putText(cov, ch, (x, 110), font, 1.0, 255, 3, cv2.LINE_AA)
        x += cv2.getTextSize(ch, font, 1.0, 3)[0][0]
        a = cov / np.float32(255)
        img = img * (1 - a) + greys.get(i, 46) * a
    word = np.zeros(img.shape, np.uint8)
    cv2.putText(word, "QxX", (x + 16, baseline), cv2.FONT_HERSHEY_PLAIN, 2.0, 255, 3, cv2.LINE_AA)
    a = word / np.float32(255)
    frame = np.clip(img * (1 - a) + 87 * a, 0, 255).astype(np.uint8)
    assert boxes_mask(detect_text(frame), frame.shape)[word >= 64].mean() >= 0.9


def test_background_small_shapes() -> None:
    from medanon.synthetic.text_images import make_background

    for kind in ("ct", "us", "xr"):
        for shape in ((1, 1), (8, 8), (16, 40), (64, 64)):
            assert make_background(kind, shape, np.random.default_rng(0)).shape == shape


def test_detector_option() -> None:
    img = np.zeros((128, 256), np.uint8)
    cv2.putText(img, "DOE^JOHN", (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2)
    with pytest.raises(ValueError, match="detector must be one of"):
        detect_text(img, detector="tesseract")
    with pytest.raises(ValueError, match="text_detector"):
        clean_pixels(pydicom.dcmread(_testfile("CT_small.dcm")), _DetPol())
    if importlib.util.find_spec("rapidocr_onnxruntime") is None:
        with pytest.raises(ImportError, match="rapidocr-onnxruntime"):
            detect_text(img, detector="dnn")
        return
    truth = img > 0
    for det, want in (("dnn", 0.85), ("both", 1.0)):  # measured 0.90 and 1.0
        m = boxes_mask(detect_text(img, detector=det), img.shape)
        assert m[truth].mean() >= want, det


@dataclass(frozen=True)
class _DetPol(Pol):
    text_detector: str = "ocr"


@pytest.mark.parametrize("fonts", ["hershey", "truetype"])
def test_generator_is_seeded_and_truthful(fonts: str) -> None:
    a = generate(2, seed=3, fonts=fonts)
    b = generate(2, seed=3, fonts=fonts)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.image, y.image)
        for box in x.boxes:
            sub = x.text_mask[box.y : box.y + box.h, box.x : box.x + box.w]
            assert np.asarray(sub.any(axis=0))[[0, -1]].all()
            assert np.asarray(sub.any(axis=1))[[0, -1]].all()


# ------------------------------------------------------- DICOM round-trips

ROUNDTRIP = [
    "CT_small.dcm",  # MONOCHROME2 16-bit signed, explicit LE
    "MR_small_RLE.dcm",  # RLE Lossless
    "JPEG2000.dcm",  # J2K, signed 16-bit
    "examples_palette.dcm",  # PALETTE COLOR
    "examples_rgb_color.dcm",  # RGB
    "examples_ybr_color.dcm",  # YBR_FULL_422 JPEG baseline, multi-frame
    "examples_jpeg2k.dcm",  # YBR_RCT J2K lossless
    "SC_rgb_expb_2frame.dcm",  # big endian, multi-frame
    "SC_ybr_full_uncompressed.dcm",  # YBR_FULL native
    "SC_rgb_32bit.dcm",  # 32-bit
    "MR_small_bigendian.dcm",
    "emri_small_jpeg_ls_lossless.dcm",  # JPEG-LS
    "JPEG-LL.dcm",  # JPEG lossless
    "liver.dcm",  # 1-bit SEG
    "MR_small_implicit.dcm",  # implicit VR little endian
    "SC_rgb_rle.dcm",  # RLE Lossless, RGB
    "SC_rgb_rle_16bit.dcm",  # RLE Lossless, RGB 16-bit
    "SC_jpeg_no_color_transform.dcm",  # JPEG baseline, RGB (no colour transform)
    "SC_rgb_dcmtk_+eb+cy+n1.dcm",  # JPEG baseline, YBR_FULL
    "JPGExtended.dcm",  # JPEG extended, 12-bit
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless, RGB
    "JPEGLSNearLossless_08.dcm",  # JPEG-LS near-lossless
    "SC_rgb_gdcm_KY.dcm",  # J2K lossy, RGB
    "RG1_J2KR.dcm",  # MONOCHROME1 (pydicom-data)
    "US1_J2KI.dcm",  # YBR_ICT (pydicom-data)
    "gdcm-US-ALOKA-16.dcm",  # PALETTE COLOR 16-bit, implicit VR (pydicom-data)
    "SC_ybr_full_422_uncompressed.dcm",  # YBR_FULL_422 native: 2 bytes a pixel
    "MR_small_padded.dcm",  # trailing padding after the frame
]
_LOSSY_TS = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91")


@pytest.mark.parametrize("name", ROUNDTRIP)
def test_roundtrip_masks_only_boxes(name: str) -> None:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} not available (pydicom-data not installed)")
    ds = pydicom.dcmread(str(path))
    before = decode_frames(ds).copy()
    was_lossy = ds.file_meta.TransferSyntaxUID in _LOSSY_TS
    was_encaps = ds.file_meta.TransferSyntaxUID.is_encapsulated
    ybr = str(ds.PhotometricInterpretation).startswith("YBR") and before.ndim == 4
    uid = ds.SOPInstanceUID
    res = clean_pixels(ds, Pol(burned_in="all"))
    assert res.scanned
    assert res.frames == before.shape[0]
    back = _roundtrip(ds)
    ts = back.file_meta.TransferSyntaxUID
    assert ts == (
        RLELossless if was_encaps and back.BitsAllocated in (8, 16, 32) else ExplicitVRLittleEndian
    )
    assert back.SOPInstanceUID == uid  # never regenerated here
    assert back.BurnedInAnnotation == "NO"
    if ybr:
        assert back.PhotometricInterpretation == "RGB"
    if int(back.SamplesPerPixel) > 1:
        assert back.PlanarConfiguration == 0
    if was_lossy:
        assert back.LossyImageCompression == "01"
    after = decode_frames(back)
    assert after.shape == before.shape
    assert after.dtype.kind == before.dtype.kind
    # pixels equal outside the masked boxes, and every changed pixel inside one
    for i in range(before.shape[0]):
        frame = before[i]
        disp = frame
        if back.PhotometricInterpretation == "PALETTE COLOR":
            disp = apply_color_lut(frame, back)
        boxes = detect_text(disp, strict=False)
        boxes += [Box(*r) for r in match_regions(back, load_rules())]
        inside = boxes_mask(boxes, frame.shape[:2])
        diff = before[i] != after[i]
        if diff.ndim == 3:
            diff = diff.any(axis=2)
        assert not (diff & ~inside).any(), f"frame {i} changed outside the boxes"


def test_headers_graphics_removed_and_flags() -> None:
    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    ds.add_new(0x60000010, "US", 16)
    ds.add_new(0x60003000, "OW", b"\x00\x00" * 8)
    icon = Dataset()
    icon.Rows = 1
    ds.IconImageSequence = Sequence([icon])
    item = Dataset()
    item.IconImageSequence = Sequence([Dataset()])
    ds.ReferencedImageSequence = Sequence([item])
    ds.BurnedInAnnotation = "YES"
    res = clean_pixels(ds, Pol())
    assert res.scanned
    assert not any(t.group == 0x6000 for t in list(ds.keys()))
    assert "IconImageSequence" not in ds
    assert "IconImageSequence" not in ds.ReferencedImageSequence[0]
    assert ds.BurnedInAnnotation == "NO"


def test_off_scans_nothing_but_cleans_graphics() -> None:
    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    ds.add_new(0x60003000, "OW", b"\x00\x00" * 8)
    px = ds.PixelData
    res = clean_pixels(ds, Pol(burned_in="off"))
    assert not res.scanned
    assert res.detail == "off"
    assert ds.PixelData == px
    assert "BurnedInAnnotation" not in ds
    assert (0x6000, 0x3000) not in ds


def test_no_pixel_data() -> None:
    ds = Dataset()
    ds.Modality = "SR"
    res = clean_pixels(ds, Pol())
    assert not res.scanned
    assert res.detail == "no pixel data"


def test_corrupt_jpeg_raises_and_allow_flag() -> None:
    ds = pydicom.dcmread(_testfile("examples_ybr_color.dcm"))
    frames = list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=30))
    bad = [f[:20] + b"\x00" * 40 for f in frames]
    ds.PixelData = pydicom.encaps.encapsulate(bad)
    with pytest.raises(PixelDataError, match="pixel data"):
        clean_pixels(ds, Pol())
    res = clean_pixels(ds, Pol(allow_undecodable_pixels=True))
    assert not res.scanned
    assert res.detail.startswith("undecodable")


def test_number_of_frames_mismatch_raises() -> None:
    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    ds.NumberOfFrames = 3
    with pytest.raises(PixelDataError, match="NumberOfFrames"):
        clean_pixels(ds, Pol())
    ds2 = pydicom.dcmread(_testfile("examples_ybr_color.dcm"))
    ds2.NumberOfFrames = 31
    with pytest.raises(PixelDataError):
        clean_pixels(ds2, Pol())


def test_extra_frame_of_bytes_raises_but_padding_decodes() -> None:
    ds = pydicom.dcmread(_testfile("MR_small.dcm"))
    frame = bytes(ds.PixelData)
    ds.PixelData = frame + b"\x00" * 128  # trailing padding: decoded as pydicom does
    assert decode_frames(ds).shape == (1, 64, 64)
    ds.PixelData = frame * 2  # a whole frame more than NumberOfFrames says
    with pytest.raises(PixelDataError, match="NumberOfFrames=1"):
        decode_frames(ds)


@pytest.mark.parametrize(
    ("keyword", "value", "msg"),
    [("Rows", None, r"\(0028,0010\) Rows is missing"), ("BitsAllocated", 0, "BitsAllocated must be positive")],
)
def test_bad_image_pixel_attributes_are_named(keyword: str, value: Any, msg: str) -> None:
    ds = pydicom.dcmread(_testfile("MR_small.dcm"))
    if value is None:
        delattr(ds, keyword)
    else:
        setattr(ds, keyword, value)
    with pytest.raises(PixelDataError, match=msg):
        clean_pixels(ds, Pol())


def test_strictness_by_modality() -> None:
    from medanon.dicom.pixels import _strict_for

    ds = Dataset()
    ds.Modality = "CT"
    assert _strict_for(ds, "auto")
    assert not _strict_for(ds, "all")
    ds.ImageType = ["DERIVED", "SECONDARY"]
    assert not _strict_for(ds, "auto")
    ds2 = Dataset()
    ds2.Modality = "US"
    assert not _strict_for(ds2, "auto")


def test_review_thumbnails_are_pseudonymous(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_testfile("examples_rgb_color.dcm"))
    ds.SOPInstanceUID = "2.25.1234"
    clean_pixels(ds, Pol(review_dir=tmp_path))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2
    assert names[0].endswith("_after.png")
    assert names[1].endswith("_before.png")
    assert all("1234" not in n and str(ds.get("PatientID", "x")) not in n for n in names)
    img = cv2.imread(str(tmp_path / names[0]))
    assert img is not None
    assert max(img.shape[:2]) <= 256


# ------------------------------------------------------------------- rules


def test_starter_rules_load_and_match() -> None:
    rules = load_rules()
    ds = Dataset()
    ds.Modality = "US"
    ds.Rows, ds.Columns = 768, 1024
    regs = match_regions(ds, rules)
    assert regs
    assert all(x + w <= 1024 and y + h <= 768 for x, y, w, h in regs)
    ds.Modality = "CT"
    assert match_regions(ds, rules) == []


def test_user_rules_are_applied(tmp_path: Path) -> None:
    p = tmp_path / "rules.json"
    p.write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "corner",
                        "match": {"Modality": "CT", "Manufacturer": "ge"},
                        "regions": [[0, 0, 10, 5]],
                    }
                ],
            }
        )
    )
    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    ds.Manufacturer = "GE MEDICAL SYSTEMS"
    res = clean_pixels(ds, Pol(pixel_rules=p))
    assert res.rule_boxes == 1
    arr = ds.pixel_array
    assert (arr[:5, :10] == arr.min()).all()


@pytest.mark.parametrize(
    ("doc", "msg"),
    [
        ({"rules": [{"name": "a", "regions": [[0, 0, -1, 4]]}]}, r"rules\[0\] \(a\): regions\[0\]"),
        (
            {"rules": [{"name": "b", "match": {"Colour": "x"}, "regions": [[0, 0, 1, 1]]}]},
            r"rules\[0\] \(b\): unknown match keys",
        ),
        (
            {"rules": [{"name": "c", "match": {"Rows": "512"}, "regions": [[0, 0, 1, 1]]}]},
            r"match.Rows must be a positive integer",
        ),
        ({"rules": [{"name": "d"}]}, r"'regions' must be a non-empty list"),
        ({"rule": []}, "'rules' list"),
    ],
)
def test_bad_rules_name_the_entry(tmp_path: Path, doc: object, msg: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(PixelRuleError, match=msg):
        load_rules(p)


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(PixelRuleError, match="not found"):
        load_rules(tmp_path / "nope.json")


# ------------------------------------------------------------ small frames


def _anatomy(rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    """A text-free n x n 16-bit frame: overlapping smooth blobs of several greys, and noise."""
    img = np.zeros((n, n), np.float32)
    for _ in range(int(rng.integers(4, 12))):
        cx, cy = rng.uniform(0, n, 2)
        ax = rng.uniform(n / 16, n / 3, 2)
        angle, grey = float(rng.uniform(0, 180)), float(rng.uniform(0.2, 1.0))
        cv2.ellipse(img, (int(cx), int(cy)), (int(ax[0]), int(ax[1])), angle, 0, 360, grey, -1)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.6, 2.0)))
    img += rng.normal(0, rng.uniform(0.01, 0.08), img.shape).astype(np.float32)
    return (np.clip(img, 0, None) * 1000).astype(np.uint16)


def test_small_mr_frames_without_text_are_not_masked() -> None:
    # pydicom's emri_small.dcm (64 x 64 MR, 10 frames) holds no text; analysed
    # at 128 px its fine anatomy and noise passed as strokes.  Masked fraction
    # per frame, mean / max, measured strict 0.000 / 0.00 (was 0.435 / 1.00:
    # frame 0 masked whole), usual 0.011 / 0.05 (was 0.544 / 1.00)
    arr = pydicom.dcmread(_testfile("emri_small.dcm")).pixel_array
    for strict in (True, False):
        fracs = [float(boxes_mask(detect_text(f, strict=strict), f.shape).mean()) for f in arr]
        assert max(fracs) <= 0.1, (strict, fracs)
        assert float(np.mean(fracs)) <= 0.02, (strict, fracs)


@pytest.mark.parametrize("size", [64, 96])
def test_small_anatomy_without_text_is_hardly_masked(size: int) -> None:
    # mean masked fraction of 12 frames, measured strict / usual: 64 px
    # 0.000 / 0.017 (was 0.135 / 0.218), 96 px 0.000 / 0.016 (was 0.062 / 0.147)
    rng = np.random.default_rng(7)
    frames = [_anatomy(rng, size) for _ in range(12)]
    for strict, limit in ((True, 0.01), (False, 0.04)):
        fracs = [float(boxes_mask(detect_text(f, strict=strict), f.shape).mean()) for f in frames]
        assert float(np.mean(fracs)) <= limit, (strict, fracs)


_FONTS = list(HERSHEY_FONTS[:6])  # all but the two script fonts


@pytest.mark.parametrize("font", _FONTS)
def test_small_text_on_small_frames_is_found(font: int) -> None:
    # a short line (5-13 px tall) in the corner of a 128 x 128 frame, on black
    # and on anatomy: all 72 cases covered in both modes (the former detector
    # missed 13 in strict mode and 1 in the usual)
    for scale in (0.35, 0.45, 0.6):
        for thick in (1, 2):
            for surround in ("black", "anatomy"):
                rng = np.random.default_rng(100 * _FONTS.index(font) + int(scale * 100) + thick)
                canvas = np.zeros((128, 128), np.uint8)
                (_, tall), _ = cv2.getTextSize("ID 4821", font, scale, thick)
                cv2.putText(canvas, "ID 4821", (3, 4 + tall), font, scale, 255, thick, cv2.LINE_AA)
                bg = np.zeros((128, 128), np.float32)
                if surround == "anatomy":
                    bg = _anatomy(rng, 128).astype(np.float32) * 0.12
                ink = canvas.astype(np.float32) / 255
                img = (bg * (1 - ink) + ink * 250).astype(np.uint16)
                truth = canvas >= 128
                for strict in (True, False):
                    m = boxes_mask(detect_text(img, strict=strict), img.shape)
                    assert m[truth].mean() >= 0.9, (scale, thick, surround, strict)


# ------------------------------------------------ real burned-in identifiers


def _real_path(key: str) -> Path | None:
    src, name = key.split(":", 1)
    if src == "pydicom":
        p = get_testdata_file(name)
        return Path(p) if p else None
    mod = {"pydicom_data": "data_store", "deid_data": "deid_data"}[src]
    spec = importlib.util.find_spec(mod)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


EXPECTED = json.loads((DATA / "expected_boxes.json").read_text())["files"]


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_real_identifiers_are_masked(key: str) -> None:
    path = _real_path(key)
    if path is None or not path.exists():
        pkg = key.split(":")[0].replace("_", "-")
        pytest.skip(f"{key} needs the {pkg} package (pip install {pkg})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some of these files carry over-long values
        if path.suffix == ".zip":  # deid-data ships its cines zipped, one file each
            with zipfile.ZipFile(path) as z:
                ds = pydicom.dcmread(io.BytesIO(z.read(z.namelist()[0])))
        else:
            ds = pydicom.dcmread(path)
        frames = slice(None) if EXPECTED[key]["frame"] == "all" else slice(0, 1)
        before = decode_frames(ds)[frames].astype(np.int64)
        clean_pixels(ds, Pol())
        after = decode_frames(ds)[frames].astype(np.int64)
    if before.ndim == 4:
        before, after = before.max(axis=3), after.max(axis=3)
    for i in range(len(before)):
        changed = before[i] != after[i]
        assert changed.any(), f"{key}: frame {i} not masked"
        vals, counts = np.unique(after[i][changed], return_counts=True)
        black = vals[np.argmax(counts)]  # the value masks were painted with
        for name, (x, y, w, h) in EXPECTED[key]["boxes"].items():
            box = (slice(y, y + h), slice(x, x + w))
            text = before[i][box] != black  # everything drawn in the box that is not already black
            frac = float((after[i][box] == black)[text].mean()) if text.any() else 1.0
            assert frac >= 0.9, f"{key}: {name} only {frac:.2f} masked in frame {i}"


def test_rle_32_bit_written_uncompressed_when_rle_cannot_hold_it() -> None:
    from medanon.dicom.policy import Policy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test file's own UIDs are invalid
        ds = pydicom.dcmread(_testfile("rtdose_rle.dcm"))
        before = ds.pixel_array.copy()
        result = clean_pixels(ds, Policy(burned_in="all"))
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        back = pydicom.dcmread(io.BytesIO(buf.getvalue()))
        shape = back.pixel_array.shape
    assert result.scanned
    assert back.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert shape == before.shape


def test_corrupt_stream_is_not_blamed_on_a_missing_plugin() -> None:
    from medanon.dicom.policy import Policy

    ds = pydicom.dcmread(_testfile("JPEG-lossy.dcm"))
    with pytest.raises(PixelDataError, match="installed decoders reject it"):
        clean_pixels(ds, Policy(burned_in="auto"))


# ------------------------------------------- anatomy in strict mode (CT, MR)


def _frame0(name: str) -> np.ndarray[Any, Any]:
    f = pydicom.dcmread(_testfile(name)).pixel_array
    return np.asarray(f[0] if f.ndim == 3 else f)


@pytest.mark.parametrize(
    ("name", "limit"), [("MR-SIEMENS-DICOM-WithOverlays.dcm", 0.005), ("eCT_Supplemental.dcm", 0.035)]
)
def test_real_anatomy_is_not_taken_for_text_in_strict_mode(name: str, limit: float) -> None:
    # neither frame holds burned-in text.  Dark blobs of one grey (the
    # darkest tissue, sulci) on one band of rows passed as a line: a tall
    # one beside two small ones (MR, then grown across the kidneys and
    # spine), pairs off each other's baseline and top, blobs several
    # heights apart.  Masked fraction of the first frame, strict, measured
    # 0.000 (MR, was 0.105) and 0.024 (CT, was 0.038)
    f = _frame0(name)
    assert boxes_mask(detect_text(f, strict=True), f.shape).mean() <= limit


@pytest.mark.parametrize("name", ["MR-SIEMENS-DICOM-WithOverlays.dcm", "eCT_Supplemental.dcm", "ct"])
def test_text_on_ct_and_mr_is_found_in_strict_mode(name: str) -> None:
    # the rules that keep those blobs out must keep annotations in: text in
    # white or grey, on the black surround and across the anatomy
    rng = np.random.default_rng(17)
    base = sample("ct", rng, text_free=True).image if name == "ct" else _frame0(name)
    base = base.astype(np.float32)
    h, w = base.shape
    hi = float(base.max())
    covs = []
    for font in _FONTS:
        for scale, thick in ((0.8, 1), (1.2, 2)):
            for y in (int(0.08 * h), h // 2):
                for ink in (hi, 0.7 * hi):
                    cov = np.zeros((h, w), np.uint8)
                    cv2.putText(cov, "DOE^JOHN 12/03/61", (8, y), font, scale, 255, thick, cv2.LINE_AA)
                    a = cov / np.float32(255)
                    img = (base * (1 - a) + ink * a).astype(np.uint16)
                    m = boxes_mask(detect_text(img, strict=True), img.shape)
                    covs.append(float(m[cov >= 64].mean()))
    # on black (the first of each pair of rows) every line is covered; across
    # the synthetic brain's sulci a few were missed before these rules too.
    # Measured mean coverage 1.000 (MR), 0.934 (CT brain, was 0.936), 1.000
    # (synthetic CT)
    assert min(covs[i] for i in range(len(covs)) if i % 4 < 2) >= 0.9, covs
    assert float(np.mean(covs)) >= 0.92, covs


# ------------------------------ anatomy in usual mode (derived MR, CT images)


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("examples_overlay.dcm", 0.11),
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", 0.07),
        ("MR2_UNCI.dcm", 0.08),
        ("eCT_Supplemental.dcm", 0.07),
        ("MR_small.dcm", 0.05),
    ],
)
def test_real_anatomy_is_hardly_masked_in_usual_mode(name: str, limit: float) -> None:
    # derived and secondary MR and CT images are scanned in the usual mode:
    # none of these frames holds burned-in text.  Masked fraction of the
    # first frame, usual, measured 0.019 (MR abdomen, was 0.713: one box over
    # the body), 0.012 (was 0.371), 0.055 (MR shoulder 1024 px, was 0.113)
    # 0.049 (CT brain, was 0.135) and 0.032 (64 px MR, was 0.104).  The two
    # abdomens went back to 0.093 and 0.058 when the one-colour test allowed
    # JPEG's spread of a stroke's grey (_CORE_K): text recall comes first
    f = _frame0(name)
    assert boxes_mask(detect_text(f), f.shape).mean() <= limit


@pytest.mark.parametrize("name", ["examples_overlay.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm", "eCT_Supplemental.dcm"])
def test_text_on_real_anatomy_is_found_in_usual_mode(name: str) -> None:
    # the rules that keep anatomy out must keep annotations in: text in the
    # frame's maximum grey and in 0.6 of it, near the top and across the
    # middle of the frame, and little masked away from it
    base = _frame0(name).astype(np.float32)
    h, w = base.shape
    hi = float(base.max())
    covs, away, tiny = [], [], []
    for font in _FONTS:
        for scale, thick, text in ((0.5, 1, "DOE^JOHN 12/03/61"), (1.0, 1, "DOE^JOHN 12/03/61"), (2.0, 2, "DOE^JOHN")):
            for y in (int(0.08 * h) + int(22 * scale), h // 2):
                for ink in (hi, 0.6 * hi):
                    cov = np.zeros((h, w), np.uint8)
                    cv2.putText(cov, text, (8, y), font, scale, 255, thick, cv2.LINE_AA)
                    a = cov / np.float32(255)
                    img = (base * (1 - a) + ink * a).astype(np.uint16)
                    m = boxes_mask(detect_text(img), img.shape)
                    t = cov >= 64
                    ys, xs = np.nonzero(t)
                    pad = (ys.max() - ys.min() + 1) // 2  # half the text's height around it
                    near = np.zeros((h, w), bool)
                    y0, x0 = max(ys.min() - pad, 0), max(xs.min() - pad, 0)
                    near[y0 : ys.max() + pad + 1, x0 : xs.max() + pad + 1] = True
                    covs.append(float(m[t].mean()))
                    away.append(float(m[~near].mean()))
                    tiny.append(ys.max() - ys.min() < 8)
    # measured mean coverage 0.890 / 0.965 / 0.958 (was 0.951 / 0.903 /
    # 0.962, the MR abdomen's largely where its anatomy was masked whole);
    # near the top every line but PLAIN at 0.5 (6 px) is covered; masked
    # away from the text 0.036 / 0.016 / 0.054 (was 0.640 / 0.338 / 0.149);
    # the MR abdomen's 0.117 since the one-colour test allows JPEG's spread
    # of a stroke's grey (_CORE_K)
    top = [c for i, c in enumerate(covs) if i % 4 < 2 and not tiny[i]]
    assert min(top) >= 0.9, covs
    assert float(np.mean(covs)) >= 0.87, covs
    assert float(np.mean(away)) <= 0.13, away


def test_large_radiograph_bands_are_not_masked() -> None:
    # 1024 px radiograph-like frames without text: wavy bands 440 px wide,
    # stacked three deep, passed as a line in the half-resolution pass, and
    # a band crossed four times along its middle row as a word.  Measured
    # largest masked fraction of 12 frames 0.000 (was 0.665)
    rng = np.random.default_rng(5)
    for _ in range(12):
        s = sample("xr", rng, shape=(1024, 1024), text_free=True)
        assert boxes_mask(detect_text(s.image), s.image.shape).mean() <= 0.01
