"""Per-message latency of the model brain on llama.cpp's llama-server, on this CPU.

    .venv/bin/python benchmarks/llama_brain.py              # 5 rounds, both templates
    .venv/bin/python benchmarks/llama_brain.py --rounds 10 --max-tokens 200

Builds (once) and starts llama-server with Gemma 3 270M Q4_K_M (scripts/llama_server.py,
2 threads), points the assistant at it as any user would (OPENAI_BASE_URL, vision off:
the model reads no images), and sends the same three messages each round: a greeting, a
search (the model may call tools), and a photo with a description (saved by the code,
then confirmed by the model). Prints, per template and message, the median and the
spread (min–max) of the wall time from `handle` to the reply, and the server's own
generation speed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import measure  # noqa: F401  (benchmarks/measure.py: the project root importable)

from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from tests.helpers.catalog import save_entry, send
from tests.helpers.llama import LlamaServer

MESSAGES = ["Oi, tudo bem?", "Mostre fotos de cachorro", "Meu cachorro no parque"]


def run(template: str, rounds: int, max_tokens: int, sandbox: Sandbox, log: Path) -> None:
    server = LlamaServer(tools_template=template == "tools", log=log)
    try:
        services = sandbox.fresh(
            OPENAI_API_KEY="local",
            OPENAI_BASE_URL=f"{server.url}/v1",
            OPENAI_MODEL="gemma-3-270m",
            OPENAI_VISION="false",
            OPENAI_MAX_TOKENS=max_tokens,
            OPENAI_TIMEOUT_SECONDS=300,
        )
        owner = "+5511900000001"
        save_entry(services, owner, "Meu cachorro na praia")
        times: dict[str, list[float]] = {m: [] for m in MESSAGES}
        for i in range(rounds):
            for text in MESSAGES:
                photo = [sample_image(f"park {i}")] if "parque" in text else []
                started = time.perf_counter()
                send(services, owner, text, *photo)
                times[text].append(time.perf_counter() - started)
        services.close()
    finally:
        server.stop()
    speeds = [
        float(line.split("tokens per second")[0].split(",")[-1].strip().split()[0])
        for line in log.read_text().splitlines()
        if "eval time" in line and "prompt eval" not in line and "tokens per second" in line
    ]
    print(f"\n{template} template, {rounds} rounds, OPENAI_MAX_TOKENS={max_tokens}")
    for text, values in times.items():
        print(
            f"  {text!r:30} median {statistics.median(values):6.2f} s  "
            f"(min {min(values):.2f}, max {max(values):.2f})"
        )
    if speeds:
        print(f"  generation: median {statistics.median(speeds):.0f} tokens/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=800)
    parser.add_argument("--template", choices=["gemma", "tools", "both"], default="both")
    args = parser.parse_args()
    templates = ["gemma", "tools"] if args.template == "both" else [args.template]
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        for template in templates:
            run(template, args.rounds, args.max_tokens, sandbox, Path(tmp) / f"{template}.log")


if __name__ == "__main__":
    main()
