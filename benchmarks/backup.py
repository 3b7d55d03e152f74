"""Backup, verify and restore at 100,000 entries.

    .venv/bin/python benchmarks/backup.py                  # 100k entries
    .venv/bin/python benchmarks/backup.py --size 20000 --object-kb 64

Loads the search benchmark's data (`search_scale.load`: realistic descriptions over 1,000
users, one image row each, vectors and latent terms), writes one media object per image
into the local store (random bytes, as incompressible as a JPEG; `--object-kb` on
average, default 16 KB: real photos are ~10x larger, so the object part scales with
bytes, reported as MB/s), then times `backup`, `verify` and `restore` into a fresh
database and an empty data directory, and prints seconds and the archive's size.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure  # noqa: F401  (benchmarks/measure.py: the project root importable)
from search_scale import load

from assistant.ops.backup import backup
from assistant.ops.restore import restore, verify
from assistant.ops.sandbox import Sandbox


def write_objects(services, kb: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """One object per image row, under its key, 0.5x to 1.5x `kb` each."""
    rng = random.Random(1)
    keys = [r["storage_key"] for r in services.db.fetchall("SELECT storage_key FROM images")]
    total = 0
    for key in keys:
        path = services.settings.media_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(rng.randint(kb * 512, kb * 1536))
        path.write_bytes(data)
        total += len(data)
    return len(keys), total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--object-kb", type=int, default=16)
    args = parser.parse_args()
    with Sandbox() as sandbox:
        services = sandbox.fresh()
        try:
            started = time.perf_counter()
            pool = np.random.default_rng(0).normal(size=(64, 384)).astype(np.float32)
            # Two users with 50,000 entries each (as the dashboard's benchmark) at 100k.
            load(services, args.size, 2 if args.size >= 100_000 else 0, pool)
            objects, total = write_objects(services, args.object_kb)
            entries = services.db.scalar("SELECT count(*) FROM descriptions")
            print(
                f"{entries:,} entries, {objects:,} objects ({total / 1e6:,.0f} MB) loaded in"
                f" {time.perf_counter() - started:.0f} s"
            )
            out = sandbox.root / "backup.tar"
            t0 = time.perf_counter()
            manifest = backup(services.settings, out)
            took = time.perf_counter() - t0
            size = out.stat().st_size
            print(
                f"backup : {took:6.1f} s  archive {size / 1e6:,.0f} MB (dump"
                f" {manifest.database.size / 1e6:,.0f} MB, {sum(manifest.tables.values()):,}"
                f" rows), {size / 1e6 / took:,.0f} MB/s"
            )
            t0 = time.perf_counter()
            checked = verify(out)
            took = time.perf_counter() - t0
            assert checked.ok, checked.problems
            print(
                f"verify : {took:6.1f} s  {checked.objects:,} objects,"
                f" {size / 1e6 / took:,.0f} MB/s"
            )
            target = sandbox.settings()
            t0 = time.perf_counter()
            restored = restore(target, out)
            took = time.perf_counter() - t0
            assert restored.ok, restored.problems
            print(
                f"restore: {took:6.1f} s  (verify first, pg_restore, objects, read back and"
                f" count), {restored.objects:,} objects"
            )
        finally:
            services.close()


if __name__ == "__main__":
    main()
