"""Burned-in text: find it in DICOM pixels with classical OpenCV and mask it.

The steps, per frame:

1. *Normalise* the stored values to 8-bit grey (min-max; colour frames use
   the brightest channel, so coloured annotations stay bright).
2. *Stroke response*: the larger of the white and black top-hat with a
   15 px square, which keeps thin strokes of either polarity and drops
   anatomy wider than a stroke.
3. *Threshold* the response at ``max(floor, k * local clutter)``, the
   clutter being the local mean of the (capped) response, so speckle and
   noisy regions need a stronger stroke than clean ones; on small frames
   (analysed at double size) at least three times the local noise, the
   mean of the lesser of the two top-hats.
4. *Characters*: connected stroke components whose height, fill, mean
   stroke width and stroke-to-surround contrast look like a character;
   a clear component of thin strokes that fails is cut again at half its
   peak response (blur joins the letters of bold or small text).  A wide,
   filled component of one grey is a *solid word*: small text drawn thick
   (a stroke font's 2-3 px pen) whose letters and spaces have merged.
5. *Lines*: characters near each other are grouped, the groups split into
   rows, and a row is a line when at least two of its characters of one
   polarity share their extreme grey value (text is drawn in one colour) or
   it is one wide, well separated component crossed by several strokes
   (a thin bar, I or 1, may peak short of that grey: anti-aliasing).
   Its characters must lie side by side; in the usual mode they must also
   be of letter-like heights (the dots of colons and stops aside), within
   10 heights of each other, share a top
   or a baseline and, where their strokes are thick, hold their grey (the
   strict mode: pairs of like heights, within 6 heights, no grey test).
   Each line then grows
   along its own rows through neighbouring strokes denser there than above
   and below (end characters and letters touching anatomy fail the
   character tests), and pieces of one line split by speckle are joined.
6. A *flat pass* finds the lines the stroke threshold missed (faint text
   beside or inside speckle, or merged with a body edge, white text merged
   with a bone ring) from strokes whose inside is one grey exactly: text
   is drawn in one colour.
7. A *half-resolution pass* keeps only tall characters with thick strokes,
   which the 15 px top-hat breaks where they join; its lines count where
   the full pass's lines do not already span them.
8. *Pad* the kept boxes, merge overlaps, and mask their union with the
   frame's black: its minimum (MONOCHROME2), maximum (MONOCHROME1), zero
   (RGB), or the darkest palette entry (PALETTE COLOR).

:func:`clean_pixels` applies this to every frame of a dataset, adds the
fixed regions of :mod:`medanon.dicom.pixel_rules`, and writes the pixels back
either uncompressed (Explicit VR Little Endian) or, when the input was
compressed, as RLE Lossless — never a compressed transfer syntax over
native pixels or the reverse.

References
----------
DICOM PS3.15 Annex E, Table E.1-1: Clean Pixel Data Option, Clean Graphics
Option; PS3.3 C.7.6.1.1.7 Burned In Annotation; PS3.3 C.9 Overlays.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import get_encoder  # type: ignore[attr-defined,unused-ignore]
from pydicom.pixels.processing import apply_color_lut
from pydicom.pixels.utils import get_expected_length, pack_bits
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, RLELossless

from medanon.dicom.pixel_rules import PixelRule, load_rules, match_regions

__all__ = [
    "Box",
    "PixelDataError",
    "PixelResult",
    "clean_pixels",
    "decode_frames",
    "detect_text",
    "mask_frame",
]


class PixelDataError(ValueError):
    """Pixel data cannot be decoded or is inconsistent with its header.

    The message states the reason and never contains an identifier.
    """


@dataclass(frozen=True)
class PixelResult:
    """What :func:`clean_pixels` did to one dataset.

    Attributes
    ----------
    scanned : bool
        The detector ran on every frame.
    frames : int
        Number of frames in the pixel data.
    boxes_masked : int
        Boxes masked over all frames (detected and fixed-region).
    rule_boxes : int
        Boxes that came from the fixed-region rules (over all frames).
    detail : str
        Short reason or summary, e.g. ``"off"``, ``"no pixel data"``.
    """

    scanned: bool
    frames: int
    boxes_masked: int
    rule_boxes: int
    detail: str


class Box(NamedTuple):
    """A rectangle in pixel coordinates: columns ``x:x+w``, rows ``y:y+h``."""

    x: int
    y: int
    w: int
    h: int


# ---------------------------------------------------------------- detection


@dataclass(frozen=True)
class _Params:
    floor: float  # minimum stroke response (0-255) for a stroke pixel
    clutter_k: float  # threshold multiple of the local clutter
    sep_min: float  # character: stroke response / response of the rest of its box
    min_h: int  # character: minimum height (px, at the working scale)
    word_sep: float  # a line of one component (touching letters): minimum sep
    word_cuts: int  # ... and minimum stroke crossings along its middle row
    min_d: float = 0.0  # character: minimum mean stroke distance (half pass: thick strokes)
    noise_k: float = 0.0  # clutter >= noise_k * local noise (frames analysed at double size)
    # a line of two characters: their heights within this ratio, and their
    # row at most this many median heights tall (see _one_row)
    pair_h: float = np.inf
    pair_tall: float = np.inf
    # a line's characters: none taller than `tall_h` median heights, none
    # more than `gap` of them from the next (see _runs), and two of them
    # sharing their top or bottom to within `pair_align` of it (see _one_row)
    tall_h: float = np.inf
    gap: float = np.inf
    pair_align: float = np.inf
    # a line's characters (or the other polarity's in its row) hold their
    # extreme grey across this share of their stroke pixels (see _CORE_D)
    core: float = 0.0
    # a line's median height is its letters', without the dots of colons
    # and full stops (see _PUNCT)
    dots_height: bool = False
    # lines of three or more: two of their characters at least this share
    # of the median height (letters, not punctuation) align as a pair does
    align_big: float = 0.0


# usual lines: the strict mode's letter-like heights and alignment (see
# below) but not its pair heights, and letters up to 10 heights apart, not
# 6.  Usual mode meets MR and CT anatomy too (derived and secondary
# images): dark tissue 22-59 px tall scattered over 200 px, sulci blobs far
# apart, pairs off each other's baseline and top.  Measured first frame,
# usual: MR abdomen (examples_overlay) 0.713 -> 0.393, eCT_Supplemental
# 0.135 -> 0.027 (gap 6) or 0.049 (gap 10), MR2_UNCI 0.113 -> 0.067; dev
# seeds at 512 px: recall 0.9854 -> 0.9853, readable boxes < 90% 3 -> 3.
# A gap of 6 lost "DOE^JOHN" drawn at scale 2 in 0.6 of the maximum grey
# across the CT brain (its letters merge with the skull and sulci, the few
# left are far apart): mean coverage of text drawn on that frame 0.911,
# 0.959 with 10 (0.962 before these rules).  Two letters of a longer line
# share a top or a baseline too (three blobs of bright tissue, 14, 6 and
# 18 px tall, on the 64 px MR_small: 0.104 -> 0.032; dev seeds unchanged;
# in the strict mode it lost a line at contrast 0.35, so not there)
_USUAL = _Params(
    floor=16.0,
    clutter_k=2.5,
    sep_min=1.6,
    min_h=5,
    word_sep=3.0,
    word_cuts=4,
    tall_h=2.0,
    gap=10.0,
    pair_align=0.25,
    core=0.3,
    align_big=0.5,
    dots_height=True,
)
# strict pairs: the IQR of two heights is half their difference, so it let
# a 6 px and a 28 px blob of anatomy pass as "like heights"; two letters of
# one line differ by at most an ascender or descender (x-height to cap
# height: ~1.5) and share their row (l and g together span ~1.33 heights).
# Not in the usual mode: there it cost tiny lossy ultrasound text, whose
# glyphs break into pieces of unlike or stacked heights.
# The height IQR lets one tall blob beside small ones through (MR abdomen:
# dark tissue 22, 27 and 58 px tall, then grown across the kidneys and
# spine), and same-grey blobs of a brain CT's sulci made lines 200 px wide
# of three small "characters": a letter is at most about twice the median
# height (brackets, capitals beside lower case), letters of one line are
# at most a few letters apart, and two letters share a baseline or a top.
# Measured on text drawn on those frames: coverage unchanged (1.00 MR,
# 0.93 CT brain); stricter (tall 1.6, gap 2.5) lost lines there
_STRICT = _Params(
    floor=24.0,
    clutter_k=3.0,
    sep_min=2.2,
    min_h=6,
    word_sep=4.0,
    word_cuts=5,
    pair_h=1.6,
    pair_tall=1.5,
    tall_h=2.0,
    gap=6.0,
    pair_align=0.25,
)

_KERNEL = 15  # top-hat square; strokes up to ~13 px wide survive
_CLUTTER_CAP = 16  # response cap when measuring clutter (keeps text from raising it)
# small frames (analysed at double size): the clutter is at least 3 times the
# local noise, the mean of min(white, black top-hat).  Doubled, each noise
# pixel is a 2x2 grain as wide as a text stroke and the fine anatomy of a
# 64-128 px MR, CT or NM frame is narrower than the top-hat, so both pass as
# strokes, and the capped clutter (16 at most) cannot follow the noise: a
# 64 px MR frame was masked whole.  The minimum is ~0 on strokes and on the
# gaps between them (a pixel is brighter or darker than its surround, not
# both), so text does not raise it.  Not on frames analysed at their own
# size: there it cost text in ultrasound speckle (bench, 512 px, seed 99:
# smallest line coverage 0.66 -> 0.00), and their anatomy is wider
_NOISE_K = 3.0
_MAX_WORK = 1400  # frames whose larger side exceeds this are analysed at half size
_MIN_WORK = 400  # ... and below this at double size (6 px text becomes 12 px)
_WORD = _Params(floor=20.0, clutter_k=2.5, sep_min=1.9, min_h=5, word_sep=1.9, word_cuts=0)
_WORD_CAP = 48
# word pass on a textured surround (speckle): local clutter >= 10 at the
# word's centre (the capped clutter of a plain word stays below); it must be
# >= 1.5 heights wide (two letters or more, not a grain) and drawn in one
# colour: half its stroke pixels within tolerance of its extreme grey, or
# >= 3 stroke pieces (letters), 60% of them peaking at one grey
_WORD_TEXTURE = 10
_WORD_ASPECT = 1.5
_WORD_CORE = 0.5
_WORD_PIECES, _WORD_SAME = 3, 0.6
_DETECTORS = ("opencv", "dnn", "both")
_EXTENT = 1.0  # a line spans at least this many character heights ("ID" is 1.15-1.3)
_MEAN_D_MIN, _MEAN_D_H = 2.5, 0.2  # stroke test: mean distance <= max(2.5, 0.2 * height)
_HALF_MIN = 128
# a row of same-coloured characters is a line only when they look like one
# (a baseline test, half of them ending within 0.1 height of the median
# bottom, halves the false masks on real ultrasound speckle but costs ~5
# points of synthetic recall: character fragments have no common baseline)
_ROW_IQR = 0.8  # height interquartile range <= 0.8 median height (not blobs)
# ... measured without dots: characters whose larger side is under 0.3 of
# the row's upper-quartile height (the dots of colons and full stops), when
# at least 4 others are left and the dots are not the more (times such as
# "04:31:55 PM" in a stroke font, whose four dots spread the heights of 12
# characters: none of it masked).  Frames drawn by OpenCV 4.10, dev and
# held-out seeds: readable boxes < 90% 49 -> 45 usual, 63 -> 61 strict;
# OpenCV 5's strict recall 0.9862 -> 0.9877; real files unchanged (with
# 3 left, a blob of bowel and two of three tissue blobs beside it passed on
# examples_overlay, 0.094 -> 0.106 masked).  In the usual mode
# (``_Params.dots_height``) the line's median height is its letters' too:
# script with colons, "mqB:J. 0:Aom" (OpenCV 4.10 frames 38 -> 35 usual,
# TrueType 22 -> 20, real files unchanged; in the strict mode a Doppler
# frame's blobs passed with it, US1_UNCI 0.13 -> 0.41 masked)
_PUNCT, _PUNCT_N = 0.3, 4
_ROW_TALL = 2.2  # row height <= 2.2 median heights (one row, ascenders and descenders)
_WORD_SMALL = 16  # touching letters: text up to 16 px tall (1-3 px strokes, anti-aliasing)
# in a row of several characters that share no colour, each small word of
# touching letters is a line when twice as well separated as a lone one
# (see _row_line): a 5 px "23:12:52 PM" on ultrasound whose anti-aliased
# peaks differ by 17 grey levels (dev and held-out seeds: readable boxes
# < 90% 7 -> 6 usual, real files unchanged; at word_sep, streaks of tissue
# beside US1_UNCR's Doppler box passed, 0.159 -> 0.164 masked)
_WORDS_SEP = 2.0
_CLIPPED = 254  # a line's extreme grey at or past this is the surround's black or white
_OTHER_OVER = 0.3  # ... a line of the other polarity adds when <= 0.3 of its width is over them
# a row's polarity: the one whose characters share their line's colour,
# to within 0.5 grey level on average, when the other's are >= 0.5 further
# off (letters are drawn in one colour; the gaps between them take the
# surround's varying extreme grey; thin anti-aliased letters, whose peaks
# vary, and lossy frames fall back to the summed width of the characters
# of its lines, then their count; by count first, clean synthetic
# collateral was 0.0221 / 0.0146, usual / strict, and 0.0215 / 0.0141 by
# width, recall unchanged; by the width of the lines' boxes 0.0206 / 0.0138,
# but a real MR's false mask grew, MR2_UNCI 0.113 -> 0.115)
_SPREAD = 0.5
# ... measured on at least 3 characters: two sharing a grey to within 1 is
# chance in noise (the maxima of a scan's paper in the gaps of an italic
# line beat its 9 letters)
_SPREAD_N = 3
# letters enclose the gaps between them: their lines span the other
# polarity's lines to within 0.05 of the latter's height, and reach past
# them by at most 1.5 of it along the row (an end letter; the gaps are as
# tall as the small letters) and 0.5 across (capitals, descenders)
_ENCLOSE = 0.05
_ENCLOSE_X, _ENCLOSE_Y = 1.5, 0.5
# a line's characters lie side by side: their summed widths at most twice
# the columns they span (wavy bands of a 1024 px radiograph, 440 px wide,
# stacked three deep, made a line 165 px tall in the half pass; text
# overlaps little: italics, kerning, the two counters of a B)
_STACK = 2.0
# text is drawn in one colour: the middle of a thick stroke holds it, while
# a dark blob of anatomy (tissue, a sulcus, the gap between two organs)
# reaches its extreme grey in a few pixels.  A character's core is the
# share of its stroke pixels within max(2, 0.25 x its stroke response)
# grey levels of its extreme (_CORE_TOL, _CORE_K); only
# characters with a mean stroke distance >= 2 (strokes >= ~6 px) have one
# (thin anti-aliased strokes reach their full grey in few pixels: 1.0).
# Usual lines need a median core >= 0.3 (``_Params.core``), or the other
# polarity's characters in the row do: the gaps between letters take the
# surround's varying grey ("L12-5" on a 256 px radiograph was found only
# as its gaps).  Measured first frame, usual: MR abdomen examples_overlay
# 0.393 -> 0.040, MR-SIEMENS 0.242 -> 0.025, US1_UNCI Doppler 0.372 ->
# 0.157 (its text all kept); dev seeds at 512 px unchanged (recall 0.9852,
# readable boxes < 90% 3); a median core 0.1 to 0.45 alike.  Not tried in
# the strict mode, whose lines are already clear of this anatomy.
# The tolerance grows with the stroke's contrast because JPEG and blur
# spread a stroke's grey by a share of it: at 2 grey levels flat, synthetic
# frames through JPEG q90 (seeds 99, 1) lost readable recall 0.9955 ->
# 0.9526 and held-out seed 31337 0.984 -> 0.817.  At 0.25 x response JPEG
# is as without the test (q90 0.9955, 31337 0.984; q75 0.9923) and the
# anatomy keeps most of the gain: examples_overlay 0.251 without the test
# -> 0.093 (0.019 at 2 levels), MR-SIEMENS 0.155 -> 0.058 (0.012), US1_UNCI
# 0.386 -> 0.176 (0.176); 0.15-0.25 give the same real-file figures
_CORE_TOL = 2
_CORE_K = 0.25
_CORE_D = 2.0
# a line of one wide component (touching letters) is crossed along its
# middle row at least once per height of its width (letters are ~0.6 of a
# height wide, with one to three strokes each); a wavy band or the arc at
# the top of an ultrasound sector is crossed a few times over many heights.
# Only above _WORD_SMALL: tiny touching letters merge into a blob with few
# crossings (PLAIN 0.5 on the 1024 px MR2_UNCI: 3 of 72 lines lost)
_WORD_CUTS_H = 1.0
# ... counted along the rows at 0.35, 0.5 and 0.65 of its height, the most
# of the three: blurred italic letters merge at mid-height ("SMITH, JOHN
# DOB: 01/23/1977" on a scanned form page, 0.556 of the line masked ->
# 0.996); an arc is crossed as rarely on any row.  Cost: the arc over
# OBXXXX1A's sector passes again (0.027 -> 0.068 masked, 0.070 before the
# rule); dev seeds usual recall 0.9970 -> 0.9971, collateral 0.0180 -> 0.0174
_CROSS_ROWS = (0.35, 0.5, 0.65)
_TRIM_H = 1.5  # a row's outliers: characters taller than 1.5 median heights (or off its band)
# a line grows through gaps of at most 1.5 of its height: a space between
# words (the first word of a line, which made no line of its own: "DOB:
# 07/24/2013" in an 8 px monospace, 0.79 -> 0.84); 0.8 before.  Dev and
# held-out seeds: OpenCV 5 frames readable boxes < 90% unchanged (10 usual, 20 strict),
# collateral 0.0186 -> 0.0200; OpenCV 4.10 frames strict 60 -> 52 (usual
# 44); TrueType 25 -> 22; real files: eCT_Supplemental usual 0.051 ->
# 0.059, explicit_VR-UN 0.029 -> 0.034.  1.2: 54 strict, 24 TrueType
_GROW_GAP = 1.5
_GROW_CAP = 3  # a line grows at most this many heights a side
# ... and only through strokes denser in its rows than in the rows above
# and below (1.5 times, per row): in texture and noise (a dark MR surround,
# the tissue beside a blob that passed as a line) the strokes are as dense
# everywhere, beside a line they are its letters.  Measured first frame,
# usual: examples_overlay 0.040 -> 0.019, MR-SIEMENS 0.025 -> 0.012,
# MR2_UNCI 0.075 -> 0.055; dev seeds at 512 px: recall 0.9852 -> 0.9850,
# collateral 0.0205 -> 0.0179, readable boxes < 90% 3 -> 3 (2.5 lost one)
_GROW_OVER = 1.5
_GROW_OUT = 0.3  # ... through strokes reaching at most 0.3 height above or below it
_SPLIT_LEVELS = (4.0,)  # oversized components: cut again at these multiples of the threshold
# (a ladder, 2 then 4, cost ~10% fps and gained nothing measured)
_SPLIT_PLAIN = 1.5  # oversized components are split where the stroke threshold <= 1.5 floor
# ... and its pieces may be 4 px tall, not 5 or 6: they stand clear of a plain
# surround at four times its threshold, where grains do not (a 6 px bold
# "ch-" fused with a CT bone ring: its "c" is 4 px tall; dev and held-out
# seeds: readable boxes < 90% 6 -> 5 usual, 17 -> 16 strict; real files,
# OpenCV 4.10 frames unchanged), and a piece's word separation is the
# mode's character separation (sep_min): a 6 px "DOB" fused with the ring
# stands 2.25 off its box, under the strict 4.0 (strict 16 -> 15, OpenCV
# 4.10 strict 39 -> 38; examples_palette usual 0.198 -> 0.201, beside its
# text column's "2D" on black)
_SPLIT_MIN_H = 4
_SPLIT_CLEAR = 1.5  # ... and keep pieces whose mean response >= 1.5 times the cut
# components of blurred text that fail the character tests are cut again at
# half their peak response (see _recut) when it is >= 4 floors (text that
# stands well off its surround; a fainter cut leaves noise), and the pieces
# kept are at most 0.7 of the component's width (letters, not the component
# shorn of its fringe: a CT sulcus passed once thinner, eCT_Supplemental)
_RECUT = 4.0
_RECUT_W = 0.7
_COLOUR_TOL = 1  # a line's colour: its extreme grey +- 1
_COLOUR_OWN = 0.05  # lines with < 5% of their box in their colour do not extend by colour
_COLOUR_OWN_THIN = 0.01  # ... unless their colour stands off their surround's (letters): 1%
_NOISY_K, _NOISY_BACK = 3.0, 0.5  # ... a noisy line's: >= its grey less 3 sigmas, <= half way back
_COLOUR_MIN = 0.02  # a window holds at least 2% of the line's colour
_SPACE_CONTRAST = 16  # letters: the line's colour is this far from the median grey around it
_COLOUR_KEEP, _COLOUR_OVER = 0.4, 3.0  # a window: >= 0.4 x the line's share, >= 3 x above/below
_EXTEND_CAP = 20  # at most 20 heights a side
# a character fills at least 0.08 of its box, or 2.5 / its height: letters
# of a stroke font drawn one pixel wide (OpenCV 4's Hershey fonts at scale 2
# and more: "T", "S", "0" fill 0.05-0.07 of a 51 px box) are strokes, not
# noise, when they stand clear of their box (separation >= word_sep: a
# web of JPEG ringing along a radiograph's bands, as sparse, made a 248 x 85
# box on a text-free frame at quality 90).  Frames drawn by OpenCV 4.10
# (dev and held-out seeds, 512 px): readable boxes < 90% 106 -> 102 usual,
# 124 -> 118 strict; OpenCV 5's frames, JPEG and the real files unchanged
_FILL_MIN, _FILL_H = 0.08, 2.5
# solid words (see _solid_words): at least 1.4 times wider than tall, at most
# 40 px tall, filling half their box, a third of their pixels at their extreme
# grey, and half the frame's flat strokes of that grey inside lines (so not
# the one grey of a derived map's holes: eCT_Supplemental's sulci, 0.051 ->
# 0.058 masked without it).  Frames drawn by OpenCV 4.10, dev and held-out
# seeds, 512 px: readable boxes < 90% 102 -> 49 usual (recall 0.977 ->
# 0.985), 118 -> 63 strict; OpenCV 5's frames 12 -> 11 usual, 21 -> 20
# strict.  Real files: the grey bars of gdcm-US-ALOKA-16's header strip
# (where its name and ID were blanked) 0.089 -> 0.145 masked, a flat edge of
# color-pl 0.077 -> 0.083, the SMPTE pattern's grey bars (mlut_18) 0.294 ->
# 0.350; no anatomy.  2.5 times wider and a fill of 0.6 gained 102 -> 60.
# Those figures with 1.8; 1.4 (short bold words) later took OpenCV 4.10
# frames 44 -> 39 usual, 52 -> 47 strict, OpenCV 5 strict 20 -> 19.  A third
# of the pixels at the extreme grey, not half: 6 px white "DOB" merged with
# a CT bone ring, anti-aliased, holds 255 over 0.33 of its pixels (dev and
# held-out seeds: OpenCV 5 usual 8 -> 7, OpenCV 4.10 usual 35 -> 34); and at
# most 25 times wider than tall (then a saturated skin line 600 x 15 px on
# deid-data's GREYSCALE_IMAGE passed: 0.050 -> 0.074 masked)
_SOLID_W, _SOLID_H, _SOLID_FLAT, _SOLID_FILL, _SOLID_HELD = 1.4, 40, 0.3, 0.5, 0.5
_SOLID_LONG = 25
# ... and separated from their box as well as the usual mode's lone words
# (3.0), in the strict mode too (its 4.0 for strokes): the one grey and its
# held test guard them.  Strict, dev and held-out seeds: readable boxes
# < 90% 18 -> 17, OpenCV 4.10 frames 43 -> 39; real files unchanged (at
# the strict mode's sep_min, header-strip graphics and a strip of an
# ultrasound sector's top: gdcm-US-ALOKA-16 0.145 -> 0.167 masked)
_SOLID_SEP = 3.0
_BAR = 0.4  # a solid component is a bar (I, l, 1, -) when its width <= 0.4 height, or the reverse
# a bar at most 3 px wide joins a colour whose peak it falls short of by up
# to 0.4 of its mean response ("ID" at 7-14 px: the I peaks at 217-235
# where the D reaches 255), in frames analysed at their own size (doubled,
# a 64 px MR's thin tissue passed as bars: MR_small strict 0 -> 0.27).
# Dev and held-out seeds: OpenCV 5 frames readable boxes < 90% 10 -> 9
# usual; OpenCV 4.10 38 / 46 (was 39 / 47); "ID" drawn 432 ways, lines
# under 90% 37 -> 32; real files: MR2_UNCR usual 0.060 -> 0.063
_BAR_SHORT = 0.4
# half pass: mean stroke distance >= 2.2 (strokes >= ~7 px there, 14 here:
# the 15 px top-hat breaks such strokes where they join; 2.0 masked speckle)
_HALF_D = 2.2
# ... and the strict mode's pair heights in either mode: its characters are
# at least a kernel tall, not tiny lossy text.  A pair of saturated Doppler
# blobs 24 and 48 px tall made a box 230 x 96 px on US1_UNCR, which the
# full pass's false lines on that Doppler used to hide (0.240 -> 0.157;
# dev seeds at 512 px: text-free frames masked 0.0015 -> 0.0004, recall same)
_HALF_PAIR_H, _HALF_PAIR_TALL = 1.6, 1.5
_HALF_SEEN = 0.5  # ... and its lines count when the full pass's lines span < half their columns
# flat pass (see _flat_lines): stroke pixels whose 3x3 neighbourhood holds
# one grey exactly, any grey.  Text is most often drawn at the display's
# white (or black); excluding the clipped greys 0-1 and 254-255 (as a
# surround's or a saturated reflector's, flat without being text) lost
# white text merged with a CT bone ring or a collimator edge ("Acc#" at
# scale 1.9, none of it masked).  With them, dev and held-out seeds at
# 512 px, usual: readable boxes < 90% 19 -> 16, recall 0.9945 -> 0.9955,
# collateral and text-free frames unchanged (strict 22 -> 21); the first
# frames of the 180 pydicom, pydicom-data and deid-data files masked
# exactly as before (a black hole in speckle is "on" only as a dark
# stroke, and its grey is held by no line: see _FLAT_HELD)
# ... and a flat line's colour is the text's: >= 0.9 of the frame's flat
# cores of that grey lie in lines.  A perfusion map codes its sulci in one
# grey (eCT_Supplemental, strict: a 318 x 85 line of them, 0.61 held, masked
# 0.024 -> 0.170); on synthetic frames text holds 0.98-1.0 of its colour
_FLAT_HELD = 0.9
# ... and its characters stand at least as strong as the rest of their box
# (sep >= 1, not 1.6 or 2.2): faint letters in speckle have as strong a
# surround (sep 1.4-2.2 at 25 grey levels), and their one grey marks them.
# Dev seeds, contrast 0.1, ultrasound: usual 0.966 -> 0.973, strict 0.613
# -> 0.827; collateral +0.0001; 0 instead of 1 changed nothing
_FLAT_SEP = 1.0

# columns of the character table built by _characters
_X, _Y, _W, _H, _RESP, _PEAK, _SEP, _POL, _CORE = range(9)


def _to_grey_u8(frame: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    a = np.asarray(frame)
    if a.ndim == 3:
        if a.shape[2] == 1:
            a = a[:, :, 0]
        elif a.shape[2] >= 3:
            a = a[:, :, :3].max(axis=2)
        else:
            raise ValueError(f"frame must be 2-D grey or HxWx3 colour, got shape {a.shape}")
    if a.ndim != 2:
        raise ValueError(f"frame must be 2-D grey or HxWx3 colour, got shape {a.shape}")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return np.asarray(np.where(a, 255, 0), dtype=np.uint8)
    f = a.astype(np.float32, copy=False)
    finite = np.isfinite(f)
    if not finite.all():
        f = np.where(finite, f, 0.0).astype(np.float32)
    lo, hi = float(f.min()), float(f.max())
    if not hi > lo:
        return np.zeros(f.shape, np.uint8)
    scale = 255.0 / (hi - lo)
    return np.asarray(cv2.convertScaleAbs(f, alpha=scale, beta=-lo * scale), dtype=np.uint8)


def _components(img: npt.NDArray[Any]) -> tuple[int, npt.NDArray[Any], npt.NDArray[Any]]:
    """8-connected components with stats (BBDT: about twice as fast as the default)."""
    n, lab, st, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        img, 8, cv2.CV_32S, cv2.CCL_BBDT
    )
    return int(n), np.asarray(lab), np.asarray(st)


def _touching(rects: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Group labels of rectangles ``(x0, y0, x1, y1)`` (inclusive) that touch, transitively.

    The same grouping as painting them and labelling 8-connected components,
    without a frame-sized image (a few dozen rectangles: pairwise tests).
    """
    x0, y0, x1, y1 = (rects[:, i] for i in range(4))
    adj = (
        (x0[:, None] <= x1[None, :] + 1)
        & (x0[None, :] <= x1[:, None] + 1)
        & (y0[:, None] <= y1[None, :] + 1)
        & (y0[None, :] <= y1[:, None] + 1)
    )
    lab = np.arange(len(rects))
    while True:  # propagate the smallest label; converges in about the chain length
        new = np.where(adj, lab[None, :], len(rects)).min(axis=1)
        if np.array_equal(new, lab):
            return lab
        lab = new


def _segment_max(
    values: npt.NDArray[Any], labels: npt.NDArray[np.int32], n: int
) -> npt.NDArray[np.float64]:
    """Per-label maximum of `values` (0 for labels without pixels)."""
    out = np.zeros(n, np.float64)
    if labels.size == 0:
        return out
    order = np.argsort(labels, kind="stable")
    sl, sv = labels[order], values[order]
    starts = np.flatnonzero(np.r_[True, sl[1:] != sl[:-1]])
    out[sl[starts]] = np.maximum.reduceat(sv, starts)
    return out


def _median(a: npt.NDArray[Any]) -> float:
    """``np.median`` of a short 1-D array, without its overhead (~20x faster on a row)."""
    v = np.sort(a)
    n = v.size
    return float(v[(n - 1) // 2] + v[n // 2]) / 2.0


def _quartiles(a: npt.NDArray[Any]) -> tuple[float, float]:
    """First and third quartile of a short 1-D array (``np.percentile``'s linear rule)."""
    v = np.sort(a).astype(np.float64)
    out = []
    for q in (0.25, 0.75):
        i = q * (v.size - 1)
        lo = int(i)
        out.append(float(v[lo] + (v[min(lo + 1, v.size - 1)] - v[lo]) * (i - lo)))
    return out[0], out[1]


def _characters(
    g: npt.NDArray[Any],
    resp: npt.NDArray[Any],
    stroke: npt.NDArray[Any],
    p: _Params,
    bright: bool,
    oversized: list[npt.NDArray[Any]] | None = None,
    shape: tuple[int, ...] | None = None,
    recut: bool = True,
    solid: list[tuple[int, int, int, int, float, float]] | None = None,
) -> npt.NDArray[np.float64]:
    """Connected stroke components of one polarity that look like characters.

    When `oversized` is a list, a mask of the components too tall or too
    wide to be characters is appended to it (see :func:`_split_oversized`).
    `shape` is the frame's when the arrays are a crop of it (size limits).
    When `solid` is a list, the lines of :func:`_solid_words` are appended to it.

    Each is tested on its own (never as part of a line): height, fill, stroke
    width (distance transform) against height, mean response, and separation
    (stroke response over the response of the rest of its box: high between
    the strokes of a glyph, low in speckle and anatomy texture).
    """
    h_img, w_img = g.shape if shape is None else shape[:2]
    n, lab, st = _components(stroke)
    empty = np.zeros((0, 9), np.float64)
    if n <= 1:
        return empty
    x, y, w, h, a = (st[:, i].astype(np.int64) for i in range(5))
    x[0] = y[0] = w[0] = h[0] = 0  # the background's stats are undefined when it is empty (a crop)
    # a quarter of the frame (a 90 px floor let characters fill 70% of a
    # 64 px frame analysed at 128 px, where anatomy made a 98 px "line")
    max_h = h_img // 4
    cnt = a.astype(np.float64)
    area = (w * h).astype(np.float64)
    fill = cnt / np.maximum(area, 1)  # label 0 is empty when the strokes fill the crop
    # solid components are blobs, unless they are thin bars (I, l, 1, -)
    bar = (w <= np.maximum(3, _BAR * h)) | (h <= np.maximum(3, _BAR * w))
    keep = (h >= p.min_h) & (h <= max_h) & (a >= 8) & (w <= 0.95 * w_img)
    if oversized is not None:
        big = (h > max_h) | (w > 0.95 * w_img)
        big[0] = False
        if big.any():
            m: npt.NDArray[Any] = np.zeros(lab.shape, np.uint8)
            for b in np.flatnonzero(big):  # a few: inRange beats a frame-sized lookup
                sl = (slice(y[b], y[b] + h[b]), slice(x[b], x[b] + w[b]))
                m[sl] = cv2.bitwise_or(m[sl], cv2.inRange(lab[sl], int(b), int(b)))
            oversized.append(m)
    keep &= (fill >= np.minimum(_FILL_MIN, _FILL_H / np.maximum(h, 1))) & ((fill <= 0.9) | bar)
    keep[0] = False
    if not keep.any():
        return empty
    # per-pixel statistics over the stroke pixels of the remaining components
    pix = np.flatnonzero(stroke.astype(bool))  # ~9x faster than on the 0/255 bytes
    labs = lab.ravel()[pix]
    on = keep[labs]
    pix, labs = pix[on], labs[on]
    rsum = np.bincount(labs, resp.ravel()[pix].astype(np.float64), minlength=n)
    # over the kept components' bounding box padded by a pixel, where each
    # has background round it (boxes identical on 516 synthetic detections
    # and 180 real first frames; ~6% of the frame rate)
    k = np.flatnonzero(keep)
    r0, c0 = max(int(y[k].min()) - 1, 0), max(int(x[k].min()) - 1, 0)
    r1, c1 = min(int((y[k] + h[k]).max()) + 1, stroke.shape[0]), min(int((x[k] + w[k]).max()) + 1, stroke.shape[1])
    if (r1 - r0) * (c1 - c0) < stroke.size:
        py, px = np.divmod(pix, stroke.shape[1])
        dist = cv2.distanceTransform(stroke[r0:r1, c0:c1], cv2.DIST_L2, 3)[py - r0, px - c0]
    else:
        dist = cv2.distanceTransform(stroke, cv2.DIST_L2, 3).ravel()[pix]
    # mean distance to the background: ~w/4 + 0.5 for strokes of width w,
    # ~r/3 for a solid disc of radius r; unlike the maximum it is not
    # inflated where strokes join (bold and small text)
    mean_d = np.bincount(labs, dist.astype(np.float64), minlength=n) / np.maximum(cnt, 1)
    ii = cv2.integral(resp, sdepth=cv2.CV_64F)
    boxsum = ii[y + h, x + w] - ii[y, x + w] - ii[y + h, x] + ii[y, x]
    mean_s = rsum / np.maximum(cnt, 1)
    sep = mean_s / ((boxsum - rsum) / np.maximum(area - cnt, 1) + 4.0)
    keep &= mean_s >= p.floor
    # candidates for a second cut (see _recut): clear of their surround
    # (the separation of a word of touching letters: at sep_min, 77
    # components of US1_UNCR's speckle were cut and its false mask grew
    # from 0.260 to 0.272 of the frame) and of thin strokes (thick strokes
    # broken by the top-hat made pieces that hid the half-resolution pass's
    # line: 0.22 of a 16 px stroke covered)
    strong = keep & (sep >= p.word_sep) & (mean_d <= _MEAN_D_MIN)
    keep &= sep >= np.where(fill < _FILL_MIN, p.word_sep, p.sep_min)  # sparse: clear letters only
    thin = mean_d <= np.maximum(_MEAN_D_MIN, _MEAN_D_H * h)  # strokes, not blobs
    if solid is not None:
        wide = (w >= _SOLID_W * h) & (w <= _SOLID_LONG * h) & (h <= _SOLID_H) & (fill >= _SOLID_FILL)
        _solid_words(g, lab, keep & wide & (sep >= min(p.word_sep, _SOLID_SEP)), st, bright, solid)
    keep &= thin
    keep &= mean_d >= p.min_d
    # a component much wider than tall is a word only when several strokes
    # cross its middle row (not a streak, fibre or rib edge)
    for j in np.nonzero(keep & (w > 2 * h))[0]:
        row = stroke[y[j] + h[j] // 2, x[j] : x[j] + w[j]] > 0
        keep[j] = np.count_nonzero(row[1:] & ~row[:-1]) >= min(w[j] / h[j], 4)
    more = empty
    if recut and p.min_d == 0:  # not in the half pass (thick strokes)
        more = _recut(g, resp, stroke, lab, st, pix, labs, strong & ~keep, p, bright, (h_img, w_img))
    i = np.nonzero(keep)[0]
    if not i.size:
        return more
    on = keep[labs]  # extreme grey value, of the survivors only
    gv = g.ravel()[pix[on]]
    gv = gv if bright else 255 - gv
    peak = _segment_max(gv, labs[on], n)
    core = np.ones(n)  # read only by modes with a core test (p.core > 0)
    if p.core:
        at_peak = (peak[labs[on]] - gv <= np.maximum(_CORE_TOL, _CORE_K * mean_s)[labs[on]]).astype(np.float64)
        core = np.where(mean_d >= _CORE_D, np.bincount(labs[on], at_peak, minlength=n) / np.maximum(cnt, 1), 1.0)
    pol = np.full(i.size, 1.0 if bright else 0.0)
    cols = (x[i], y[i], w[i], h[i], mean_s[i], peak[i], sep[i], pol, core[i])
    return np.concatenate([np.stack(cols, axis=1).astype(np.float64), more])


def _solid_words(
    g: npt.NDArray[Any],
    lab: npt.NDArray[Any],
    cand: npt.NDArray[np.bool_],
    st: npt.NDArray[Any],
    bright: bool,
    out: list[tuple[int, int, int, int, float, float]],
) -> None:
    """Lines of small bold text merged into one solid bar of one grey.

    Small text drawn thick (a stroke font at scale 0.4-0.8, 2-3 px lines)
    fills its letters and the spaces between them: one component, a few
    times wider than tall, too thick to pass as strokes and crossed too
    rarely to pass as a word.  Anatomy as thick and as wide is not one grey;
    burned-in text is, so a candidate whose pixels hold its extreme grey (to
    within ``_COLOUR_TOL``) over ``_SOLID_FLAT`` of them is a line of that
    colour, when the frame's other flat strokes of that grey are mostly in
    lines too (``_SOLID_HELD``, tested by :func:`_opencv_boxes`).
    """
    for j in np.flatnonzero(cand):
        x, y, w, h = (int(v) for v in st[j, :4])
        sub = g[y : y + h, x : x + w][lab[y : y + h, x : x + w] == j].astype(np.int16)
        v = sub if bright else 255 - sub
        peak = int(v.max())
        if np.count_nonzero(v >= peak - _COLOUR_TOL) >= _SOLID_FLAT * v.size:
            out.append((x, y, w, h, 1.0 if bright else 0.0, float(peak)))


def _recut(
    g: npt.NDArray[Any],
    resp: npt.NDArray[Any],
    stroke: npt.NDArray[Any],
    lab: npt.NDArray[Any],
    st: npt.NDArray[Any],
    pix: npt.NDArray[Any],
    labs: npt.NDArray[Any],
    cand: npt.NDArray[np.bool_],
    p: _Params,
    bright: bool,
    shape: tuple[int, int],
) -> npt.NDArray[np.float64]:
    """Characters inside strong components that failed the shape tests, cut at half their peak response.

    Blur spreads each stroke into a fringe that the local threshold, set
    by the clutter and not by the text's contrast, keeps: the strokes of
    bold or small high-contrast text fatten and touch, so a word becomes one
    component too full, too thick, or crossed too rarely along its middle
    row to pass.  Cut at half its own peak response (the half-maximum width
    of a blurred stroke is about its drawn width), it falls apart into its
    letters, which are tested again.
    """
    empty = np.zeros((0, 9), np.float64)
    sel = cand[labs]
    rmax = _segment_max(resp.ravel()[pix[sel]].astype(np.float64), labs[sel], len(st))
    cand = cand & (rmax >= _RECUT * p.floor)
    cand[0] = False
    if not cand.any():
        return empty
    m: npt.NDArray[Any] = np.zeros(lab.shape, np.uint8)
    for b in np.flatnonzero(cand):
        x, y, w, h = (int(v) for v in st[b, :4])
        sl = (slice(y, y + h), slice(x, x + w))
        cut = cv2.compare(resp[sl], np.full((h, w), int(rmax[b] // 2), resp.dtype), cv2.CMP_GE)
        m[sl] = cv2.bitwise_or(m[sl], cv2.bitwise_and(cv2.inRange(lab[sl], int(b), int(b)), cut))
    x, y, w, h = cv2.boundingRect(m)
    sl = (slice(y, y + h), slice(x, x + w))
    c = _characters(g[sl], resp[sl], m[sl], p, bright, None, shape, recut=False)
    c[:, _X] += x
    c[:, _Y] += y
    # a piece is a letter of the component, not the component shorn of its
    # fringe (a sulcus or vessel of a CT, which passes once thinner)
    ok = np.zeros(len(c), bool)
    for k, (px, py, pw, ph) in enumerate(c[:, :4].astype(np.int64)):
        box = (slice(py, py + ph), slice(px, px + pw))
        parent = np.bincount(lab[box][m[box] > 0]).argmax()
        ok[k] = pw <= _RECUT_W * st[parent, cv2.CC_STAT_WIDTH]
    return c[ok]


def _crossings(stroke: npt.NDArray[Any], c: npt.NDArray[np.float64]) -> int:
    """Stroke crossings along a component's box: the most over the rows of ``_CROSS_ROWS``."""
    x, y, w, h = (int(v) for v in c[:4])
    rows = stroke[[y + int(f * h) for f in _CROSS_ROWS], x : x + w] > 0
    return int(np.count_nonzero(rows[:, 1:] & ~rows[:, :-1], axis=1).max())


def _rows(mem: npt.NDArray[np.float64]) -> list[npt.NDArray[np.float64]]:
    """Split a group of characters into rows: a new row where the sorted
    vertical centres jump by more than half the median height."""
    if len(mem) <= 1:
        return [mem]
    cy = mem[:, _Y] + mem[:, _H] / 2
    order = np.argsort(cy, kind="stable")
    cy, mem = cy[order], mem[order]
    cut = np.flatnonzero(np.diff(cy) > 0.5 * _median(mem[:, _H])) + 1
    return np.split(mem, cut) if cut.size else [mem]


def _grow(
    box: tuple[int, int, int, int], both: tuple[npt.NDArray[Any], npt.NDArray[Any]]
) -> tuple[int, int, int, int]:
    """Extend a line box along its own rows to the strokes next to it.

    Characters at the ends of a line, or touching anatomy, often fail the
    per-character tests; the line's rows still hold their strokes.  Columns
    of the band with at least two pixels of one polarity's strokes (the gaps
    between bright strokes are dark strokes) that reach at most 0.3 height
    above or below the line (not a rib, fibre or sector edge crossing its
    rows) are ink; the box grows through ink separated by gaps of at most
    ``_GROW_GAP`` of its height, by at most three heights a side, where the
    strokes are denser in its rows than above and below (:func:`_own_rows`).
    (Growing up and down as well costs more collateral than it gains; the
    padding covers accents and descenders.)
    """
    x, y, w, h = box
    h_img, w_img = both[0].shape
    gap, cap = max(3, int(_GROW_GAP * h)), _GROW_CAP * h
    c0, c1 = max(x - cap, 0), min(x + w + cap, w_img)
    r0, r1 = max(y - h, 0), min(y + 2 * h, h_img)
    lo, hi = y - _GROW_OUT * h - r0, y + h + _GROW_OUT * h - r0  # the line's rows in the crop
    x0, x1 = x - c0, x + w - c0  # half-open, in the crop
    ink = np.zeros(c1 - c0, bool)
    for st in both:
        col = np.count_nonzero(st[y:y + h, c0:c1], axis=0) >= 2
        if not (col[max(x0 - gap, 0) : x0].any() or col[x1 : x1 + gap].any()):
            continue  # nothing next to the line (most lines): no labelling
        # only strokes that stay in the line's rows: a rib, fibre or
        # sector edge crossing the rows leaves a few pixels in every column
        _, lab, stats = _components(st[r0:r1, c0:c1])
        top, bot = stats[:, cv2.CC_STAT_TOP], stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT]
        inside = (top >= lo) & (bot <= hi)
        inside[0] = False
        ink |= np.count_nonzero(inside[lab[y - r0 : y + h - r0]], axis=0) >= 2
    for side in (-1, 1):
        run = ink[:x0][::-1] if side < 0 else ink[x1:]
        at = np.flatnonzero(run)  # offsets from the box edge
        if not at.size:
            continue
        far = np.flatnonzero(np.diff(np.r_[-1, at]) > gap)
        end = at.size if not far.size else int(far[0])
        if end:
            step = int(at[end - 1]) + 1
            a, b = (c0 + x0 - step, c0 + x0) if side < 0 else (c0 + x1, c0 + x1 + step)
            if not _own_rows(both, a, b, y, h):
                continue  # texture as dense above and below (_GROW_OVER)
            if side < 0:
                x0 -= step
            else:
                x1 += step
    return x0 + c0, y, x1 - x0, h


def _own_rows(both: tuple[npt.NDArray[Any], npt.NDArray[Any]], a: int, b: int, y: int, h: int) -> bool:
    """Columns ``a:b`` hold more strokes per row in rows ``y:y+h`` than in the `h` rows above and below.

    ``_GROW_OVER`` times as many, of both polarities together.
    """
    h_img = both[0].shape[0]
    inside = sum(np.count_nonzero(st[y : y + h, a:b]) for st in both) / max(h, 1)
    r0, r1 = max(y - h, 0), min(y + 2 * h, h_img)
    out = sum(np.count_nonzero(st[r0:y, a:b]) + np.count_nonzero(st[y + h : r1, a:b]) for st in both)
    return bool(inside >= _GROW_OVER * out / max((y - r0) + (r1 - y - h), 1))


def _extend(
    box: tuple[int, int, int, int], pol: float, colour: float, g: npt.NDArray[Any]
) -> tuple[int, int, int, int]:
    """Extend a line box along its rows through pixels of the line's own colour.

    A line running from a plain surround into speckle or texture falls
    apart there: the local stroke threshold rises and its letters fail the
    character tests.  Burned-in text is drawn in one colour, so the line's
    colour (its characters' extreme grey) marks its strokes in any surround:
    windows one height wide are taken while the share of that colour in the
    line's rows is at least 0.4 of the line's own share (and at least
    ``_COLOUR_MIN``) and three times the share in the rows just above and
    below (texture that happens to be of that grey is as common there).
    Lines whose own pixels rarely hold one grey (gradients, lossy
    compression) do not extend, unless the surround is noisy (a scan): then
    the colour is a band of greys as wide as three sigmas of that noise.

    A line whose colour stands ``_SPACE_CONTRAST`` off the median grey of
    the rows above and below it (letters, not the gaps between them, whose
    colour is the surround's) extends from a smaller own share (thin
    anti-aliased letters reach their full grey in few pixels) and crosses a
    space between words: a window holding next to nothing of the colour in
    or around it, when the window past it is taken against the rows above
    and the rows below each (not a line of that colour half a height off)
    and holds the colour across a third of its columns (letters, not one
    stroke of a drawing in that colour).
    """
    x, y, w, h = box
    h_img, w_img = g.shape
    if h < 3 or y < 0 or y + h > h_img or w <= 0:
        return box
    c = colour if pol > 0 else 255 - colour  # the grey itself
    lo, hi = max(c - _COLOUR_TOL, 0), min(c + _COLOUR_TOL, 255)
    c0, c1 = max(x - _EXTEND_CAP * h, 0), min(x + w + _EXTEND_CAP * h, w_img)

    def share(r0: int, r1: int, grey_only: bool = False) -> npt.NDArray[np.float64]:
        r0, r1 = max(r0, 0), min(r1, h_img)
        if r1 <= r0:
            return np.zeros(c1 - c0)
        band = cv2.inRange(g[r0:r1, c0:c1], int(c), int(c)) if grey_only else cv2.inRange(g[r0:r1, c0:c1], lo, hi)
        return np.asarray(np.count_nonzero(band, axis=0) / (r1 - r0), np.float64)

    memo: list[Any] = []

    def around() -> tuple[npt.NDArray[Any], float]:  # measured only when needed (most lines never ask)
        if not memo:
            # every other pixel of the rows above and below: enough for a median
            ring = np.concatenate(
                [g[max(y - h, 0) : y : 2, x : x + w : 2].ravel(), g[y + h : y + 2 * h : 2, x : x + w : 2].ravel()]
            )
            memo.extend([ring, float(np.partition(ring, ring.size // 2)[ring.size // 2]) if ring.size else c])
        return memo[0], memo[1]

    def letters() -> bool:
        return abs(around()[1] - c) >= _SPACE_CONTRAST

    inside = share(y, y + h)
    own = float(inside[x - c0 : x + w - c0].mean())
    if own < _COLOUR_OWN_THIN:
        # blur and noise spread a line's grey (a scan: its extreme grey,
        # the median of its letters', is reached by next to none of its
        # pixels): its colour is then every grey at least as far from the
        # surround as that less three sigmas of the surround's noise (the
        # median absolute deviation of the rows above and below, as a
        # sigma), and at most half the way back to the surround's grey
        ring, mid = around()
        dev = np.abs(ring.astype(np.float32) - mid)
        sigma = 1.4826 * float(np.partition(dev, dev.size // 2)[dev.size // 2]) if dev.size else 0.0
        tol = min(_NOISY_K * sigma, _NOISY_BACK * abs(mid - c))
        if tol > _COLOUR_TOL:
            lo, hi = (max(c - tol, 0), 255) if pol > 0 else (0, min(c + tol, 255))
            inside = share(y, y + h)
            own = float(inside[x - c0 : x + w - c0].mean())
    if own < _COLOUR_OWN_THIN:
        return box

    if own < _COLOUR_OWN and not letters():
        return box
    above, below = share(y - h, y), share(y + h, y + 2 * h)
    outside = (above + below) / 2
    either = np.maximum(above, below)

    def taken(a: int, b: int, out: npt.NDArray[np.float64]) -> bool:
        d_in, d_out = float(inside[a - c0 : b - c0].mean()), float(out[a - c0 : b - c0].mean())
        return d_in >= max(_COLOUR_KEEP * own, _COLOUR_MIN) and d_in >= _COLOUR_OVER * d_out

    exact: list[Any] = []

    def taken_exactly(a: int, b: int) -> bool:
        # the grey itself, not +- _COLOUR_TOL: in speckle of the text's mean
        # grey its neighbours are as common above and below, the grey the
        # text was drawn in is not (a line at contrast 0.2 running from the
        # black surround into the sector: 0.66 of it masked -> all).  Dev and
        # held-out seeds: readable boxes < 90% 9 -> 8 usual, 19 -> 18
        # strict; OpenCV 4.10 frames strict 46 -> 43; TrueType 20 -> 17;
        # JPEG and the real files unchanged, collateral +0.0001
        if hi - lo != 2 * _COLOUR_TOL:
            return False  # a noisy line's band of greys
        if not exact:
            ins = share(y, y + h, True)
            out = (share(y - h, y, True) + share(y + h, y + 2 * h, True)) / 2
            exact.extend([ins, out, float(ins[x - c0 : x + w - c0].mean())])
        ins, out, own0 = exact
        d_in, d_out = float(ins[a - c0 : b - c0].mean()), float(out[a - c0 : b - c0].mean())
        return d_in >= max(_COLOUR_KEEP * own0, _COLOUR_MIN) and d_in >= _COLOUR_OVER * d_out

    def window(a: int, b: int) -> tuple[int, int]:
        return max(a, c0), min(b, c1)

    x0, x1 = x, x + w
    for side in (-1, 1):
        for _ in range(_EXTEND_CAP):
            a, b = window(*((x0 - h, x0) if side < 0 else (x1, x1 + h)))
            if b - a < 2:
                break
            if not taken(a, b, outside) and not taken_exactly(a, b):
                near = max(float(inside[a - c0 : b - c0].mean()), float(outside[a - c0 : b - c0].mean()))
                if near >= _COLOUR_MIN or not letters():  # not a space between words
                    break
                a, b = window(*((a - h, a) if side < 0 else (b, b + h)))
                if b - a < 2 or not taken(a, b, either) or 3 * np.count_nonzero(inside[a - c0 : b - c0]) < b - a:
                    break
            ink = np.flatnonzero(inside[a - c0 : b - c0] > 0)
            if side < 0:
                x0 = a + int(ink[0])
            else:
                x1 = a + int(ink[-1]) + 1
    return x0, y, x1 - x0, h


def _join(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Join lines on the same rows, of like height, less than three heights apart.

    A line that crosses from a plain surround into speckle or anatomy breaks
    where the clutter raises the stroke threshold; its pieces keep their rows
    and height.
    """
    if len(boxes) < 2:
        return boxes
    b = sorted(boxes)
    out = [list(b[0])]
    for x, y, w, h in b[1:]:
        for o in out:
            ox, oy, ow, oh = o
            overlap = min(oy + oh, y + h) - max(oy, y)
            if (
                overlap >= 0.6 * min(oh, h)
                and max(oh, h) <= 1.4 * min(oh, h)
                and x - (ox + ow) <= 3 * max(oh, h)
                and x + w > ox
            ):
                x1, y1 = max(ox + ow, x + w), max(oy + oh, y + h)
                o[0], o[1] = min(ox, x), min(oy, y)
                o[2], o[3] = x1 - o[0], y1 - o[1]
                break
        else:
            out.append([x, y, w, h])
    return [(int(v[0]), int(v[1]), int(v[2]), int(v[3])) for v in out]


def _runs(same: npt.NDArray[np.float64], gap: float) -> list[npt.NDArray[np.float64]]:
    """Split characters into runs along the row where the space between them exceeds `gap` median heights.

    Letters of a line, and of the words of one, are at most a few letters
    apart; blobs of anatomy that share a grey (the darkest tissue, the
    surround's black) and a band of rows are scattered across it.
    """
    order = np.argsort(same[:, _X], kind="stable")
    same = same[order]
    reach = np.maximum.accumulate(same[:, _X] + same[:, _W])
    cut = np.flatnonzero(same[1:, _X] - reach[:-1] > gap * _median(same[:, _H])) + 1
    return np.split(same, cut) if cut.size else [same]


def _one_row(same: npt.NDArray[np.float64], hm: float, p: _Params, ink: float = 1.0) -> bool:
    """Characters of like heights (height IQR <= 0.8 median, dots aside: not blobs) in one row.

    Side by side (``_STACK``); drawn in one colour (``p.core``, met by
    the characters or by `ink`, the other polarity's median core in the
    row; see ``_CORE_D``).  Two characters: heights within ``p.pair_h``
    of each other, the row at most ``p.pair_tall`` median heights tall,
    their tops or their bottoms within ``p.pair_align`` median heights (with
    ``p.align_big``, two of the letters of a longer line too).  Any number: none taller than
    ``p.tall_h`` median heights, none more than ``p.gap`` of them apart.
    """
    # the height spread of the letters, not of the dots of colons and full
    # stops beside them (see _PUNCT)
    _, top = _quartiles(same[:, _H])
    dot = np.maximum(same[:, _W], same[:, _H]) < _PUNCT * top
    dots = np.count_nonzero(~dot) >= _PUNCT_N and np.count_nonzero(dot) <= np.count_nonzero(~dot)
    q1, q3 = _quartiles(same[~dot, _H] if dots else same[:, _H])
    if dots and p.dots_height:
        hm = _median(same[~dot, _H])
    if p.core and ink < p.core and _median(same[:, _CORE]) < p.core:
        return False  # no colour of their own, nor letters around them
    order = np.argsort(same[:, _X], kind="stable")
    x0, x1 = same[order, _X], same[order, _X] + same[order, _W]
    reach = np.maximum.accumulate(x1)
    union = x1[0] - x0[0] + float(np.maximum(0, x1[1:] - np.maximum(x0[1:], reach[:-1])).sum())
    if same[:, _W].sum() > _STACK * union:
        return False  # stacked, not side by side (_STACK)
    y0, y1 = same[:, _Y].min(), (same[:, _Y] + same[:, _H]).max()
    if len(same) == 2 and (same[:, _H].max() > p.pair_h * same[:, _H].min() or y1 - y0 > p.pair_tall * hm):
        return False
    if same[:, _H].max() > p.tall_h * hm:
        return False
    if np.isfinite(p.gap) and len(_runs(same, p.gap)) > 1:
        return False
    if len(same) == 2 and np.isfinite(p.pair_align):
        # a descender or an ascender moves one end of a letter, not both
        top = abs(same[0, _Y] - same[-1, _Y])
        bottom = abs(same[0, _Y] + same[0, _H] - same[-1, _Y] - same[-1, _H])
        if min(top, bottom) > p.pair_align * hm:
            return False
    big = same[same[:, _H] >= p.align_big * hm]
    if p.align_big and len(same) > 2 and len(big) >= 2:
        # so do two of the letters of a longer line (see align_big)
        t, b = big[:, _Y], big[:, _Y] + big[:, _H]
        off = np.minimum(np.abs(t[:, None] - t[None, :]), np.abs(b[:, None] - b[None, :]))
        np.fill_diagonal(off, np.inf)
        if off.min() > p.pair_align * hm:
            return False
    return bool(q3 - q1 <= _ROW_IQR * hm and y1 - y0 <= _ROW_TALL * hm)


def _word(
    c: npt.NDArray[np.float64], strokes: tuple[npt.NDArray[Any], npt.NDArray[Any]], p: _Params, k: float = 1.0
) -> bool:
    """One wide component of touching letters: 2.5 heights wide, separated
    ``k * p.word_sep`` from its box, crossed by ``p.word_cuts`` strokes
    (once per height of its width above ``_WORD_SMALL``; see ``_WORD_CUTS_H``)."""
    cuts = max(p.word_cuts, _WORD_CUTS_H * c[_W] / c[_H] if c[_H] > _WORD_SMALL else 0)
    return bool(c[_W] >= 2.5 * c[_H] and c[_SEP] >= k * p.word_sep and _crossings(strokes[int(c[_POL])], c) >= cuts)


def _overlap(o: tuple[int, int, int, int, float, float], lines: list[tuple[int, int, int, int, float, float]]) -> int:
    """Columns of line `o` that `lines` span, summed over them."""
    return sum(max(0, min(o[0] + o[2], b[0] + b[2]) - max(o[0], b[0])) for b in lines)

def _row_line(
    mem: npt.NDArray[np.float64],
    strokes: tuple[npt.NDArray[Any], npt.NDArray[Any]],
    p: _Params,
    trim: bool = False,
    held: list[tuple[int, int, int, int, float, float]] | None = None,
) -> list[tuple[int, int, int, int, float, float]]:
    """The lines of one row of characters (empty when it does not look like text).

    A line is its box, polarity (1 bright) and colour (median extreme grey
    of its characters, as :func:`_characters` measures it).  In each
    polarity the largest same-coloured set of characters is tested first,
    then, among the characters left, further sets of another colour (two
    lines of unlike colour close enough to share a row, or a line next to a
    brighter one), each holding at least half of the characters still left,
    as the first must hold half of them all (in speckle, peaks are spread
    and few share one); a set that is not a line ends the search.  The
    gaps between bright letters (and their counters) are dark characters
    too, so the row's lines are those of the polarity whose characters
    share their line's colour (to within ``_SPREAD`` on average, and the
    other's ``_SPREAD`` further off: the letters are drawn in one colour,
    the gaps take the surround's varying extreme grey), else of the one
    whose line characters are wider in sum (then: more, then taller).
    When those are the gaps (their colour as tight, both
    clipped at black or white, and they outnumber few, wide or round
    letters) and the other polarity's lines enclose them (:func:`_encloses`),
    the latter are appended to `held`, when given, to be extended but not
    grown; so are, when the gaps' colour is clipped at black or white (the
    surround's) and the letters' is not, the letters' lines over the gaps'
    (more than 0.3 of their width), which need not enclose them (a gap
    opening into speckle at the line's end reaches past the letters).
    Otherwise a line of the other polarity is added when at most 0.3 of
    its width lies over them (a line whose letters change polarity where it
    crosses a brighter structure).  A polarity with one character in the row has a line when
    it is one wide, well separated component crossed by several strokes
    (touching letters; when the row holds characters of the other polarity,
    the gaps between them, only up to ``_WORD_SMALL`` tall); so does each
    such small word of a polarity whose characters share no colour, when
    ``_WORDS_SEP`` times as well separated.  With `trim`, a set whose heights are unlike or that
    is too tall for one row is tested again without the characters taller
    than 1.5 median heights or off the row's median band, when at least half
    of it is left.
    """
    best: list[tuple[int, int, int, int, float, float]] = []
    other: list[tuple[int, int, int, int, float, float]] = []
    best_n = (0.0, 0, 0.0)  # the lines' characters: summed widths, count, summed heights
    best_spread: float | None = None
    for pol in (0.0, 1.0):
        rest = mem[mem[:, _POL] == pol]
        ink = 0.0  # the other polarity's median core: letters around gaps (see _CORE_D)
        if p.core and len(rest) >= 2 and len(rest) < len(mem):
            ink = _median(mem[mem[:, _POL] != pol, _CORE])
        found: list[tuple[int, int, int, int, float, float]] = []
        n_found = (0.0, 0, 0.0)
        off: list[float] = []  # each line character's peak off its line's colour
        # beside characters of the other polarity, only a small word (a
        # streak of speckle or a fibre is as wide and crossed as often)
        if len(rest) == 1 and (len(mem) == 1 or rest[0, _H] <= _WORD_SMALL):
            c = rest[0]
            if _word(c, strokes, p):
                found = [(int(c[_X]), int(c[_Y]), int(c[_W]), int(c[_H]), pol, float(c[_PEAK]))]
                n_found = (float(c[_W]), 1, float(c[_H]))
        while len(rest) >= 2:
            pk = rest[:, _PEAK]
            tol = max(6.0, 0.12 * _median(rest[:, _RESP]))
            # the colour shared by the most characters (the median of two
            # lines' peaks can fall in either, or between them)
            near = np.abs(pk[:, None] - pk[None, :]) <= tol
            # a bar (I, l, 1) a pixel or two wide: anti-aliasing keeps its
            # peak short of the colour of the line's wider strokes (see _BAR_SHORT)
            bar = (rest[:, _W] <= 3) & (rest[:, _W] <= _BAR * rest[:, _H]) & (p.noise_k == 0)
            reach = _BAR_SHORT * rest[:, _RESP]  # how far short of a colour a bar may peak
            below = pk[:, None] - pk[None, :]  # [i, j]: how far j peaks below i
            short = bar[None, :] & (below > 0) & (below <= reach[None, :])
            near |= short
            k = int(np.argmax(near.sum(axis=1)))
            centre = _median(pk[near[k] & ~short[k]])
            hit = (np.abs(pk - centre) <= tol) | (bar & (pk < centre) & (centre - pk <= reach))
            same, rest = rest[hit], rest[~hit]
            if np.isfinite(p.gap) and len(same) > 1:
                # a blob of the line's grey far along the row is tested apart,
                # so it neither breaks the line nor joins it
                runs = _runs(same, p.gap)
                if len(runs) > 1:
                    k = int(np.argmax([len(r) for r in runs]))
                    same = runs[k]
                    rest = np.concatenate([rest, *runs[:k], *runs[k + 1 :]])
            if len(same) < max(2, (len(same) + len(rest)) // 2):
                break
            hm = _median(same[:, _H])
            if not _one_row(same, hm, p, ink):
                # a character merged with a structure beside the line (an
                # edge, a blob) makes the row too tall or its heights unlike;
                # when asked, drop the characters off the row's median band
                # and test the rest, if they still hold most of the row
                cy = same[:, _Y] + same[:, _H] / 2
                core = same[(same[:, _H] <= _TRIM_H * hm) & (np.abs(cy - _median(cy)) <= 0.5 * hm)]
                if (
                    trim
                    and 2 * len(core) >= len(same)
                    and len(core) >= max(2, (len(same) + len(rest)) // 2)
                    and _one_row(core, _median(core[:, _H]), p, ink)
                ):
                    same, hm = core, _median(core[:, _H])
                else:
                    # a set that is not a line ends the search: what is left of
                    # a row that holds no line is as likely speckle as a second
                    # line.  Not after a pair when as many are left: two letters
                    # of dark text touching the black surround take its grey,
                    # and fail the pair rules, beside two of the text's own
                    # ("L12-5", seed 2, lost to pair_align in the usual mode)
                    if len(same) == 2 and len(rest) >= 2:
                        continue
                    break
            x0, x1 = same[:, _X].min(), (same[:, _X] + same[:, _W]).max()
            y0, y1 = same[:, _Y].min(), (same[:, _Y] + same[:, _H]).max()
            if x1 - x0 >= _EXTENT * hm:
                found.append((int(x0), int(y0), int(x1 - x0), int(y1 - y0), pol, _median(same[:, _PEAK])))
                n_found = (
                    n_found[0] + float(same[:, _W].sum()),
                    n_found[1] + len(same),
                    n_found[2] + float(same[:, _H].sum()),
                )
                off += list(np.abs(same[:, _PEAK] - found[-1][5]))
                # characters inside the line just found are its own pieces
                # (letters changing grey where they cross a structure), not
                # rivals of a second, shorter line of another colour on the row
                cx, cy = rest[:, _X] + rest[:, _W] / 2, rest[:, _Y] + rest[:, _H] / 2
                rest = rest[~((cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1))]
        if not found and len(mem[mem[:, _POL] == pol]) >= 2:
            # no set of one colour: small words of touching letters each make a
            # line of their own, as a lone one does (anti-aliasing spreads the
            # peaks of 5-8 px text: "23:12:52" at 217, "PM" at 200; _WORDS_SEP)
            for c in mem[(mem[:, _POL] == pol) & (mem[:, _H] <= _WORD_SMALL)]:
                if _word(c, strokes, p, _WORDS_SEP):
                    found.append((int(c[_X]), int(c[_Y]), int(c[_W]), int(c[_H]), pol, float(c[_PEAK])))
                    n_found = (n_found[0] + float(c[_W]), n_found[1] + 1, n_found[2] + float(c[_H]))
        spread = float(np.mean(off)) if len(off) >= _SPREAD_N else None
        if (
            spread is not None
            and best_spread is not None
            and min(spread, best_spread) <= _SPREAD
            and abs(spread - best_spread) >= _SPREAD
        ):
            better = spread < best_spread
        else:
            # the wider characters: blur joins letters into words of one
            # component, not the gaps and counters between them, which then
            # outnumber them ("HOSPITAL" one dark character, 8 bright gaps)
            better = n_found > best_n
        if better:
            best, other = found, best
            best_n, best_spread = n_found, spread
        else:
            other = found
    if held is not None and best and not other:
        # the other polarity made no line but two or more of its characters
        # inside one of these lines peak at one grey: letters whose line
        # failed (one of them merged with a structure) around gaps whose
        # colour is the surround's, which stops where the surround changes;
        # the letters' colour runs on ("06:14:49 PM" in white over the CT
        # body edge: 0.74 of it masked -> all; dev and held-out seeds, usual:
        # readable boxes < 90% 16 -> 15, collateral and real files unchanged)
        for b in best:
            opp = mem[mem[:, _POL] != b[4]]
            cx, cy = opp[:, _X] + opp[:, _W] / 2, opp[:, _Y] + opp[:, _H] / 2
            opp = opp[(cx >= b[0]) & (cx <= b[0] + b[2]) & (cy >= b[1]) & (cy <= b[1] + b[3])]
            if len(opp) >= 2:
                grey = _median(opp[:, _PEAK])
                if np.all(np.abs(opp[:, _PEAK] - grey) <= 1):
                    held.append((*b[:4], 1.0 - b[4], grey))
    if held is not None and best and other and _encloses(other, best):
        # the letters are not grown: grown, their lines reached into
        # speckle and Doppler on real ultrasound (the gaps' lines, grown as
        # before, hold the line's rows); they are extended through their own
        # grey, as the gaps' grey (the surround's) stops where the surround
        # changes, at a line running from black into speckle
        held += other
        return best
    clipped = [b for b in best if b[5] >= _CLIPPED]
    if held is not None and clipped and other:
        # gaps clipped at the surround's black or white, letters of a grey
        # of their own over them: the letters, though they do not enclose
        # the gaps (a gap opening into speckle or anatomy at the line's end).
        # Per line: where the text crosses onto the CT body, its gaps there
        # take the body's grey ("23w" at scale 2, 44 px tall, over the body
        # edge: only the gaps' 20 rows masked, 0.55 of it; dev and held-out
        # seeds, usual: readable boxes < 90% 15 -> 14, real files unchanged)
        held += [
            o
            for o in other
            if o[5] < _CLIPPED
            and _overlap(o, clipped) > _OTHER_OVER * o[2]
        ]
    # a line of the other polarity beside the row's lines (not over them) is
    # more of the text: the letters of a line crossing a brighter structure
    # change polarity there
    for o in other:
        over = _overlap(o, best)
        if over <= _OTHER_OVER * o[2]:
            best = [*best, o]
    return best


def _encloses(
    outer: list[tuple[int, int, int, int, float, float]],
    inner: list[tuple[int, int, int, int, float, float]],
) -> bool:
    """The lines `outer` span the lines `inner`, and reach past them, but not far.

    Spanning is to within ``_ENCLOSE`` of the inner lines' median height;
    they reach at most ``_ENCLOSE_X`` of it past them along the row and
    ``_ENCLOSE_Y`` across it.
    """
    o, i = np.array([b[:4] for b in outer], np.float64), np.array([b[:4] for b in inner], np.float64)
    ox0, oy0, ox1, oy1 = o[:, 0].min(), o[:, 1].min(), (o[:, 0] + o[:, 2]).max(), (o[:, 1] + o[:, 3]).max()
    ix0, iy0, ix1, iy1 = i[:, 0].min(), i[:, 1].min(), (i[:, 0] + i[:, 2]).max(), (i[:, 1] + i[:, 3]).max()
    h = float(np.median(i[:, 3]))
    tol, dx, dy = max(1.0, _ENCLOSE * h), _ENCLOSE_X * h, _ENCLOSE_Y * h
    inside = ox0 <= ix0 + tol and oy0 <= iy0 + tol and ox1 >= ix1 - tol and oy1 >= iy1 - tol
    near = ox0 >= ix0 - dx and oy0 >= iy0 - dy and ox1 <= ix1 + dx and oy1 <= iy1 + dy
    return bool(inside and near and (ox0 < ix0 or oy0 < iy0 or ox1 > ix1 or oy1 > iy1))


def _clear_line(
    mem: npt.NDArray[np.float64],
    strokes: tuple[npt.NDArray[Any], npt.NDArray[Any]],
    p: _Params,
) -> list[tuple[int, int, int, int, float, float]]:
    """The lines of a row that holds none as it is: without its outliers, then of its clear characters.

    A line running from a plain surround into speckle keeps its letters on
    the plain side clear of their surround (separation >= ``p.word_sep``);
    in the speckle they merge with grains, whose peaks are spread, so the
    letters of the line's colour are fewer than half the row.  At least
    three clear characters are needed (clear grains are rare in speckle).
    """
    lines = _row_line(mem, strokes, p, True)
    if lines:
        return lines
    clear = mem[mem[:, _SEP] >= p.word_sep]
    if len(clear) < 3 or len(clear) == len(mem):
        return []
    return _row_line(clear, strokes, p, True)


def _lines(
    chars: npt.NDArray[np.float64],
    strokes: tuple[npt.NDArray[Any], npt.NDArray[Any]],
    g: npt.NDArray[Any],
    p: _Params,
) -> list[tuple[int, int, int, int]]:
    """Group characters into lines and keep the lines that look like text.

    Characters join when their boxes, widened by 0.7 of their height and
    trimmed by a quarter of it vertically, touch; a group is then split into
    rows (anatomy next to a line joins its group, not its row).  In each row,
    the characters of one polarity that share their extreme grey value
    (burned-in text is drawn in one colour; speckle and anatomy are not)
    form a line when there are at least two of them spanning 1.2 heights,
    of like heights (height IQR <= 0.8 median) and in one row (at most 2.2
    median heights tall); a
    row of one wide component (touching letters) is a line when it is well
    separated from its surround and crossed by several strokes.  Each line
    is then grown along its rows through strokes (:func:`_grow`) and then
    through pixels of its own colour (:func:`_extend`); lines of a row that
    was split by polarity (two close lines bridged by the other polarity)
    are kept as found, and letters around a row's lines of the gaps between
    them are extended but not grown (grown, they reached into Doppler and
    speckle on real ultrasound).
    """
    if len(chars) == 0:
        return []
    x, y, w, h = (chars[:, i].astype(np.int64) for i in range(4))
    px, py = np.maximum(3, (0.7 * h).astype(np.int64)), (0.25 * h).astype(np.int64)
    group = _touching(np.stack([x - px, y + py, x + w - 1 + px, y + h - 1 - py], axis=1))
    order = np.argsort(group, kind="stable")
    group, chars = group[order], chars[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    out = []
    split: list[tuple[int, int, int, int]] = []  # lines of split rows: not grown
    letters: list[tuple[int, int, int, int, float, float]] = []  # letters around gaps: not grown
    for grp in np.split(chars, starts[1:]):
        for mem in _rows(grp):
            lines = _row_line(mem, strokes, p, held=letters)
            tall = float((mem[:, _Y] + mem[:, _H]).max() - mem[:, _Y].min())
            if not lines and len(mem) > 2 and tall > _ROW_TALL * _median(mem[:, _H]):
                # the counters and gaps of one polarity can bridge two close
                # lines of the other into one row too tall to be a line: split
                # each polarity into rows of its own and test those
                n_split = len(split)
                for pol in (0.0, 1.0):
                    sub = mem[mem[:, _POL] == pol]
                    if len(sub) < 2:
                        continue
                    rows = _rows(sub)
                    if len(rows) < 2:
                        continue
                    for r in rows:
                        split += [f[:4] for f in _row_line(r, strokes, p)]
                if len(split) == n_split:  # no line either way: without its outliers
                    out += _clear_line(mem, strokes, p)
            elif not lines:  # without its outliers (a blob on the row, a stray grain)
                out += _clear_line(mem, strokes, p)
            else:
                out += lines
    if p.min_d > 0:  # half pass: thick characters only, boxes as found
        return _join([b[:4] for b in out + letters] + split)
    return _join(
        [_extend(_grow(b[:4], strokes), b[4], b[5], g) for b in out]
        + [_extend(b[:4], b[4], b[5], g) for b in letters]
        + split
    )


def _opencv_boxes(
    g: npt.NDArray[Any], p: _Params, solid: list[tuple[int, int, int, int]] | None = None
) -> list[tuple[int, int, int, int]]:
    """Line boxes (unpadded) found by the classical detector, at the scale of `g`.

    The lines of :func:`_solid_words` go to `solid` when it is given (full
    pass only), not into the result.
    """
    h_img, w_img = g.shape
    ker = cv2.getStructuringElement(cv2.MORPH_RECT, (_KERNEL, _KERNEL))
    wth = cv2.morphologyEx(g, cv2.MORPH_TOPHAT, ker)
    bth = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, ker)
    # local clutter: mean of the (low-capped) response of either polarity
    # over ~56 px; the low cap keeps a dense text line from raising it
    sw, sh = max(w_img // 8, 1), max(h_img // 8, 1)
    small = cv2.resize(
        cv2.min(cv2.max(wth, bth), _CLUTTER_CAP), (sw, sh), interpolation=cv2.INTER_AREA
    )
    clutter = cv2.resize(cv2.blur(small, (7, 7)), (w_img, h_img), interpolation=cv2.INTER_LINEAR)
    if p.noise_k > 0:  # see _NOISE_K
        noise = cv2.resize(cv2.min(wth, bth), (sw, sh), interpolation=cv2.INTER_AREA)
        noise = cv2.resize(cv2.blur(noise, (7, 7)), (w_img, h_img), interpolation=cv2.INTER_LINEAR)
        clutter = cv2.max(clutter, cv2.convertScaleAbs(noise, alpha=p.noise_k))
    thr = cv2.max(cv2.convertScaleAbs(clutter, alpha=p.clutter_k), np.full_like(g, int(p.floor)))
    strokes = (cv2.compare(bth, thr, cv2.CMP_GE), cv2.compare(wth, thr, cv2.CMP_GE))
    found = []
    bars: list[tuple[int, int, int, int, float, float]] = []
    full = p.min_d == 0  # oversized components are split in the full pass only (not thick strokes)
    for pol, resp in ((1, wth), (0, bth)):
        over: list[npt.NDArray[Any]] = []
        found.append(
            _characters(
                g, resp, strokes[pol], p, pol == 1, over if full else None, solid=bars if solid is not None else None
            )
        )
        if over:
            found.append(_split_oversized(g, resp, thr, over[0], p, pol == 1, bars if solid is not None else None))
    lines = _lines(np.concatenate(found), strokes, g, p)
    if solid is not None and bars:
        inside = boxes_mask(lines + [b[:4] for b in bars], g.shape).astype(np.uint8)
        held: dict[tuple[float, int], bool] = {}
        for b in bars:  # the colour is the text's: the lines hold most flat strokes of it (see _FLAT_HELD)
            c = int(b[5]) if b[4] > 0 else 255 - int(b[5])
            if (b[4], c) not in held:
                # strokes whose 3x3 neighbourhood is all c, over the box of
                # the pixels of c padded by one (the rest of the frame has none)
                eq = cv2.inRange(g, c, c)
                x, y, w, h = cv2.boundingRect(eq)
                sl = (slice(max(y - 1, 0), y + h + 1), slice(max(x - 1, 0), x + w + 1))
                own = cv2.bitwise_and(cv2.erode(eq[sl], np.ones((3, 3), np.uint8)), strokes[int(b[4])][sl])
                n_in = cv2.countNonZero(cv2.bitwise_and(own, own, mask=inside[sl]))
                held[(b[4], c)] = n_in >= _SOLID_HELD * cv2.countNonZero(own)
            if held[(b[4], c)]:
                solid.append(_extend(b[:4], b[4], b[5], g))
    if p.min_d > 0 or p.noise_k > 0:  # full pass at the frame's own size or smaller only
        return lines
    return lines + _flat_lines(g, wth, bth, lines, p)


def _flat_lines(
    g: npt.NDArray[Any],
    wth: npt.NDArray[Any],
    bth: npt.NDArray[Any],
    lines: list[tuple[int, int, int, int]],
    p: _Params,
) -> list[tuple[int, int, int, int]]:
    """Lines of flat-coloured strokes that the stroke threshold missed.

    Burned-in text is drawn in one colour over the finished image, so the
    inside of a stroke two or more pixels wide is one grey exactly, where
    speckle, noise and anatomy are not.  Faint text loses to the clutter
    threshold where its contrast is near it: beside an ultrasound sector
    (dark grey words on black, 28 grey levels, under a threshold of 30
    raised by the speckle 20-50 px away), inside speckle, and across a
    CT body edge or bone ring it merges with (too large to be a
    character, too faint for :func:`_split_oversized`).  Here the strokes
    are the pixels of a flat 3x3 neighbourhood with a stroke response of at
    least the floor (no clutter term), and one pixel round them of that
    response; they go through the same character and line tests, and their
    lines count when the lines hold most of the frame's flat cores of their grey
    (``_FLAT_HELD``: not the one grey a derived map codes its holes in).

    Measured on synthetic frames (seeds 99, 1-4, 512 px): recall at
    contrast 0.1 0.927 -> 0.990 in the usual mode (CT 0.892 -> 0.995,
    ultrasound 0.870 -> 0.973), 0.782 -> 0.933 strict (CT 0.884 -> 0.987);
    all contrasts 0.985 -> 0.997 (strict 0.958 -> 0.986); collateral
    0.0221 -> 0.0222 (strict 0.0146 -> 0.0148), text-free frames and lines
    at contrast >= 0.2 unchanged; no change on the pydicom test files.  Not a union with the
    main strokes: that merged a faint line with a bright one below it into
    one row (CT at contrast 0.1: 0.892 -> 0.858).  Not on frames analysed at
    double size: enlarged, every pixel is a flat 2x2 grain, and a
    posterised palette Doppler frame (120 x 256) gained a mask on anatomy
    (0.118 -> 0.122).  Cores inside the main pass's lines are dropped first
    and only the bounding box of the rest is labelled: on the whole frame
    the pass cost ~27% of the frame rate, so ~5%.
    """
    h_img, w_img = g.shape
    k3 = np.ones((3, 3), np.uint8)
    fl = np.full_like(g, int(p.floor))
    on = (cv2.compare(bth, fl, cv2.CMP_GE), cv2.compare(wth, fl, cv2.CMP_GE))
    core = cv2.inRange(cv2.morphologyEx(g, cv2.MORPH_GRADIENT, k3), 0, 0)  # one grey
    core = cv2.bitwise_and(core, cv2.bitwise_or(on[0], on[1]))
    every = core.copy()
    for x, y, w, h in lines:  # text already found
        core[max(y, 0) : y + h, max(x, 0) : x + w] = 0
    x, y, w, h = cv2.boundingRect(core)
    if not w:
        return []
    p = replace(p, sep_min=min(p.sep_min, _FLAT_SEP))
    # the crop holds every stroke grown from the cores (one pixel round them)
    x0, y0, x1, y1 = max(x - 2, 0), max(y - 2, 0), min(x + w + 2, w_img), min(y + h + 2, h_img)
    sl = (slice(y0, y1), slice(x0, x1))
    fstrokes = (np.zeros_like(g), np.zeros_like(g))  # full size, for _grow
    found = []
    for pol, resp in ((1, wth), (0, bth)):
        st = cv2.bitwise_and(cv2.dilate(cv2.bitwise_and(core[sl], on[pol][sl]), k3), on[pol][sl])
        fstrokes[pol][sl] = st
        c = _characters(g[sl], resp[sl], st, p, pol == 1, None, g.shape)
        c[:, _X] += x0
        c[:, _Y] += y0
        found.append(c)
    # every flat line counts, also where the main pass found part of it (as
    # the half pass's lines are dropped when the main pass spans half their
    # columns): that part may be the gaps between its letters, fewer rows,
    # or the letters on one side of a structure ("kRyv" in bold, 24 px
    # tall, of which the gaps' 9 rows were masked, 0.44; "DOE^JANE" across
    # a CT body edge, 0.77).  Dev and held-out seeds: usual readable boxes
    # < 90% 14 -> 12, strict recall 0.9842 -> 0.9861; collateral and the
    # real files unchanged (the same rule as the half pass's, by area,
    # masked real ultrasound anatomy: gdcm-US-ALOKA-16 0.071 -> 0.179)
    flines = _lines(np.concatenate(found), fstrokes, g, p)
    if not flines:
        return flines
    total = cv2.calcHist([g], [0], every, [256], [0, 256]).ravel()
    inside = boxes_mask(lines + flines, g.shape).astype(np.uint8)
    held = cv2.calcHist([g], [0], cv2.bitwise_and(every, every, mask=inside), [256], [0, 256]).ravel()
    out = []
    for x, y, w, h in flines:  # the line's colour: the grey of most of its cores
        sub = (slice(max(y, 0), y + h), slice(max(x, 0), x + w))
        own = cv2.calcHist([g[sub]], [0], every[sub], [256], [0, 256]).ravel()
        grey = int(np.argmax(own))
        if held[grey] >= _FLAT_HELD * total[grey]:
            out.append((x, y, w, h))
    return out


def _split_oversized(
    g: npt.NDArray[Any],
    resp: npt.NDArray[Any],
    thr: npt.NDArray[Any],
    big: npt.NDArray[Any],
    p: _Params,
    bright: bool,
    solid: list[tuple[int, int, int, int, float, float]] | None = None,
) -> npt.NDArray[np.float64]:
    """Characters inside stroke components too large to be characters.

    Text touching a long faint structure (a body outline, a bone ring, a
    collimation edge) joins it into one component that fails the size
    tests.  Burned-in text is usually stronger than such structures, so the
    component is thresholded again at four times the local stroke threshold
    (a level of its component tree, ``_SPLIT_LEVELS``), where the text
    separates.  Only where the surround is plain (stroke threshold near its
    floor: in speckle a higher cut leaves grains, not letters), and only
    pieces whose mean response stands well above the cut (the fringes of
    the structure just above it do not) and at most a third of the
    character height limit (small annotation text; longer pieces are arcs
    of the structure itself).  Only the bounding box of the oversized
    components is analysed.  Solid words among the pieces (see
    :func:`_solid_words`) go to `solid` when it is given.
    """
    out = [np.zeros((0, 9), np.float64)]
    shape = g.shape[:2]
    # on a plain surround only: in speckle and texture a higher threshold
    # leaves grains, not letters
    big = cv2.bitwise_and(big, cv2.compare(thr, np.full_like(thr, int(_SPLIT_PLAIN * p.floor)), cv2.CMP_LE))
    for level in _SPLIT_LEVELS:
        x, y, w, h = cv2.boundingRect(big)
        if not w:
            break
        sl = (slice(y, y + h), slice(x, x + w))
        sub = cv2.bitwise_and(
            cv2.compare(resp[sl], cv2.convertScaleAbs(thr[sl], alpha=level), cv2.CMP_GE), big[sl]
        )
        over: list[npt.NDArray[Any]] = []
        bars: list[tuple[int, int, int, int, float, float]] = []
        q = replace(p, min_h=min(p.min_h, _SPLIT_MIN_H), word_sep=p.sep_min)
        c = _characters(g[sl], resp[sl], sub, q, bright, over, shape, solid=bars if solid is not None else None)
        c[:, _X] += x
        c[:, _Y] += y
        if solid is not None:
            solid += [(bx + x, by + y, bw, bh, pol, peak) for bx, by, bw, bh, pol, peak in bars]
        # a piece must stand clear of the cut (the fringes of a structure
        # just above it, arcs of a ring, do not)
        cx, cy = (c[:, _X] + c[:, _W] // 2).astype(np.int64), (c[:, _Y] + c[:, _H] // 2).astype(np.int64)
        ok = c[:, _RESP] >= _SPLIT_CLEAR * level * thr[cy, cx]
        ok &= c[:, _H] <= max(90, shape[0] // 4) / 3  # letters of small text, not long arcs
        out.append(c[ok])
        if not over:
            break
        big = np.zeros_like(big)
        big[sl] = over[0]
    return np.concatenate(out)


def _word_boxes(g: npt.NDArray[Any]) -> list[tuple[int, int, int, int]]:
    """Second pass for small frames: strokes closed into words, then filtered as words.

    Tiny rendered text (5-8 px tall) touches its neighbours and logos, so
    its letters rarely pass the character tests; closing the strokes
    horizontally and testing the resulting words catches it. Only run on
    frames smaller than ``_MIN_WORK``, where it is cheap.
    """
    p = _WORD
    h_img, w_img = g.shape
    ker = cv2.getStructuringElement(cv2.MORPH_RECT, (_KERNEL, _KERNEL))
    wth = cv2.morphologyEx(g, cv2.MORPH_TOPHAT, ker)
    bth = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, ker)
    resp = cv2.max(wth, bth)
    # local clutter: mean of the capped response over ~64 px, computed small
    sw, sh = max(w_img // 8, 1), max(h_img // 8, 1)
    small = cv2.resize(cv2.min(resp, _WORD_CAP), (sw, sh), interpolation=cv2.INTER_AREA)
    small = cv2.blur(small, (7, 7))
    clutter = cv2.resize(small, (w_img, h_img), interpolation=cv2.INTER_LINEAR)
    thr = cv2.max(cv2.convertScaleAbs(clutter, alpha=p.clutter_k), np.full_like(g, int(p.floor)))
    stroke = cv2.compare(resp, thr, cv2.CMP_GE)  # 0/255
    closed = cv2.morphologyEx(
        stroke, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3))
    )
    n, lab, st = _components(closed)
    if n <= 1:
        return []
    x, y, w, h = st[:, 0], st[:, 1], st[:, 2], st[:, 3]
    max_h = h_img // 5  # tiny text, or a block of it
    # prefilter on geometry before any per-pixel statistics
    keep = (h >= p.min_h) & (h <= max_h) & (w <= 0.95 * w_img) & (st[:, 4] >= 12)
    keep[0] = False
    if not keep.any():
        return []
    sel = stroke.ravel() > 0
    labs = lab.ravel()[sel]
    cnt = np.bincount(labs, minlength=n).astype(np.float64)
    rsum = np.bincount(labs, resp.ravel()[sel].astype(np.float64), minlength=n)
    ii = cv2.integral(resp, sdepth=cv2.CV_64F)
    boxsum = ii[y + h, x + w] - ii[y, x + w] - ii[y + h, x] + ii[y, x]
    area = (w * h).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_stroke = rsum / np.maximum(cnt, 1)
        mean_rest = (boxsum - rsum) / np.maximum(area - cnt, 1)
        sep = mean_stroke / (mean_rest + 4.0)
        fill = cnt / area
    keep &= cnt >= 12
    keep &= mean_stroke >= p.floor
    keep &= sep >= p.word_sep
    keep &= fill >= 0.12
    keep &= (w >= 2) & (h <= 6 * np.maximum(w, 1))  # no vertical lines
    # on a textured surround (speckle) a word must be a word of letters,
    # not a grain: wider than tall, and drawn in one colour
    textured = clutter[y + h // 2, x + w // 2] >= _WORD_TEXTURE
    keep &= ~textured | (w >= _WORD_ASPECT * h)
    out = []
    for i in np.nonzero(keep)[0]:
        if not textured[i]:
            out.append((int(x[i]), int(y[i]), int(w[i]), int(h[i])))
            continue
        sl = (slice(y[i], y[i] + h[i]), slice(x[i], x[i] + w[i]))
        on = (lab[sl] == i) & (stroke[sl] > 0)
        bright = int(wth[sl][on].sum()) >= int(bth[sl][on].sum())
        v = g[sl][on].astype(np.int32)
        if not bright:
            v = 255 - v
        tol = max(6.0, 0.15 * float(resp[sl][on].mean()))
        # text is drawn in one colour: most of its stroke pixels reach it,
        # or its letters (the stroke pieces inside the word) share their peak
        if np.count_nonzero(v >= int(v.max()) - tol) >= _WORD_CORE * v.size or _same_peaks(
            on, g[sl] if bright else 255 - g[sl], tol
        ):
            out.append((int(x[i]), int(y[i]), int(w[i]), int(h[i])))
    return out


def _same_peaks(on: npt.NDArray[np.bool_], v: npt.NDArray[Any], tol: float) -> bool:
    """At least three stroke pieces of `on`, most of them peaking at one grey value of `v`."""
    n, lab, st = _components(on.astype(np.uint8))
    big = np.flatnonzero(st[1:, 4] >= 3) + 1
    if big.size < _WORD_PIECES:
        return False
    pk = _segment_max(v[on].astype(np.float64), lab[on].astype(np.int32), n)[big]
    return bool(np.count_nonzero(np.abs(pk - np.median(pk)) <= tol) >= _WORD_SAME * big.size)


def _thick_only(
    thick: list[tuple[int, int, int, int]], lines: list[tuple[int, int, int, int]]
) -> list[tuple[int, int, int, int]]:
    """The lines of the half-resolution pass that the full pass did not find.

    A line found by both is held better by the full pass (its box is grown
    along the line's own rows); the half-resolution box adds only an
    overhang of fringe, speckle and anatomy above and below it (0.002-0.005
    of collateral on 512 px frames, no recall).  A half-resolution line is
    dropped when the full pass's lines span at least ``_HALF_SEEN`` of its
    columns (lines found by both: 0.8-1.0 on synthetic frames; strokes too
    thick for the kernel, of which the full pass finds pieces: 0-0.2).
    """
    if not lines or not thick:
        return thick
    full = np.array(lines, np.int64).reshape(-1, 4)
    out = []
    for x, y, w, h in thick:
        inside = [(a - x, b - y, c, d) for a, b, c, d in full if a < x + w and a + c > x and b < y + h and b + d > y]
        if not inside or boxes_mask(inside, (h, w)).any(axis=0).mean() < _HALF_SEEN:
            out.append((x, y, w, h))
    return out


def _rescale(
    boxes: list[tuple[int, int, int, int]], scale: float
) -> list[tuple[int, int, int, int]]:
    """Boxes found on a frame resized by `scale`, in the frame's own pixels (rounded outward)."""
    out = []
    for x, y, w, h in boxes:
        x0, y0 = int(np.floor(x / scale)), int(np.floor(y / scale))
        x1, y1 = int(np.ceil((x + w) / scale)), int(np.ceil((y + h) / scale))
        out.append((x0, y0, x1 - x0, y1 - y0))
    return out


def _pad_merge(boxes: list[tuple[int, int, int, int]], shape: tuple[int, int]) -> list[Box]:
    """Pad each line box by a few pixels and merge overlaps into their bounding boxes."""
    if not boxes:
        return []
    b = np.array(boxes, np.int64).reshape(-1, 4)
    # line boxes already hold their strokes' anti-aliased fringe; a twelfth
    # of the height covers accents and stray fringe (an eighth cost 0.008
    # of collateral on 512 px frames for 0.001 of recall)
    pad = np.maximum(2, b[:, 3] // 12)
    h_img, w_img = shape
    r = np.stack(
        [
            np.clip(b[:, 0] - pad, 0, w_img - 1),
            np.clip(b[:, 1] - pad, 0, h_img - 1),
            np.clip(b[:, 0] + b[:, 2] - 1 + pad, 0, w_img - 1),
            np.clip(b[:, 1] + b[:, 3] - 1 + pad, 0, h_img - 1),
        ],
        axis=1,
    )
    r = r[(b[:, 0] + b[:, 2] + pad > 0) & (b[:, 1] + b[:, 3] + pad > 0)]
    r = r[(r[:, 0] <= r[:, 2]) & (r[:, 1] <= r[:, 3])]
    if len(r) > 1:  # bounding box of each group of touching padded boxes
        lab = _touching(r)
        k = np.unique(lab)
        if len(k) < len(r):
            r = np.stack(
                [np.r_[r[lab == i, :2].min(axis=0), r[lab == i, 2:].max(axis=0)] for i in k]
            )
    out = [Box(int(a), int(c), int(e - a + 1), int(f - c + 1)) for a, c, e, f in r]
    return sorted(out, key=lambda b: (b.y, b.x))


# ------------------------------------------------------------ DNN detector

_DNN_PACKAGE = "rapidocr-onnxruntime"
_DNN_MODEL = "ch_PP-OCRv4_det_infer.onnx"
_dnn_cache: dict[str, Any] = {}


def _dnn_model_path() -> Path:
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"detector='dnn' needs the {_DNN_PACKAGE} package, which ships the PP-OCR text "
            f"detection model (pip install {_DNN_PACKAGE}); nothing is downloaded"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / _DNN_MODEL
    if not path.is_file():
        raise ImportError(f"the installed {_DNN_PACKAGE} package has no models/{_DNN_MODEL}")
    return path


def _dnn_run(blob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Probability map of the PP-OCR DB model (onnxruntime if importable, else cv2.dnn)."""
    if "run" not in _dnn_cache:
        path = _dnn_model_path()
        if importlib.util.find_spec("onnxruntime") is not None:
            import onnxruntime as ort  # type: ignore[import-untyped,import-not-found,unused-ignore]

            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            name = sess.get_inputs()[0].name
            _dnn_cache["run"] = lambda b: sess.run(None, {name: b})[0]
        else:
            net = cv2.dnn.readNet(str(path))

            def run(b: npt.NDArray[np.float32]) -> Any:
                net.setInput(b)
                return net.forward()

            _dnn_cache["run"] = run
    prob: npt.NDArray[np.float32] = np.asarray(_dnn_cache["run"](blob), dtype=np.float32)
    out: npt.NDArray[np.float32] = prob[0, 0]
    return out


def _dnn_boxes(g: npt.NDArray[Any]) -> list[tuple[int, int, int, int]]:
    """Line boxes of the PP-OCR DB detector on the grey frame `g`."""
    h, w = g.shape
    s = min(1.0, 1280.0 / max(h, w))
    sh, sw = max(32, round(h * s / 32) * 32), max(32, round(w * s / 32) * 32)
    rgb = cv2.resize(g, (sw, sh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x = (rgb.astype(np.float32) / 255.0 - 0.45) / 0.226  # ImageNet mean/std, grey
    blob = np.ascontiguousarray(np.broadcast_to(x[None, None], (1, 3, sh, sw)), np.float32)
    prob = _dnn_run(blob)
    binm = cv2.resize((prob > 0.3).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    n, _, st, _ = cv2.connectedComponentsWithStats(binm)
    out = []
    for bx, by, bw, bh, area in st[1:n]:
        if area < 4:
            continue
        u = round(0.8 * bh)  # DB shrinks text regions; unclip ~1.6
        # DB regions are not tight stroke boxes: keep the eighth of the
        # height as padding that _pad_merge gave them before it took a twelfth
        hh = int(bh) + u
        u += 2 * (max(2, hh // 8) - max(2, hh // 12))
        out.append((int(bx) - u // 2, int(by) - u // 2, int(bw) + u, int(bh) + u))
    return out


def detect_text(
    frame: npt.NDArray[Any], *, strict: bool = False, detector: str = "opencv"
) -> list[Box]:
    """Find burned-in text in one frame.

    Parameters
    ----------
    frame : ndarray
        2-D grey frame or ``(rows, columns, 3)`` colour frame, any integer or
        float dtype; values are used as stored (no LUTs).
    strict : bool
        Stricter thresholds, for modalities where text is rare (CT, MR, PT,
        NM), to keep false masks off anatomy (OpenCV detector only).
    detector : {"opencv", "dnn", "both"}
        ``"opencv"``: the classical detector (default, no extra package).
        ``"dnn"``: the PP-OCRv4 DB text detection model shipped in the
        ``rapidocr-onnxruntime`` package (run with onnxruntime when
        importable, else ``cv2.dnn``); ImportError naming the package when
        it is not installed. ``"both"``: the union of the two.

    Returns
    -------
    list of Box
        Padded, merged boxes covering the text, in reading order.

    Examples
    --------
    >>> import numpy as np, cv2
    >>> img = np.zeros((128, 256), np.uint8)
    >>> _ = cv2.putText(img, "DOE^JOHN", (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2)
    >>> boxes = detect_text(img)
    >>> len(boxes) >= 1
    True
    """
    if detector not in _DETECTORS:
        raise ValueError(f"detector must be one of {_DETECTORS}, got {detector!r}")
    g = _to_grey_u8(frame)
    h_img, w_img = g.shape
    found: list[tuple[int, int, int, int]] = []
    if detector in ("dnn", "both"):
        found += _dnn_boxes(g)
    if detector in ("opencv", "both"):
        p = _STRICT if strict else _USUAL
        side = max(h_img, w_img)
        scale = 0.5 if side > _MAX_WORK else (2.0 if side < _MIN_WORK else 1.0)
        work: npt.NDArray[Any] = g
        if scale != 1.0:  # large frames at half size; small frames at double (6 px text: 12 px)
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
            work = cv2.resize(g, (int(w_img * scale), int(h_img * scale)), interpolation=interp)
        if scale > 1:
            p = replace(p, noise_k=_NOISE_K)
        solid: list[tuple[int, int, int, int]] = []
        found += _rescale(_opencv_boxes(work, p, solid), scale)
        # strokes wider than the top-hat kernel: a half-resolution pass that
        # keeps only characters at least a kernel tall (two at working scale)
        if min(work.shape) >= _HALF_MIN:
            half = cv2.resize(
                work, (work.shape[1] // 2, work.shape[0] // 2), interpolation=cv2.INTER_AREA
            )
            hp = replace(
                p,
                min_h=_KERNEL,
                min_d=_HALF_D,
                pair_h=min(p.pair_h, _HALF_PAIR_H),
                pair_tall=min(p.pair_tall, _HALF_PAIR_TALL),
            )
            thick = _rescale(_opencv_boxes(half, hp), scale / 2)
            found += _thick_only(thick, found)
        found += _rescale(solid, scale)
        if scale > 1 and not strict:
            found += _word_boxes(g)
    return _pad_merge(found, (h_img, w_img))


def boxes_mask(
    boxes: list[Box] | list[tuple[int, int, int, int]], shape: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """Boolean mask of the union of `boxes` (clipped) for a frame of `shape`.

    Examples
    --------
    >>> int(boxes_mask([Box(1, 1, 2, 2)], (4, 4)).sum())
    4
    """
    m = np.zeros(shape, bool)
    for x, y, w, h in boxes:
        x0, y0 = max(int(x), 0), max(int(y), 0)
        m[y0 : max(int(y + h), 0), x0 : max(int(x + w), 0)] = True
    return m


# ------------------------------------------------------------------ masking


def mask_frame(
    frame: npt.NDArray[Any], boxes: list[Box] | list[tuple[int, int, int, int]], value: Any
) -> int:
    """Set the pixels of `boxes` in `frame` (in place) to `value`; return boxes painted.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.ones((4, 4), np.int16)
    >>> mask_frame(f, [Box(0, 0, 2, 2)], -5), int(f.min())
    (1, -5)
    """
    n = 0
    rows, cols = frame.shape[:2]
    for x, y, w, h in boxes:
        x0, y0 = max(int(x), 0), max(int(y), 0)
        x1, y1 = min(int(x + w), cols), min(int(y + h), rows)
        if x1 > x0 and y1 > y0:
            frame[y0:y1, x0:x1] = value
            n += 1
    return n


# ----------------------------------------------------------- DICOM decoding

_PLUGINS = {
    "1.2.840.10008.1.2.4.50": "pylibjpeg-libjpeg (or pillow)",
    "1.2.840.10008.1.2.4.51": "pylibjpeg-libjpeg (or pillow)",
    "1.2.840.10008.1.2.4.57": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.70": "pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.80": "pyjpegls (or pylibjpeg-libjpeg)",
    "1.2.840.10008.1.2.4.81": "pyjpegls (or pylibjpeg-libjpeg)",
    "1.2.840.10008.1.2.4.90": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.91": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.201": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.202": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.4.203": "pylibjpeg-openjpeg",
    "1.2.840.10008.1.2.5": "pylibjpeg-rle (or numpy, built in)",
    "1.2.840.10008.1.2.8.1": "pydicom with deflate support",
}
_LOSSY_METHOD = {
    "1.2.840.10008.1.2.4.50": "ISO_10918_1",
    "1.2.840.10008.1.2.4.51": "ISO_10918_1",
    "1.2.840.10008.1.2.4.81": "ISO_14495_1",
    "1.2.840.10008.1.2.4.91": "ISO_15444_1",
    "1.2.840.10008.1.2.4.203": "ISO_15444_15",
}
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _transfer_syntax(ds: Dataset) -> UID:
    fm = getattr(ds, "file_meta", None)
    ts = getattr(fm, "TransferSyntaxUID", None) if fm is not None else None
    return UID(ts) if ts else ExplicitVRLittleEndian


def _header_int(ds: Dataset, keyword: str, tag: tuple[int, int], default: int | None = None) -> int:
    """A positive integer attribute of the image pixel module, or PixelDataError naming it."""
    name = f"({tag[0]:04X},{tag[1]:04X}) {keyword}"
    try:
        raw = ds.get(keyword)
    except Exception:  # a value that cannot be read as its VR
        raise PixelDataError(f"{name} cannot be read") from None
    if raw is None or raw == "":
        if default is None:
            raise PixelDataError(f"{name} is missing")
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise PixelDataError(f"{name} is not an integer") from None
    if value < 1:
        raise PixelDataError(f"{name} must be positive, got {value}")
    return value


def decode_frames(ds: Dataset) -> npt.NDArray[Any]:
    """Decode every frame of `ds` to ``(frames, rows, columns[, samples])``.

    YBR colour is returned as RGB; PALETTE COLOR as palette indices.

    Raises
    ------
    PixelDataError
        Missing decoder plugin (the package is named), corrupt stream, or a
        frame count that disagrees with (0028,0008) NumberOfFrames.

    Examples
    --------
    >>> from pydicom import examples
    >>> decode_frames(examples.ct).shape
    (1, 128, 128)
    """
    ts = _transfer_syntax(ds)
    declared = _header_int(ds, "NumberOfFrames", (0x0028, 0x0008), 1)
    rows = _header_int(ds, "Rows", (0x0028, 0x0010))
    cols = _header_int(ds, "Columns", (0x0028, 0x0011))
    spp = _header_int(ds, "SamplesPerPixel", (0x0028, 0x0002), 1)
    bits = _header_int(ds, "BitsAllocated", (0x0028, 0x0100))
    if not ts.is_encapsulated and "PixelData" in ds:
        try:  # pydicom's own count: native YBR_FULL_422 holds 2 bytes a pixel, not 3
            expected = int(get_expected_length(ds, "bytes"))
        except Exception:
            expected = (rows * cols * spp * declared * bits + 7) // 8
        actual = len(ds.PixelData)
        # trailing padding shorter than a frame is decoded as pydicom does;
        # a frame's worth more or any byte less is a frame count mismatch
        if actual < expected or actual - expected >= max(expected // declared, 2):
            raise PixelDataError(
                f"(7FE0,0010) PixelData holds {actual} bytes but (0028,0008) NumberOfFrames="
                f"{declared} at {rows}x{cols}x{spp}, {bits}-bit needs {expected}"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except (RuntimeError, NotImplementedError) as exc:
        msg = str(exc).lower()
        # "install X" only when no decoder is there; an installed decoder that
        # rejects the stream means a corrupt or unsupported stream
        if "exceptions were raised" not in msg and (
            "no pixel data decoders" in msg or "missing" in msg or "no available" in msg
        ):
            pkg = _PLUGINS.get(str(ts), "a pydicom pixel data plugin")
            raise PixelDataError(f"cannot decode {ts.name} pixel data: install {pkg}") from None
        raise PixelDataError(
            f"cannot decode {ts.name} pixel data: the installed decoders reject it (corrupt or unsupported stream)"
        ) from None
    except Exception as exc:
        raise PixelDataError(
            f"corrupt or inconsistent {ts.name} pixel data ({type(exc).__name__})"
        ) from None
    arr = np.asarray(arr)
    if declared == 1 and arr.ndim == (3 if spp > 1 else 2):
        arr = arr[None]
    want = (declared, rows, cols) + ((spp,) if spp > 1 else ())
    if arr.shape != want:
        raise PixelDataError(
            f"decoded pixel data has shape {arr.shape}, header says {want} "
            "((0028,0008) NumberOfFrames, Rows, Columns, SamplesPerPixel)"
        )
    return arr


# ------------------------------------------------------------ clean_pixels

_TEXT_RARE = {"CT", "MR", "PT", "NM"}
_SC_CLASSES = ("1.2.840.10008.5.1.4.1.1.7",)  # Secondary Capture family prefix


def _strict_for(ds: Dataset, mode: str) -> bool:
    if mode == "all":
        return False
    modality = str(getattr(ds, "Modality", "")).upper()
    if modality not in _TEXT_RARE:
        return False
    if str(getattr(ds, "BurnedInAnnotation", "")).upper() == "YES":
        return False
    itype = [str(v).upper() for v in (getattr(ds, "ImageType", None) or [])]
    if "SECONDARY" in itype or "DERIVED" in itype:
        return False
    sop = str(getattr(ds, "SOPClassUID", ""))
    return not sop.startswith(_SC_CLASSES)


def _remove_graphics(ds: Dataset) -> None:
    """Remove overlays (60xx), retired curves (50xx) and IconImageSequence, recursively."""
    for tag in [
        t
        for t in list(ds.keys())
        if t.group in range(0x5000, 0x6100) and t.group % 2 == 0 and (t.group >> 8) in (0x50, 0x60)
    ]:
        del ds[tag]
    if "IconImageSequence" in ds:
        del ds.IconImageSequence
    for elem in list(ds):
        if elem.VR == "SQ" and isinstance(elem.value, Sequence):
            for item in elem.value:
                _remove_graphics(item)


def _black_value(ds: Dataset, frame: npt.NDArray[Any], photometric: str) -> Any:
    if photometric == "MONOCHROME1":
        return frame.max()
    if photometric == "PALETTE COLOR":
        try:
            lut = apply_color_lut(np.arange(int(frame.max()) + 1, dtype=frame.dtype), ds)
            return int(np.argmin(lut.reshape(lut.shape[0], -1).astype(np.int64).sum(axis=1)))
        except Exception:
            return frame.min()
    if frame.ndim == 3:
        return np.zeros(frame.shape[-1], frame.dtype)
    return frame.min()


def _display_frame(ds: Dataset, frame: npt.NDArray[Any], photometric: str) -> npt.NDArray[Any]:
    if photometric == "PALETTE COLOR":
        try:
            return np.asarray(apply_color_lut(frame, ds))
        except Exception:
            return frame
    return frame


def _thumb(frame: npt.NDArray[Any], photometric: str) -> npt.NDArray[Any]:
    a = np.asarray(frame)
    u8: npt.NDArray[Any]
    if a.ndim == 3:
        f = a.astype(np.float32)
        lo, hi = float(f.min()), float(f.max())
        u8 = (
            np.zeros(f.shape, np.uint8)
            if hi <= lo
            else ((f - lo) * (255.0 / (hi - lo))).astype(np.uint8)
        )
        u8 = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
    else:
        u8 = _to_grey_u8(a)
        if photometric == "MONOCHROME1":
            u8 = 255 - u8
    s = 256.0 / max(u8.shape[:2])
    if s < 1:
        u8 = cv2.resize(
            u8,
            (max(1, int(u8.shape[1] * s)), max(1, int(u8.shape[0] * s))),
            interpolation=cv2.INTER_AREA,
        )
    return u8


def _write_back(ds: Dataset, arr: npt.NDArray[Any], photometric: str, was_compressed: bool) -> None:
    """Store `arr` (frames, rows, cols[, samples]) as the dataset's pixel data."""
    frames = arr.shape[0]
    spp = arr.shape[3] if arr.ndim == 4 else 1
    bits = int(ds.BitsAllocated)
    ds.file_meta = getattr(ds, "file_meta", None) or pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for kw in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        if kw in ds:
            delattr(ds, kw)
    if bits == 1:
        data = pack_bits(arr.astype(np.uint8).ravel())
    else:
        dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        if bits != arr.dtype.itemsize * 8:  # e.g. 32-bit allocated but decoded wider/narrower
            dt = np.dtype(f"<{'i' if arr.dtype.kind == 'i' else 'u'}{bits // 8}")
        data = np.ascontiguousarray(arr, dtype=dt).tobytes()
    if len(data) % 2:
        data += b"\x00"
    ds.PixelData = data
    ds["PixelData"].VR = "OW" if bits > 8 else "OB"
    ds["PixelData"].is_undefined_length = False
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = spp
    if spp > 1:
        ds.PlanarConfiguration = 0
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration
    if "NumberOfFrames" in ds or frames > 1:
        ds.NumberOfFrames = frames
    if was_compressed and bits in (8, 16, 32):
        enc = get_encoder(RLELossless)
        plugin = "pylibjpeg" if "pylibjpeg" in enc.available_plugins else "pydicom"
        try:
            ds.compress(RLELossless, encoding_plugin=plugin, generate_instance_uid=False)
        except (ValueError, RuntimeError, NotImplementedError):
            # RLE cannot hold this layout (e.g. 32-bit with some encoders): write it uncompressed
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.PixelData = data
            ds["PixelData"].VR = "OW" if bits > 8 else "OB"
            ds["PixelData"].is_undefined_length = False
    # the whole dataset is now written little endian, explicit VR
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid values already in the input
        for _ in ds.iterall():
            pass  # converts raw (possibly big-endian) elements to values
    ds.set_original_encoding(False, True, getattr(ds, "_character_set", None))


def _token(ds: Dataset) -> str:
    uid = str(getattr(ds, "SOPInstanceUID", "")) or repr(ds.get("PixelData", b"")[:64])
    return hashlib.sha256(uid.encode()).hexdigest()[:16]


def clean_pixels(ds: Dataset, policy: Any) -> PixelResult:
    """Detect and mask burned-in text in every frame of `ds`, in place.

    Also removes overlays (60xx), curves (50xx) and IconImageSequence at any
    depth (Clean Graphics), and sets (0028,0301) BurnedInAnnotation to "NO"
    when every frame was scanned.

    Parameters
    ----------
    ds : pydicom.Dataset
        Modified in place (pass a copy you own).
    policy : medanon.dicom.policy.Policy
        Read by attribute: ``burned_in`` ("auto", "all", "off"),
        ``pixel_rules`` (path or None), ``allow_undecodable_pixels`` (bool),
        ``review_dir`` (path or None), and ``text_detector`` ("opencv",
        the default when absent, "dnn" or "both"; see :func:`detect_text`).

    Returns
    -------
    PixelResult

    Raises
    ------
    PixelDataError
        Undecodable pixel data, unless ``policy.allow_undecodable_pixels``.

    References
    ----------
    DICOM PS3.15 E.3.3 Clean Pixel Data Option, E.3.4 Clean Graphics Option.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from pydicom import examples
    >>> ds = examples.ct
    >>> pol = SimpleNamespace(burned_in="auto", pixel_rules=None,
    ...                       allow_undecodable_pixels=False, review_dir=None)
    >>> clean_pixels(ds, pol).scanned
    True
    """
    mode = str(getattr(policy, "burned_in", "auto"))
    if mode not in ("auto", "all", "off"):
        raise ValueError(f"policy.burned_in must be 'auto', 'all' or 'off', got {mode!r}")
    _remove_graphics(ds)
    if mode == "off":
        return PixelResult(
            False,
            int(getattr(ds, "NumberOfFrames", 1) or 1) if "PixelData" in ds else 0,
            0,
            0,
            "off",
        )
    if "PixelData" not in ds:
        if any(k in ds for k in _PIXEL_KEYWORDS[1:]):
            return PixelResult(False, 0, 0, 0, "float pixel data not scanned")
        return PixelResult(False, 0, 0, 0, "no pixel data")
    detector = str(getattr(policy, "text_detector", "opencv"))
    if detector not in _DETECTORS:
        raise ValueError(f"policy.text_detector must be one of {_DETECTORS}, got {detector!r}")
    rules_path = getattr(policy, "pixel_rules", None)
    rules: tuple[PixelRule, ...] = load_rules(None)
    if rules_path is not None:
        rules = rules + load_rules(rules_path)
    ts = _transfer_syntax(ds)
    try:
        arr = decode_frames(ds)
    except PixelDataError as exc:
        if getattr(policy, "allow_undecodable_pixels", False):
            return PixelResult(False, 0, 0, 0, f"undecodable: {exc}")
        raise
    pi = str(ds.PhotometricInterpretation).strip().upper()
    photometric = "RGB" if pi.startswith("YBR") and arr.ndim == 4 else pi
    was_lossy = str(getattr(ds, "LossyImageCompression", "")) == "01" or ts in _LOSSY_METHOD
    strict = _strict_for(ds, mode)
    fixed = match_regions(ds, rules)
    arr = np.array(arr, copy=True)  # decoded arrays may be read-only views
    review = getattr(policy, "review_dir", None)
    before = _thumb(_display_frame(ds, arr[0], photometric), photometric) if review else None
    masked = rule_boxes = 0
    for i in range(arr.shape[0]):
        frame = arr[i]
        boxes: list[Box] = detect_text(
            _display_frame(ds, frame, photometric), strict=strict, detector=detector
        )
        black = _black_value(ds, frame, photometric)
        rule_boxes += mask_frame(frame, [Box(*r) for r in fixed], black)
        masked += mask_frame(frame, boxes, black)
    masked += rule_boxes
    if review and before is not None:
        out = Path(review)
        out.mkdir(parents=True, exist_ok=True)
        tok = _token(ds)
        cv2.imwrite(str(out / f"{tok}_before.png"), before)
        cv2.imwrite(
            str(out / f"{tok}_after.png"),
            _thumb(_display_frame(ds, arr[0], photometric), photometric),
        )
    if (
        masked
        or photometric != pi
        or ts.is_encapsulated
        or not ts.is_little_endian
        or ts.is_implicit_VR
    ):
        _write_back(ds, arr, photometric, ts.is_encapsulated)
    if was_lossy:
        ds.LossyImageCompression = "01"
        if "LossyImageCompressionMethod" not in ds and str(ts) in _LOSSY_METHOD:
            ds.LossyImageCompressionMethod = _LOSSY_METHOD[str(ts)]
    ds.BurnedInAnnotation = "NO"
    return PixelResult(
        True,
        int(arr.shape[0]),
        masked,
        rule_boxes,
        f"{'strict' if strict else 'usual'}; {len(fixed)} rule regions",
    )
