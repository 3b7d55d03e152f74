"""What the benchmark scripts share: the project's root on the import path, percentiles,
the process's memory, a phone photo."""

from __future__ import annotations

import io
import sys
from pathlib import Path

# The project's root, importable: the benchmarks use the tests' fakes and helpers
# (`tests.*`), which the installed package does not carry. Importing this module is
# enough (the scripts are run as `python benchmarks/x.py`).
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_kb(field: str = "VmRSS") -> int:
    """A memory figure of this process from /proc (VmRSS now, VmHWM the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak() -> None:
    """Make the peak (VmHWM) the current size, so a later peak is only what follows."""
    Path("/proc/self/clear_refs").write_text("5")


def phone_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A photo-like JPEG: diagonal lines give it the detail (and size) of a real photo."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (90, 140, 200))
    draw = ImageDraw.Draw(img)
    for i in range(0, width, 37):
        draw.line([(i, 0), (width - i, height)], fill=(i % 255, 80, 160), width=3)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()
