"""Text in photos (OCR), on this machine: speed, memory, and the reply to a photo sent alone.

Photos of documents as phones send them: each page of the OCR dev set
(`tests/data/ocr/`, made by `tests/data/make_ocr_set.py`) photographed on a desk, a
4000x3000 JPEG (12 MP), which the reader reduces to OCR_MAX_SIDE (1280) before reading.

1. **Reading**, in a fresh process per engine thread count (1 = one core, 2 = both):
   images read per second, per-image p50/p95, and the memory the models and a read add to
   the process (peak RSS after reading minus RSS before the models were loaded).
2. **Replies**, through `Assistant.handle` (what the worker runs for a WhatsApp message) on
   an embedded PostgreSQL: a photo sent alone (stored, thumbnailed, read within
   OCR_TIME_BUDGET_SECONDS, described, saved), p50/p95 and the first one (models loaded on
   first use); and a text-only search message, with the reader on and with TEXT_READER=none,
   to show that text replies do not pay for OCR. (The webhook's ack never reads photos:
   it only queues; see `make bench`.)

    .venv/bin/python benchmarks/ocr.py [--images 20]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

from measure import ROOT, percentile, reset_peak, rss_kb  # benchmarks/measure.py

PAGES = sorted((ROOT / "tests" / "data" / "ocr").glob("*.jpg"))


def phone_photo(page: Path) -> bytes:
    """A 12 MP JPEG of the page lying on a desk, filling about two thirds of the frame."""
    from PIL import Image

    doc = Image.open(page).convert("RGB")
    scale = min(2600 / doc.width, 2000 / doc.height)
    doc = doc.resize((int(doc.width * scale), int(doc.height * scale)), Image.Resampling.BICUBIC)
    desk = Image.new("RGB", (4000, 3000), (116, 92, 70))
    desk.paste(doc, ((4000 - doc.width) // 2, (3000 - doc.height) // 2))
    out = io.BytesIO()
    desk.save(out, format="JPEG", quality=85)
    return out.getvalue()


def read_child(threads: int, count: int) -> dict[str, float]:
    """Runs in a fresh process: load the models, read `count` phone photos."""
    from assistant.search.photo_text import RapidTextReader

    photos = [phone_photo(p) for p in PAGES[:count]]
    before = rss_kb("VmRSS")
    reset_peak()  # the peak from here on
    reader = RapidTextReader(max_side=1280, threads=threads)
    started = time.perf_counter()
    reader.read(photos[0])  # loads the models
    first = time.perf_counter() - started
    times, lines = [], 0
    for data in photos:
        t = time.perf_counter()
        lines += len(reader.read(data).lines)
        times.append(time.perf_counter() - t)
    return {
        "threads": threads,
        "images": len(photos),
        "first_s": round(first, 2),
        "per_s": round(len(times) / sum(times), 2),
        "p50_s": round(percentile(times, 0.5), 2),
        "p95_s": round(percentile(times, 0.95), 2),
        "lines": lines,
        "added_mb": round((rss_kb("VmHWM") - before) / 1024, 1),
    }


def replies(count: int) -> None:
    from assistant.models import InboundMedia, InboundMessage
    from assistant.ops.sandbox import Sandbox

    photos = [phone_photo(p) for p in PAGES[:count]]
    with Sandbox() as sandbox:
        for reader in ("auto", "none"):
            services = sandbox.fresh(TEXT_READER=reader)
            owner = "+5511900000001"
            alone, described = [], 0
            if reader == "auto":
                for i, data in enumerate(photos):
                    message = InboundMessage(sender=owner, text="", media=[InboundMedia(data=data)])
                    t = time.perf_counter()
                    out = services.assistant.handle(message)
                    alone.append(time.perf_counter() - t)
                    described += any("📄" in r.text for r in out)
                    # A description for a photo that got the question, so the next is alone.
                    if not any("📄" in r.text for r in out):
                        services.assistant.handle(InboundMessage(sender=owner, text=f"doc {i}"))
            texts = []
            for i in range(30):
                t = time.perf_counter()
                services.assistant.handle(
                    InboundMessage(sender=owner, text=f"mostre o recibo da padaria {i}")
                )
                texts.append(time.perf_counter() - t)
            if alone:
                rest = alone[1:]
                print(
                    f"photo sent alone ({len(alone)}, {described} described from their text):"
                    f" first {alone[0]:.2f} s (models load), then p50 {percentile(rest, 0.5):.2f} s"
                    f" p95 {percentile(rest, 0.95):.2f} s max {max(rest):.2f} s"
                )
            print(
                f"text-only search reply, TEXT_READER={reader}:"
                f" p50 {percentile(texts, 0.5) * 1000:.1f} ms"
                f" p95 {percentile(texts, 0.95) * 1000:.1f} ms"
            )
            services.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(read_child(args.child, args.images)))
        return
    print(f"{len(PAGES)} dev pages; {args.images} phone photos (4000x3000) each case")
    for threads in (1, 2):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(threads), "--images", str(args.images)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"read at 1280 px, {r['threads']} thread(s): {r['per_s']:.2f} images/s"
            f" (p50 {r['p50_s']:.2f} s, p95 {r['p95_s']:.2f} s; first with model load"
            f" {r['first_s']:.2f} s), {r['lines']} lines; memory added {r['added_mb']:.0f} MB"
        )
    replies(args.images)


if __name__ == "__main__":
    main()
