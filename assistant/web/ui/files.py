"""The media store's images as local files, which is what Gradio serves.

Gradio serves files from its own cache; ours only bridges the media store to it. Both
are emptied: Gradio's by `delete_cache`, ours by age here and wholly at exit.
"""

from __future__ import annotations

import atexit
import mimetypes
import shutil
import tempfile
import time
from pathlib import Path

from assistant.factory import Services

CACHE_SECONDS = 3600
_CACHE = Path(tempfile.mkdtemp(prefix="assistant-ui-"))
atexit.register(shutil.rmtree, _CACHE, True)
_last_prune = 0.0


def _prune_cache(now: float) -> None:
    global _last_prune
    if now - _last_prune < 60:
        return
    _last_prune = now
    for path in _CACHE.iterdir():
        try:
            if now - path.stat().st_mtime > CACHE_SECONDS:
                path.unlink()
        except OSError:
            continue


def reply_file(services: Services, key: str, content_type: str) -> str:
    """A local file for an image (whatever the store), for Gradio to serve."""
    now = time.time()
    _prune_cache(now)
    ext = mimetypes.guess_extension(content_type) or ".bin"
    path = _CACHE / (key.replace("/", "_") + ("" if key.endswith(ext) else ext))
    if path.exists():
        path.touch()
    else:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(services.store.get(key))
        tmp.replace(path)
    return str(path)
