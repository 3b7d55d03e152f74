"""Hostile media: what each payload of the audit (issue #23) costs, and whether one user's
heavy media slows another user's text reply.

Part 1, one fresh Python process per payload: the memory the payload's work adds to the
process's peak (after the engines are loaded and warmed on a normal input) and its time.
The work is what a message does with it: images are inspected, thumbnailed and hashed,
and read for text at OCR size (a photo sent alone); audio is checked and decoded for the
local Whisper (the model itself is not run: its cost is per second of audio, bounded by
MAX_AUDIO_SECONDS, see benchmarks/speech.py).

Part 2, one process like `make run`'s (an embedded database, two worker threads with the
default WORKER_MEDIA_THREADS=1, OCR on): users send "ajuda" every 0.5 s and we time each
reply (webhook row to answered row), first alone, then while 4 numbers each send messages
of three 7070² RGBA PNGs (the most expensive payload that is processed, not refused) and
a 600 s voice note.

    .venv/bin/python benchmarks/hostile_media.py [--part 1|2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from measure import percentile, phone_jpeg, reset_peak, rss_kb  # benchmarks/measure.py


def progressive_jpeg() -> bytes:
    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(1).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).resize((6_000, 6_000)).save(
        out, format="JPEG", quality=20, progressive=True, subsampling=0
    )
    return out.getvalue()


def screenshot_png() -> bytes:
    """A long phone screenshot (1170x5000, 5.9 MP): large enough to be streamed."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1170, 5000), (250, 250, 250))
    draw = ImageDraw.Draw(img)
    for y in range(0, 5000, 90):
        draw.rectangle([(40, y), (1130, y + 50)], fill=(220, 235, 255))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def payloads() -> dict[str, tuple[str, bytes]]:
    from tests.helpers import hostile

    return {
        "audio: FLAC in Ogg at 10 Hz (1 frame of 65,535)": ("audio", hostile.flac_in_ogg(10)),
        "audio: FLAC in Ogg at 1 Hz": ("audio", hostile.flac_in_ogg(1)),
        "audio: Opus voice note of 600 s": ("audio", hostile.opus_in_ogg(600)),
        "audio: Opus voice note of 60 s (normal)": ("audio", hostile.opus_in_ogg(60)),
        "image: PNG 1x40,000,000": ("image", hostile.tall_png()),
        "image: PNG 49,999,999x1": ("image", hostile.wide_png()),
        "image: RGBA PNG 7070x7070": ("image", hostile.big_rgba_png()),
        "image: lossless WebP 7000x7000": ("image", hostile.big_webp()),
        "image: progressive JPEG 6000x6000 4:4:4": ("image", progressive_jpeg()),
        "image: phone JPEG 4000x3000 (normal)": ("image", phone_jpeg()),
        "image: square JPEG 3000x3000 (normal)": ("image", phone_jpeg(3000, 3000)),
    }


def child(kind: str, path: str) -> dict[str, object]:
    """Runs inside a fresh process: warm the engines, then measure one payload."""
    from assistant.errors import MediaRejected
    from assistant.media import derive, inspect_image
    from assistant.search.photo_text import RapidTextReader
    from assistant.speech import UnsupportedAudio, probe
    from assistant.speech.audio import decode
    from tests.helpers.hostile import opus_in_ogg

    # Warmed the way a running server is: a phone photo and a large PNG screenshot (which
    # takes the streamed libvips path) were already saved and read, so the engines and
    # libraries are loaded and what is measured is what this payload adds.
    reader = RapidTextReader(max_side=1280)
    for warm in (phone_jpeg(), screenshot_png()):
        derive(warm, 320)
        reader.read(warm)
    note = opus_in_ogg(2)
    decode(note, 300)
    data = Path(path).read_bytes()
    before = rss_kb("VmRSS")
    reset_peak()
    started = time.perf_counter()
    outcome = "processed"
    try:
        if kind == "image":
            inspect_image(data, 5 * 2**20, 50_000_000)
            derive(data, 320)
            reader.read(data)
        else:
            probe(data, 300)
            decode(data, 300)
    except (MediaRejected, UnsupportedAudio) as exc:
        outcome = f"refused ({type(exc).__name__}: {exc})"[:60]
    seconds = time.perf_counter() - started
    return {
        "outcome": outcome,
        "added_mb": (rss_kb("VmHWM") - before) / 1024,
        "seconds": seconds,
        "bytes": len(data),
    }


def part1() -> None:
    print("Part 1: each payload in a fresh process (added peak RSS, time)")
    print(f"{'payload':48} {'bytes':>9} {'added MB':>9} {'s':>6}  outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kind, data) in payloads().items():
            path = Path(tmp) / "payload"
            path.write_bytes(data)
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(path)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{name:48} {r['bytes']:>9,} {r['added_mb']:>9.0f} {r['seconds']:>6.2f}"
                f"  {r['outcome']}"
            )


def part2(seconds: float) -> None:
    from assistant.models import InboundMedia, InboundMessage
    from assistant.ops.sandbox import Sandbox
    from assistant.worker import WorkerPool
    from tests.helpers import hostile

    heavy = {
        f"https://api.twilio.com/png/{i}": hostile.big_rgba_png() + bytes([i]) for i in range(60)
    }
    heavy["https://api.twilio.com/note"] = hostile.opus_in_ogg(600)

    def fetch(_channel: str, item: InboundMedia) -> tuple[bytes, str | None]:
        url = item.url or ""
        data = heavy[url]
        return data, "audio/ogg" if url.endswith("note") else None

    sids = iter(range(1, 10**6))

    with Sandbox() as box:
        services = box.fresh(WORKER_THREADS=2)
        services.assistant.fetch_media = fetch
        pool = WorkerPool(services, threads=2).start()

        def ping(owner: str) -> float:
            sid = f"SM{next(sids):032d}"
            started = time.perf_counter()
            services.inbox.enqueue(
                owner, InboundMessage(sender=owner, text="ajuda", message_id=sid), None
            )
            while services.db.scalar(
                "SELECT status FROM inbox WHERE message_sid = %s", (sid,)
            ) not in ("done", "throttled", "dead"):
                time.sleep(0.01)
            return time.perf_counter() - started

        def pings(duration: float) -> list[float]:
            """Every 0.5 s a text from one of 10 users in turn (each stays well under
            RATE_LIMIT_PER_MINUTE)."""
            times: list[float] = []
            end = time.monotonic() + duration
            while time.monotonic() < end:
                times.append(ping(f"+55110000001{len(times) % 10:02d}"))
                time.sleep(0.5)
            return times

        ping("+5511000000199")  # warm-up: brain, memory
        # ... and a normal photo saved and read, so the OCR engine is loaded, as in a
        # server that has been running: the peak below is what the storm adds.
        heavy["https://api.twilio.com/warm"] = phone_jpeg()
        warm = InboundMedia(url="https://api.twilio.com/warm", content_type="image/jpeg")
        services.inbox.enqueue(
            "+5511000000199",
            InboundMessage(sender="+5511000000199", media=[warm], message_id="SMwarm"),
            None,
        )
        while services.db.scalar("SELECT status FROM inbox WHERE message_sid = 'SMwarm'") != "done":
            time.sleep(0.05)
        alone = pings(seconds / 2)

        attackers = [f"+55110000000{i:02d}" for i in range(4)]
        urls = iter([u for u in heavy if "png" in u])
        for round_ in range(5):
            for owner in attackers:
                if round_ == 0:
                    media = [InboundMedia(url="https://api.twilio.com/note")]
                else:
                    media = [
                        InboundMedia(url=next(urls), content_type="image/png") for _ in range(3)
                    ]
                services.inbox.enqueue(
                    owner,
                    InboundMessage(sender=owner, media=media, message_id=f"SM{next(sids):032d}"),
                    None,
                )
        reset_peak()
        before = rss_kb("VmRSS")
        peak_mb: list[float] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.2):
                peak_mb.append((rss_kb("VmHWM") - before) / 1024)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        loaded = pings(seconds)
        stop.set()
        heavy_done = services.db.scalar(
            "SELECT count(*) FROM inbox WHERE owner = ANY(%s) AND status = 'done'", (attackers,)
        )
        pool.stop()
        services.close()

    def line(label: str, values: list[float]) -> str:
        return (
            f"{label:34} n={len(values):3d}  p50 {statistics.median(values) * 1000:6.0f} ms"
            f"  p95 {percentile(values, 0.95) * 1000:6.0f} ms  max {max(values) * 1000:6.0f} ms"
        )

    print("Part 2: another user's text reply (enqueue to answered)")
    print(line("alone", alone))
    print(line("while 4 numbers send heavy media", loaded))
    print(
        f"heavy messages answered meanwhile: {heavy_done} of 20;"
        f" process peak added {max(peak_mb or [0]):.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["1", "2", "all"], default="all")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.part in ("1", "all"):
        part1()
    if args.part in ("2", "all"):
        part2(args.seconds)


if __name__ == "__main__":
    main()
