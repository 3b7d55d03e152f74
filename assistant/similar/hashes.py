"""Perceptual hashes of a thumbnail for finding the same photo again.

A 64-bit DCT hash (pHash: the signs of the 8x8 lowest frequencies of a 32x32 reduction
against their median) survives resizing, recompression and brightness within a few bits,
and two different documents photographed alike differ by many more bits than with a
difference hash (measured on the dev set: 0.05% of unrelated pairs within 5 bits, against
1.7% for dHash). It does not survive a border added around the picture, a crop or a turn,
and moving a window's edge by 2% of its side already costs about 6 bits. So:

- stored (`thumbnail_hashes`, in this order, the position being the `variant` in the
  index): the whole picture; the picture without flat borders (`content`: a phone
  screenshot's bars and letterboxing, a scan's margins); and windows of that content that
  any crop of up to `CUT` per side keeps whole, for the crops phone editors make
  (`STORED_WINDOWS`: centred, for an aspect-ratio preset; at each corner, for a dragged
  corner; along each edge, for a dragged edge);
- a query (`query_hashes`): its whole picture and content turned four ways (rotation);
  where each stored window would be if the query were such a crop, for cuts on a grid of
  4% steps (`_crop_windows`); and its content turned back by a few degrees (a slightly
  rotated copy, whose original is then the rectangle inside it).

Flat pictures (an empty page) hash to noise: they have no hash rather than matching every
other flat picture.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from assistant.similar.cells import WHOLE, Box, Part, decode_gray, means, means_of, phashes

CUT = 0.3  # the largest share of a side a crop may remove and still be found
# (left, top, right, bottom) as fractions of the content.
STORED_WINDOWS: dict[str, tuple[float, float, float, float]] = {
    "centre": (CUT / 2, CUT / 2, 1 - CUT / 2, 1 - CUT / 2),
    "top_left": (0, 0, 1 - CUT, 1 - CUT),
    "top_right": (CUT, 0, 1, 1 - CUT),
    "bottom_left": (0, CUT, 1 - CUT, 1),
    "bottom_right": (CUT, CUT, 1, 1),
    "top": (0, 0, 1, 1 - CUT),
    "bottom": (0, CUT, 1, 1),
    "left": (0, 0, 1 - CUT, 1),
    "right": (CUT, 0, 1, 1),
}
# Variants: 0 the whole picture, 1 its content, then the windows above of the whole
# picture, then of the content. Both: a crop cuts a document's margin or a photo's flat
# sky differently from its original (windows of the content alone missed a third of the
# crops on the dev set), while a document's text block survives a crop of its margins and
# a screenshot's bars (windows of the whole picture alone missed those).
VARIANTS = (
    "whole",
    "content",
    *(f"whole_{name}" for name in STORED_WINDOWS),
    *(f"content_{name}" for name in STORED_WINDOWS),
)
# Sides the query's kept part may have (1 - cut), 4% apart: an edge is then at most 1% of
# the window away from where it belongs. A dragged corner or a preset cuts both sides
# (KEPT_CUT); a dragged edge cuts one, so its other side is whole.
KEPT_CUT = (0.7, 0.74, 0.78, 0.82, 0.86, 0.9)
KEPT = (*KEPT_CUT, 0.95, 1.0)
TILTS = (-7.5, -5.0, -2.5, 2.5, 5.0, 7.5)  # degrees a slightly rotated copy is turned back

# Bits within which a query hash finds a stored one. Whole pictures are probed up to one
# bit per band (every hash within 7 bits is found); windows by exact bands.
WHOLE_BITS = 7
WINDOW_BITS = 6
# Content: rows or columns whose pixels vary less than this (standard deviation, 0-255)
# are flat; runs of non-flat rows closer than JOIN_GAP of the side are one region (the
# lines of a text are one page; a screenshot's status bar is not the photo).
FLAT_STD = 3.0
JOIN_GAP = 0.04
MIN_CONTENT = 0.1  # a content smaller than this share of a side is not trusted


class QueryHash(NamedTuple):
    hash: int
    variant: int  # which picture or window of the query
    radius: int  # band bits probed around each band value (0 or 1)
    max_bits: int
    # What it hashed: this part of the query (fractions of it), turned `turn` quarters
    # counter-clockwise; None for a picture turned back a few degrees.
    box: Box | None = None
    turn: int = 0
    # The stored hashes it is compared with (`window_of`): 0 the whole pictures and their
    # contents, else a window's.
    window: int = 0


def _span(std: np.ndarray) -> tuple[int, int]:
    """The longest run of non-flat rows (runs separated by short flat gaps joined)."""
    n = len(std)
    runs: list[list[int]] = []
    i = 0
    while i < n:
        if std[i] < FLAT_STD:
            i += 1
            continue
        j = i
        while j < n and std[j] >= FLAT_STD:
            j += 1
        if runs and i - runs[-1][1] <= JOIN_GAP * n:
            runs[-1][1] = j
        else:
            runs.append([i, j])
        i = j
    if not runs:
        return 0, n
    best = max(runs, key=lambda r: r[1] - r[0])
    return best[0], best[1]


def content_boxes(gray: np.ndarray, passes: int = 4) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of the picture inside its flat borders after each pass
    that trimmed something (none: the picture has no flat border), trimmed again until
    nothing changes (a screenshot's letterboxing first, then a document's own margin, as
    in its original), at most `passes` times."""
    left, top, right, bottom = 0, 0, gray.shape[1], gray.shape[0]
    found: list[tuple[int, int, int, int]] = []
    for _ in range(passes):
        part = gray[top:bottom, left:right].astype(np.float32)
        height, width = part.shape
        y0, y1 = _span(part.std(axis=1))
        x0, x1 = _span(part[y0:y1].std(axis=0))
        if y1 - y0 < MIN_CONTENT * height or x1 - x0 < MIN_CONTENT * width:
            break
        if (y0, y1, x0, x1) == (0, height, 0, width):
            break
        left, top, right, bottom = left + x0, top + y0, left + x1, top + y1
        found.append((left, top, right, bottom))
    return found


def content_box(gray: np.ndarray, passes: int = 4) -> tuple[int, int, int, int]:
    """The picture's box after `content_boxes`' last pass."""
    found = content_boxes(gray, passes)
    return found[-1] if found else (0, 0, gray.shape[1], gray.shape[0])


def content(gray: np.ndarray) -> np.ndarray:
    """The picture inside its flat borders (`content_box`)."""
    left, top, right, bottom = content_box(gray)
    return gray[top:bottom, left:right]


def _fractions(gray: np.ndarray, box: tuple[int, int, int, int]) -> Box:
    height, width = gray.shape
    return box[0] / width, box[1] / height, box[2] / width, box[3] / height


def _within(outer: Box, inner: Box) -> Box:
    """`inner` (fractions of `outer`) as fractions of what `outer` is a part of."""
    w, h = outer[2] - outer[0], outer[3] - outer[1]
    return (
        outer[0] + inner[0] * w,
        outer[1] + inner[1] * h,
        outer[0] + inner[2] * w,
        outer[1] + inner[3] * h,
    )


def stored_boxes(thumbnail: bytes) -> list[Box]:
    """The part of a catalog image each of its hashes covers, in `VARIANTS` order."""
    gray = decode_gray(thumbnail)
    inside = _fractions(gray, content_box(gray))
    windows = list(STORED_WINDOWS.values())
    return [WHOLE, inside, *windows, *(_within(inside, w) for w in windows)]


def thumbnail_hashes(thumbnail: bytes) -> list[int]:
    """The hashes a catalog image is found by, in `VARIANTS` order (a flat window's place
    holds the whole picture's hash again, so positions never shift). A flat picture has
    none: it would be "the same" as every other flat one."""
    gray = decode_gray(thumbnail)
    inside = content(gray)
    windows = list(STORED_WINDOWS.values())
    cells = np.concatenate(
        [
            means(gray, [WHOLE]),
            means(inside, [WHOLE]),
            means(gray, windows),
            means(inside, windows),
        ]
    )
    found = phashes(cells)
    whole = found[0] if found[0] is not None else found[1]
    if whole is None:
        return []
    return [whole if value is None else value for value in found]


def _crop_windows() -> list[tuple[str, Box]]:
    """Where each stored window lies in a query that is such a crop, for every kept side
    on the grid, with the window's name: e.g. a top-left crop keeping (kx, ky) holds the
    stored top-left window (0, 0, 1 - CUT, 1 - CUT) at (0, 0, (1 - CUT) / kx, (1 - CUT) / ky)."""
    boxes: list[tuple[str, Box]] = []
    inner = 1 - CUT
    for kx in KEPT_CUT:
        sx = inner / kx
        for ky in KEPT_CUT:
            sy = inner / ky
            boxes += [
                ("centre", ((1 - sx) / 2, (1 - sy) / 2, (1 + sx) / 2, (1 + sy) / 2)),
                ("top_left", (0, 0, sx, sy)),
                ("top_right", (1 - sx, 0, 1, sy)),
                ("bottom_left", (0, 1 - sy, sx, 1)),
                ("bottom_right", (1 - sx, 1 - sy, 1, 1)),
            ]
    for kept in KEPT:
        side = inner / kept
        boxes += [
            ("top", (0, 0, 1, side)),
            ("bottom", (0, 1 - side, 1, 1)),
            ("left", (0, 0, side, 1)),
            ("right", (1 - side, 0, 1, 1)),
        ]
    # Nothing cut: the stored windows themselves (a second chance for a copy whose whole
    # picture changed more than its parts, as a brightened page does).
    boxes += [
        (name, b)
        for name, b in STORED_WINDOWS.items()
        if name not in ("top", "bottom", "left", "right")
    ]
    return boxes


WINDOW_NAMES = list(STORED_WINDOWS)


def window_of(variant: int) -> int:
    """Which window a stored hash (its position in `VARIANTS`) covers: 0 the whole picture
    or its content, else 1 + the window's place in `STORED_WINDOWS` (of either)."""
    return 0 if variant < 2 else (variant - 2) % len(STORED_WINDOWS) + 1


_CROPS = _crop_windows()
CROP_WINDOWS = [box for _, box in _CROPS]
_CENTRE = 1 + WINDOW_NAMES.index("centre")
_CORNERS = {"top_left", "top_right", "bottom_left", "bottom_right"}
# The stored windows each crop window is compared with: its own, and for a corner's also
# the centre one (an uneven crop that cut the centre window's margins on that corner's
# sides holds it there: a third of the uneven crops found on the dev set were found so).
_GRID = len(KEPT_CUT)


def _also_centre(position: int, name: str) -> bool:
    """Whether the crop window at this position of `_CROPS` is also compared with the
    stored centre window: a corner's, on every other kept side of the grid (the corner
    loop comes first, 5 windows per (kx, ky)); a finer grid for these cost more index
    lookups than the uneven crops it found."""
    if name not in _CORNERS:
        return False
    kx, ky = divmod(position // 5, _GRID)
    return kx % 2 == 0 and ky % 2 == 0


CROP_TARGETS = [
    (1 + WINDOW_NAMES.index(name), _CENTRE)
    if _also_centre(i, name)
    else (1 + WINDOW_NAMES.index(name),)
    for i, (name, _) in enumerate(_CROPS)
]


def _untilted(picture: np.ndarray, degrees: float) -> np.ndarray | None:
    """The original inside a copy turned by `degrees` (with the corners it grew): turned
    back, then the rectangle the original covered, solved from the copy's size."""
    height, width = picture.shape
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), -degrees, 1.0)
    back = cv2.warpAffine(picture, turn, (width, height), flags=cv2.INTER_LINEAR)
    c, s = abs(np.cos(np.radians(degrees))), abs(np.sin(np.radians(degrees)))
    w, h = np.linalg.solve(np.array([[c, s], [s, c]]), [width, height])
    if w < 16 or h < 16:
        return None
    x0, y0 = (width - w) / 2, (height - h) / 2
    return back[max(0, round(y0)) : round(y0 + h), max(0, round(x0)) : round(x0 + w)]


def query_hashes(thumbnail: bytes) -> list[QueryHash]:
    """The hashes a query photo looks with (see the module's docstring), without repeats."""
    gray = decode_gray(thumbnail)
    # Without a screenshot's bars (one pass: the photo as it was before), and without any
    # flat border (the catalog image's `content`); each turned four ways.
    full = (0, 0, gray.shape[1], gray.shape[0])
    trimmed = content_boxes(gray)
    shown_box, inside_box = (trimmed[0], trimmed[-1]) if trimmed else (full, full)
    left, top, right, bottom = inside_box
    inside = gray[top:bottom, left:right]
    whole = means_of(
        gray,
        [Part(box, [WHOLE], turn) for turn in range(4) for box in (full, shown_box, inside_box)],
    )
    boxes: list[tuple[Box | None, int, tuple[int, ...]]] = [
        (box, turn, (0,))
        for turn in range(4)
        for box in (WHOLE, _fractions(gray, shown_box), _fractions(gray, inside_box))
    ]
    # Crops: of the picture, and of its content (a cropped photo then screenshotted and
    # forwarded; a document's text block).
    parts = [Part(full, CROP_WINDOWS)]
    boxes += [(box, 0, targets) for box, targets in zip(CROP_WINDOWS, CROP_TARGETS, strict=True)]
    if inside_box != full:
        parts.append(Part(inside_box, CROP_WINDOWS))
        inner = _fractions(gray, inside_box)
        boxes += [
            (_within(inner, box), 0, targets)
            for box, targets in zip(CROP_WINDOWS, CROP_TARGETS, strict=True)
        ]
    windows = [means_of(gray, parts)]
    for degrees in TILTS:
        turned = _untilted(inside, degrees)
        if turned is not None:
            windows.append(means(turned, [WHOLE, STORED_WINDOWS["centre"]]))
            boxes += [(None, 0, (0,)), (None, 0, (_CENTRE,))]
    cells = np.concatenate([whole, *windows])
    whole_count = len(whole)
    found: list[QueryHash] = []
    seen: set[tuple[int, int]] = set()
    for variant, value in enumerate(phashes(cells)):
        box, turn, targets = boxes[variant]
        for window in targets:
            if value is None or (value, window) in seen:
                continue
            seen.add((value, window))
            if variant < whole_count:
                # Upright, probed a bit around (resized, recompressed); a quarter turn is
                # lossless, its hash within a few bits (exact bands find up to 3).
                radius = 1 if turn == 0 else 0
                found.append(QueryHash(value, variant, radius, WHOLE_BITS, box, turn, window))
            else:
                found.append(QueryHash(value, variant, 0, WINDOW_BITS, box, turn, window))
    return found
