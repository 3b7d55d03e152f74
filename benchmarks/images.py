"""Memory and time of what happens to an image on arrival: inspection, thumbnail, hash.

Each case runs in a fresh Python process (peak RSS is per process) and prints the memory
it added over the process after imports, and how long it took:

- a decompression bomb: a 10950x10950 PNG of a few hundred KB (refused from its header);
- a legitimate 12-megapixel phone JPEG (4000x3000), inspected, thumbnailed and hashed.

    .venv/bin/python benchmarks/images.py
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

from measure import phone_jpeg, reset_peak, rss_kb  # benchmarks/measure.py

ROOT = Path(__file__).resolve().parent.parent


def bomb() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10950, 10950), (255, 255, 255)).save(out, format="PNG")
    return out.getvalue()


def measure(case: str, path: str) -> dict[str, float | str]:
    """Runs inside the child process."""
    sys.path.insert(0, str(ROOT))
    from assistant.media import MediaRejected, derive, inspect_image

    data = Path(path).read_bytes()
    before = rss_kb("VmRSS")
    # Reset the peak (VmHWM) to the current size: only what the work adds is measured.
    reset_peak()
    started = time.perf_counter()
    outcome = "stored"
    try:
        inspect_image(data, 5 * 2**20, 50_000_000)
        derive(data, 320)
    except MediaRejected as exc:
        outcome = f"refused ({exc.reason})"
    elapsed = time.perf_counter() - started
    peak = rss_kb("VmHWM")
    return {
        "case": case,
        "bytes": len(data),
        "outcome": outcome,
        "ms": round(elapsed * 1000, 1),
        "added_mb": round((peak - before) / 1024, 1),
    }


def main() -> None:
    if len(sys.argv) == 3:
        print(json.dumps(measure(sys.argv[1], sys.argv[2])))
        return
    workdir = Path(sys.argv[1]) if len(sys.argv) == 2 else Path("/tmp")
    cases = {"bomb PNG 10950x10950": bomb(), "phone JPEG 4000x3000": phone_jpeg()}
    for name, data in cases.items():
        path = workdir / f"bench-{abs(hash(name))}.img"
        path.write_bytes(data)
        out = subprocess.run(
            [sys.executable, __file__, name, str(path)], capture_output=True, text=True, check=True
        )
        path.unlink()
        r = json.loads(out.stdout)
        print(
            f"{r['case']:<24} {r['bytes'] / 1024:8.0f} KB  {r['outcome']:<28}"
            f" {r['ms']:8.1f} ms  peak RSS added {r['added_mb']:6.1f} MB"
        )


if __name__ == "__main__":
    main()
