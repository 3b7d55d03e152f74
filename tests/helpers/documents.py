"""Photos of printed documents, as a phone would send them, for the OCR tests."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont


def receipt(*lines: str, size: int = 34) -> bytes:
    """A photo of a printed document, as a phone would send it (JPEG)."""
    import matplotlib

    font_path = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    font = ImageFont.truetype(str(font_path), size)
    width = max(int(font.getlength(line)) for line in lines) + 120
    img = Image.new("RGB", (width, 80 + len(lines) * (size + 22)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((60, 40 + i * (size + 22)), line, fill="black", font=font)
    img = img.rotate(2, expand=True, fillcolor=(120, 120, 120))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=70)
    return out.getvalue()


PADARIA = receipt(
    "PADARIA SÃO JOÃO LTDA", "CUPOM FISCAL", "Pão francês  R$ 8,50", "TOTAL R$ 34,89", "12/03/2025"
)
