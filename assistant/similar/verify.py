"""Whether a candidate is the same photo as the query: ORB features (OpenCV) matched
between the two, a similarity transform (rotation, scale, shift: what resizing, cropping,
turning and screenshotting do) fitted to them by RANSAC, and then the pictures themselves
compared where the matches say they overlap: the query is warped onto the candidate and
their edges (gradient magnitudes) correlated.

The last step is what keeps look-alikes apart: two Wi-Fi cards printed from one template,
or two plots with the same axes, share dozens of consistent features (measured on the dev
set: up to 20 inliers), but their edges correlate at most 0.43 once aligned, against
0.76-0.95 for a copy; and a picture with one part changed (a plot with a shape cut out)
differs sharply in that part. Pictures with too little texture for features (a flat
logo) are compared as small pictures instead, and only when their hashes nearly agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from assistant.media.inspect import reduced

FEATURES = 500  # per picture: ~4 ms to detect on a 640 px query
QUERY_SIDE = 640  # the query is read larger than thumbnails: a screenshot's photo is small
RATIO = 0.8  # Lowe's ratio test: a match must be clearly better than the second best
REPROJECTION_PX = 4.0
MIN_INLIERS = 8
MIN_EDGE_CORRELATION = 0.6
# The largest local brightness difference once aligned (16x16 patch mean, in standard
# deviations): a copy reaches 1.1 on the dev set (a brightened photo whose highlights
# clipped), sympy's "xor" plot against its "or" plot (the same but a lens cut out) 1.8.
MAX_PATCH_DIFFERENCE = 1.4
MIN_OVERLAP = 0.1  # of the candidate's area: covered by the query, once aligned
TEXTURE_STD = 2.0  # a query pixel whose 7x7 neighbourhood varies less is flat (a bar)
FEW_FEATURES = 20  # below this on either side, features decide nothing
FLAT_BITS = 4  # featureless pictures: hashes this close, then the pixels decide
MIN_PIXEL_CORRELATION = 0.95

cv2.setNumThreads(1)  # one core per query: the other serves the other users
_ORB = cv2.ORB_create(nfeatures=FEATURES)  # type: ignore[attr-defined]
_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


@dataclass
class Features:
    gray: np.ndarray
    points: np.ndarray  # (n, 2) float32
    descriptors: Any  # (n, 32) uint8, or None

    @classmethod
    def of_gray(cls, gray: np.ndarray) -> Features:
        keypoints, descriptors = _ORB.detectAndCompute(gray, None)
        points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
        return cls(gray, points, descriptors)

    @classmethod
    def of_thumbnail(cls, thumbnail: bytes) -> Features:
        gray = cv2.imdecode(np.frombuffer(thumbnail, np.uint8), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise ValueError("not an image")
        return cls.of_gray(gray)

    @classmethod
    def of_photo(cls, data: bytes) -> Features:
        """A query photo, decoded at reduced size (`reduced`: never the full image)."""
        return cls.of_gray(np.asarray(reduced(data, QUERY_SIDE).convert("L")))

    @property
    def count(self) -> int:
        return 0 if self.descriptors is None else len(self.descriptors)


@dataclass(frozen=True)
class Verdict:
    same: bool
    score: float  # the edges' correlation once aligned, or the pixels' (flat pictures)
    method: str
    inliers: int = 0
    worst_patch: float = 0.0  # the largest local brightness difference once aligned

    def __bool__(self) -> bool:
        return self.same


# Where a hash match says the two pictures overlap: the query's part (fractions of it),
# turned that many quarters counter-clockwise, is the stored picture's part.
Geometry = tuple[tuple[float, float, float, float], int, tuple[float, float, float, float]]


def same_photo(
    query: Features, stored: Features, hash_bits: int = 64, geometry: Geometry | None = None
) -> Verdict:
    """Whether `stored` is the same photo as `query` (in any of the transforms above).

    Features decide when both pictures have enough. Otherwise (a flat logo, a drawing),
    the matching hashes' `geometry` aligns them and the same comparison of edges and
    patches decides; without one, only a near-identical hash and near-identical small
    pictures do."""
    if min(query.count, stored.count) >= FEW_FEATURES:
        # Features decide alone: aligning a page of text by a hash match instead let a
        # receipt pass for another receipt of the same shop's layout.
        return _by_features(query, stored)
    verdict = Verdict(False, 0.0, "features")
    if geometry is not None:
        model = _geometry_model(query.gray.shape, stored.gray.shape, *geometry)
        edges, worst = _agreement(query, stored.gray, model)
        same = edges >= MIN_EDGE_CORRELATION and worst <= MAX_PATCH_DIFFERENCE
        return Verdict(same, round(edges, 3), "geometry", verdict.inliers, round(worst, 3))
    if hash_bits > FLAT_BITS:
        return verdict
    correlation = _correlation(query.gray, stored.gray)
    return Verdict(correlation >= MIN_PIXEL_CORRELATION, round(correlation, 3), "pixels")


def _geometry_model(
    query_shape: tuple[int, ...],
    stored_shape: tuple[int, ...],
    query_box: tuple[float, float, float, float],
    turn: int,
    stored_box: tuple[float, float, float, float],
) -> np.ndarray:
    """The 2x3 map from query pixels to stored pixels that a hash match implies."""
    qh, qw = query_shape[:2]
    sh, sw = stored_shape[:2]
    left, top, right, bottom = query_box
    into_box = np.array(
        [
            [1 / ((right - left) * qw), 0, -left / (right - left)],
            [0, 1 / ((bottom - top) * qh), -top / (bottom - top)],
            [0, 0, 1],
        ]
    )
    # np.rot90 k times: (x, y) -> (y, 1 - x) once.
    turns = {
        0: [[1, 0, 0], [0, 1, 0]],
        1: [[0, 1, 0], [-1, 0, 1]],
        2: [[-1, 0, 1], [0, -1, 1]],
        3: [[0, -1, 1], [1, 0, 0]],
    }
    turned = np.vstack([np.array(turns[turn % 4], float), [0, 0, 1]])
    s_left, s_top, s_right, s_bottom = stored_box
    onto = np.array(
        [[(s_right - s_left) * sw, 0, s_left * sw], [0, (s_bottom - s_top) * sh, s_top * sh]]
    )
    return (onto @ turned @ into_box).astype(np.float32)


def _by_features(query: Features, stored: Features) -> Verdict:
    pairs = _MATCHER.knnMatch(query.descriptors, stored.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return Verdict(False, 0.0, "features", len(good))
    src = query.points[[m.queryIdx for m in good]]
    dst = stored.points[[m.trainIdx for m in good]]
    model, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION_PX
    )
    if model is None or mask is None:
        return Verdict(False, 0.0, "features")
    inliers = int(mask.sum())
    scale = float(np.hypot(model[0, 0], model[1, 0]))
    if inliers < MIN_INLIERS or not 0.05 < scale < 20:
        return Verdict(False, 0.0, "features", inliers)
    edges, worst = _agreement(query, stored.gray, model)
    same = edges >= MIN_EDGE_CORRELATION and worst <= MAX_PATCH_DIFFERENCE
    return Verdict(same, round(edges, 3), "features", inliers, round(worst, 3))


def _gradient(gray: np.ndarray) -> np.ndarray:
    return np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))


def _agreement(query: Features, stored: np.ndarray, model: np.ndarray) -> tuple[float, float]:
    """(edges, worst patch) of the two pictures where they overlap, the query warped onto
    the stored picture. `edges`: the correlation of their gradient magnitudes, both
    blurred alike. `worst patch`: the largest mean difference of their brightness
    (each normalised) in a 16x16 patch: an edited part (a shape removed, a text changed)
    shows there even when everything else agrees. Large flat areas of the query are left
    out: a screenshot's bars cover what its crop cut off, and say nothing either way."""
    height, width = stored.shape
    gray = query.gray.astype(np.float32)
    mean = cv2.blur(gray, (7, 7))
    textured = ((cv2.blur(gray * gray, (7, 7)) - mean * mean) > TEXTURE_STD**2).astype(np.uint8)
    near = cv2.dilate(textured, np.ones((31, 31), np.uint8))
    warped = cv2.warpAffine(gray, model, (width, height), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(near, model, (width, height), flags=cv2.INTER_NEAREST)
    area = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    if area.sum() < MIN_OVERLAP * height * width:
        return 0.0, float("inf")
    ours = cv2.GaussianBlur(warped, (0, 0), 1.0)
    theirs = cv2.GaussianBlur(stored.astype(np.float32), (0, 0), 1.0)
    a, b = _gradient(ours)[area], _gradient(theirs)[area]
    a = (a - a.mean()) / (a.std() + 1e-6)
    b = (b - b.mean()) / (b.std() + 1e-6)
    edges = float((a * b).mean())
    x, y = cv2.GaussianBlur(ours, (0, 0), 2.0), cv2.GaussianBlur(theirs, (0, 0), 2.0)
    x = (x - x[area].mean()) / (x[area].std() + 1e-6)
    y = (y - y[area].mean()) / (y[area].std() + 1e-6)
    difference = np.where(area, np.abs(x - y), 0).astype(np.float32)
    patch = (16, 16)
    covered = cv2.blur(area.astype(np.float32), patch)
    patches = cv2.blur(difference, patch) / np.maximum(covered, 1e-6)
    worst = float(patches[covered > 0.9].max()) if (covered > 0.9).any() else 0.0
    return edges, worst


def _correlation(a: np.ndarray, b: np.ndarray, side: int = 32) -> float:
    """Pearson correlation of the two pictures at `side` pixels (best of the quarter
    turns: a turned copy of a flat logo is still that logo)."""
    small_a = cv2.resize(a, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    best = -1.0
    for turns in range(4):
        turned = np.ascontiguousarray(np.rot90(b, turns))
        small_b = cv2.resize(turned, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
        x, y = small_a - small_a.mean(), small_b - small_b.mean()
        denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
        if denominator > 0:
            best = max(best, float((x * y).sum()) / denominator)
    return best
