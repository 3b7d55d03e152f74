"""What happens to a photo between two sends, reproducibly: resized, recompressed,
cropped, rotated, brightened, or shown in a phone screenshot. The similar-photos dev set
(`tests/data/make_similar_set.py`) lists transforms by name and parameters; the
evaluation (`assistant/ops/evaluate_similar.py`) applies them, so the committed set holds
only the originals."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance


def _rgb(img: Image.Image) -> Image.Image:
    return img.convert("RGB")


def resize(img: Image.Image, factor: float) -> Image.Image:
    w, h = img.size
    size = (max(16, round(w * factor)), max(16, round(h * factor)))
    return _rgb(img).resize(size, Image.Resampling.LANCZOS)


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    _rgb(img).save(out, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def crop(img: Image.Image, cut_x: float, cut_y: float, left: float, top: float) -> Image.Image:
    """Cut `cut_x` of the width and `cut_y` of the height; `left`/`top` (0-1): how much of
    each cut comes off the left and top edges (the rest off the right and bottom)."""
    w, h = img.size
    dx, dy = w * cut_x, h * cut_y
    x0, y0 = dx * left, dy * top
    return _rgb(img).crop((round(x0), round(y0), round(x0 + w - dx), round(y0 + h - dy)))


def rotate(img: Image.Image, degrees: float) -> Image.Image:
    """Quarter turns exactly; other angles on black, the whole picture kept."""
    if degrees % 90 == 0:
        return _rgb(img).rotate(degrees, expand=True)
    return _rgb(img).rotate(
        degrees, expand=True, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0)
    )


def brightness(img: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(_rgb(img)).enhance(factor)


def screenshot(img: Image.Image, dark: bool, width: int = 540, height: int = 1170) -> Image.Image:
    """The photo as a phone shows it: a status bar with the time and battery, the photo
    across the screen's width on a black or white background, navigation buttons below."""
    back, ink = ((0, 0, 0), (235, 235, 235)) if dark else ((255, 255, 255), (20, 20, 20))
    bar = (24, 24, 24) if dark else (242, 242, 242)
    screen = Image.new("RGB", (width, height), back)
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, width, 44), fill=bar)
    draw.text((14, 14), "12:34", fill=ink)
    draw.text((width - 70, 14), "4G 87%", fill=ink)
    draw.text((14, 62), "< Foto", fill=ink)
    draw.rectangle((0, height - 64, width, height), fill=bar)
    for x in (width // 4, width // 2, 3 * width // 4):
        draw.ellipse((x - 9, height - 41, x + 9, height - 23), outline=ink, width=2)
    photo = _rgb(img)
    scale = min(width / photo.width, (height - 240) / photo.height)
    photo = photo.resize(
        (round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS
    )
    screen.paste(photo, ((width - photo.width) // 2, (height - photo.height) // 2))
    return screen


TRANSFORMS: dict[str, Callable[..., Image.Image]] = {
    "resize": resize,
    "jpeg": jpeg,
    "crop": crop,
    "rotate": rotate,
    "brightness": brightness,
    "screenshot": screenshot,
}


def apply(img: Image.Image, steps: list[list[Any]]) -> bytes:
    """The transforms `[[name, {params}], ...]` in order, saved as a JPEG at quality 90
    unless the last step is a recompression (then at its quality, once)."""
    quality = 90
    if steps and steps[-1][0] == "jpeg":
        quality = int(steps[-1][1]["quality"])
        steps = steps[:-1]
    for name, params in steps:
        img = TRANSFORMS[name](img, **params)
    out = io.BytesIO()
    _rgb(img).save(out, format="JPEG", quality=quality)
    return out.getvalue()
