"""A picture's parts reduced to 32x32 cell means, all at once from one integral image,
and the 64-bit DCT hash (pHash) of each reduction (see `hashes`)."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

MIN_SPREAD = 4.0  # a window whose pixels vary less than this is flat: no hash
SIDE = 32
WHOLE = (0.0, 0.0, 1.0, 1.0)

Box = tuple[float, float, float, float]  # (left, top, right, bottom), fractions


def decode_gray(image: bytes) -> np.ndarray:
    gray = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise ValueError("not an image")
    return gray


def _dct_basis() -> np.ndarray:
    n = np.arange(SIDE)
    basis = np.cos(np.pi * (2 * n[None, :] + 1) * np.arange(8)[:, None] / (2 * SIDE))
    basis[0] *= np.sqrt(1 / SIDE)
    basis[1:] *= np.sqrt(2 / SIDE)
    return basis.astype(np.float32)


_BASIS = _dct_basis()


def means(picture: np.ndarray, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """Each box (fractions of the picture) reduced to 32x32 cell means, all at once from
    the picture's integral image (what INTER_AREA does, without a call per window)."""
    height, width = picture.shape
    if min(height, width) < 2 * SIDE:  # tiny pictures: every cell at least a pixel
        scale = 2 * SIDE / min(height, width)
        picture = cv2.resize(
            picture, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR
        )
    height, width = picture.shape
    return _part_means(picture, cv2.integral(picture), Part((0, 0, width, height), boxes))


class Part(NamedTuple):
    """Boxes (fractions) of a part (a pixel rectangle) of a picture, that part turned
    `turn` quarters counter-clockwise."""

    rect: tuple[int, int, int, int]  # (left, top, right, bottom), pixels
    boxes: list[Box]
    turn: int = 0


def _edges(lows: np.ndarray, highs: np.ndarray, size: int, mirrored: bool) -> np.ndarray:
    """The cells' edges along one side of `size` pixels, rounded as when the part is cut
    out alone and, when `mirrored`, read from the other end (as a turn does)."""
    steps = np.linspace(0.0, 1.0, SIDE + 1)
    fractions = lows + (highs - lows) * steps
    if mirrored:
        return size - np.rint((1 - fractions) * size).astype(np.int32)
    return np.rint(fractions * size).astype(np.int32)


def _part_means(picture: np.ndarray, integral: np.ndarray, part: Part) -> np.ndarray:
    """Cell means of a part's boxes from the picture's integral image: the cells' edges
    rounded within the part (then moved by its corner), and for a turned part from the
    ends a turn brings first, so the cells are exactly those of the part cut out, turned
    and reduced alone (the stored hashes are taken that way)."""
    left, top, right, bottom = part.rect
    w, h = right - left, bottom - top
    width = picture.shape[1]
    total = integral.ravel()  # (height + 1) x (width + 1) sums, int32
    b = np.asarray(part.boxes, np.float64).reshape(-1, 4)
    turn = part.turn % 4
    xs = _edges(b[:, :1], b[:, 2:3], w, mirrored=turn in (1, 2))
    ys = _edges(b[:, 1:2], b[:, 3:4], h, mirrored=turn in (2, 3))
    xs, ys = np.clip(xs, 0, w) + left, np.clip(ys, 0, h) + top
    corners = np.take(total, ys[:, :, None] * (width + 1) + xs[:, None, :])
    sums = corners[:, 1:, 1:] - corners[:, :-1, 1:] - corners[:, 1:, :-1] + corners[:, :-1, :-1]
    areas = np.diff(ys)[:, :, None] * np.diff(xs)[:, None, :]
    means = sums.astype(np.float32) / np.maximum(areas, 1).astype(np.float32)
    return np.rot90(means, turn, axes=(1, 2)) if turn else means


def means_of(gray: np.ndarray, parts: list[Part]) -> np.ndarray:
    """`means` of each part of `gray` cut out (and turned) with its boxes, in order; the
    parts share one integral image, except a tiny one (`means` enlarges it first)."""
    integral = None
    found = []
    for part in parts:
        left, top, right, bottom = part.rect
        if min(right - left, bottom - top) < 2 * SIDE:
            cut = np.ascontiguousarray(np.rot90(gray[top:bottom, left:right], part.turn))
            found.append(means(cut, part.boxes))
            continue
        if integral is None:
            integral = cv2.integral(gray)
        found.append(_part_means(gray, integral, part))
    return np.concatenate(found)


def phashes(cells: np.ndarray) -> list[int | None]:
    """The 64-bit DCT hash of each 32x32 reduction (signed, as Postgres' bigint); None
    when it is flat."""
    if not len(cells):
        return []
    low = (_BASIS @ cells @ _BASIS.T).reshape(len(cells), 64)
    bits = low > np.median(low[:, 1:], axis=1, keepdims=True)
    values = np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)
    flat = cells.reshape(len(cells), -1).std(axis=1) < MIN_SPREAD
    return [None if f else int(v.astype(np.int64)) for v, f in zip(values, flat, strict=True)]
