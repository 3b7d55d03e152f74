"""Load test of the WhatsApp webhook: ack latency under a steady rate, then exactly-once.

Starts `webhook.py` on 127.0.0.1 (embedded PostgreSQL in a temp dir, a local fake Twilio
REST server or fake Graph API), sends N signed webhooks at a fixed rate with bounded
concurrency, waits for the queue to drain, and prints ack latency p50/p95/p99, throughput
and the counts of lost and duplicated messages.

    .venv/bin/python benchmarks/webhook_load.py --rate 200 --seconds 30
    .venv/bin/python benchmarks/webhook_load.py --channel meta   # Meta's Cloud API route
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from measure import ROOT, percentile  # benchmarks/measure.py

from assistant.ops.sandbox import Sandbox
from tests.fakes import meta_server as meta
from tests.helpers.processes import free_port
from tests.helpers.whatsapp import sign, webhook_form

TEXTS = [
    "Mostre fotos de cachorro",
    "oi",
    "show me the receipts",
    "Lembre que eu prefiro fotos da praia",
    "ajuda",
    "últimas fotos",
]


def encode_request(host: str, form: dict[str, str], signature: str) -> bytes:
    """One pre-built HTTP/1.1 request: the load generator only writes bytes, so that on
    a 2-core machine it takes little of the CPU the server under test needs."""
    body = urlencode(form).encode()
    head = (
        f"POST /whatsapp HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


def encode_notification(host: str, sender: str, text: str) -> tuple[bytes, str]:
    """A pre-built, signed Meta notification with one text message; and its message id."""
    message = meta.text(text, sender=sender.lstrip("+"))
    body, headers = meta.signed(meta.notification([message]))
    head = (
        f"POST /meta/webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Hub-Signature-256: {headers['X-Hub-Signature-256']}\r\n\r\n"
    )
    return head.encode() + body, str(message["id"])


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> bool:
    """Write one pre-built request and read its answer; True when it was a 200."""
    writer.write(data)
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return b" 200 " in status


async def send_all(
    port: int, requests: list[bytes], rate: float, concurrency: int
) -> tuple[list[float], list[float], int, float]:
    """Send request i at start + i/rate over `concurrency` keep-alive connections; a
    request waits for a free connection (that wait counts in its latency)."""
    latencies: list[float] = []
    lags: list[float] = []  # how late the generator itself was in writing a request
    errors = 0
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(concurrency):
        free.put_nowait(await asyncio.open_connection("127.0.0.1", port))

    async def one(payload: bytes, due: float) -> None:
        nonlocal errors
        reader, writer = await free.get()
        try:
            lags.append((time.perf_counter() - due) * 1000)
            ok = await roundtrip(reader, writer, payload)
            latencies.append((time.perf_counter() - due) * 1000)
            errors += not ok
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        free.put_nowait((reader, writer))

    start = time.perf_counter()
    tasks = []
    for i, payload in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(payload, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not free.empty():
        _, writer = free.get_nowait()
        writer.close()
    return latencies, lags, errors, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30, help="duration of the load")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight")
    parser.add_argument("--users", type=int, default=1000, help="distinct senders")
    parser.add_argument(
        "--worker-threads", type=int, default=0, help="workers inside the web process"
    )
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="`python -m assistant.worker` processes"
    )
    parser.add_argument("--worker-nice", type=int, default=10, help="their CPU priority")
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="1: `python webhook.py` as `make run`; N > 1: `uvicorn webhook:app --workers N`",
    )
    parser.add_argument("--channel", choices=["twilio", "meta"], default="twilio")
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--keep-log", type=Path, help="copy the app's log here at the end")
    args = parser.parse_args()

    fake_port, port = free_port(), free_port()
    fake_url = f"http://127.0.0.1:{fake_port}"
    token = "bench-token"
    fake_module = "meta_server" if args.channel == "meta" else "twilio_server"
    fake_token = ["--auth-token", token] if args.channel == "twilio" else []
    fake = subprocess.Popen(
        [sys.executable, "-m", f"tests.fakes.{fake_module}", "--port", str(fake_port)] + fake_token,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    public = f"http://127.0.0.1:{port}"
    with Sandbox() as sandbox:
        settings = sandbox.settings()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "TWILIO_", "META_", "POSTGRES_", "DATABASE_", "BUCKET"))
        }
        env.update(
            PYTHONPATH=str(ROOT),
            PORT=str(port),
            DATA_DIR=str(settings.data_dir),
            DATABASE_URL=str(settings.database_url),
            TWILIO_ACCOUNT_SID="AC" + "0" * 32,
            TWILIO_AUTH_TOKEN=token,
            TWILIO_WHATSAPP_FROM="whatsapp:+14155238886",
            TWILIO_API_URL=fake_url,
            PUBLIC_BASE_URL=public,
            WORKER_THREADS=str(args.worker_threads),
            ADMIN_TOKEN="bench-admin-token-0123456789",
            DB_POOL_SIZE="20",
            # Both channels configured, as a deployment may have them.
            META_ACCESS_TOKEN=meta.ACCESS_TOKEN,
            META_PHONE_NUMBER_ID=meta.PHONE_NUMBER_ID,
            META_APP_SECRET=meta.APP_SECRET,
            META_VERIFY_TOKEN="bench-verify",
            META_GRAPH_VERSION=meta.GRAPH_VERSION,
            META_API_URL=fake_url,
            ACCESS="open",
        )
        log = open(sandbox.root / "app.log", "wb")  # noqa: SIM115
        web = [sys.executable, str(ROOT / "webhook.py")]
        if args.web_processes > 1:
            web = [sys.executable, "-m", "uvicorn", "webhook:app", "--port", str(port)]
            web += ["--workers", str(args.web_processes), "--no-proxy-headers"]
            web += ["--no-access-log", "--loop", "uvloop", "--http", "httptools"]
        procs = [
            subprocess.Popen(web, cwd=sandbox.root, env=env, stdout=log, stderr=subprocess.STDOUT)
        ]
        for _ in range(args.worker_processes):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "assistant", "worker", "--threads", "2"]
                    + ["--nice", str(args.worker_nice)],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{public}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or procs[0].poll() is not None:
                    raise SystemExit((sandbox.root / "app.log").read_text()[-3000:])
                time.sleep(0.3)

            total = int(args.rate * args.seconds)
            users = [f"+55119{i:07d}" for i in range(args.users)]
            host = f"127.0.0.1:{port}"
            texts = [(users[i % len(users)], f"{TEXTS[i % len(TEXTS)]} #{i}") for i in range(total)]
            if args.channel == "meta":
                built = [encode_notification(host, user, text) for user, text in texts]
                requests = [request for request, _ in built]
                sids = [sid for _, sid in built]
            else:
                forms = [webhook_form(user, text) for user, text in texts]
                requests = [
                    encode_request(host, f, sign(token, f"{public}/whatsapp", f)) for f in forms
                ]
                sids = [form["MessageSid"] for form in forms]
            print(
                f"sending {total} signed {args.channel} webhooks at {args.rate:g}/s"
                f" for {args.seconds:g} s,"
                f" concurrency {args.concurrency}, {args.users} users,"
                f" {args.web_processes} web process(es);"
                f" workers: {args.worker_threads} threads in the web process"
                f" + {args.worker_processes} processes; {os.cpu_count()} CPUs",
                flush=True,
            )
            # The generator's own garbage collections would show up as server latency.
            gc.collect()
            gc.freeze()
            gc.disable()
            latencies, lags, errors, elapsed = asyncio.run(
                send_all(port, requests, args.rate, args.concurrency)
            )
            gc.enable()
            print(
                f"ack latency ms: p50 {percentile(latencies, 0.5):.1f}"
                f"  p95 {percentile(latencies, 0.95):.1f}"
                f"  p99 {percentile(latencies, 0.99):.1f}"
                f"  max {max(latencies):.1f}  mean {statistics.mean(latencies):.1f}"
            )
            print(
                f"  of which the load generator's own lag (waiting for a free connection,"
                f" or for its event loop): p50 {percentile(lags, 0.5):.1f}"
                f"  p99 {percentile(lags, 0.99):.1f}  max {max(lags):.1f}"
            )
            print(f"throughput: {total / elapsed:.1f} requests/s; non-200 answers: {errors}")

            import psycopg

            drain_start = time.perf_counter()
            with psycopg.connect(str(settings.database_url), autocommit=True) as conn:
                while True:
                    open_rows = conn.execute(
                        "SELECT (SELECT count(*) FROM inbox WHERE status IN"
                        " ('pending', 'processing')) + (SELECT count(*) FROM outbox"
                        " WHERE status IN ('pending', 'sending'))"
                    ).fetchone()
                    if open_rows and open_rows[0] == 0:
                        break
                    if time.perf_counter() - drain_start > args.drain_timeout:
                        print(f"queue did not drain: {open_rows} open rows")
                        break
                    time.sleep(0.5)
                drained = time.perf_counter() - drain_start
                done = conn.execute(
                    "SELECT count(*) FROM inbox WHERE status = 'done' AND message_sid = ANY(%s)",
                    (sids,),
                ).fetchone()
                handled = conn.execute(
                    "SELECT count(DISTINCT external_id), count(*) FROM messages"
                    " WHERE direction = 'in' AND external_id = ANY(%s)",
                    (sids,),
                ).fetchone()
                sent_rows = conn.execute(
                    "SELECT count(*) FROM outbox WHERE status = 'sent'"
                ).fetchone()
                status = conn.execute(
                    "SELECT status, count(*) FROM inbox GROUP BY status ORDER BY 1"
                ).fetchall()
            assert done and handled and sent_rows
            lost = total - int(handled[0])
            duplicated = int(handled[1]) - int(handled[0])
            twilio_sends = int(httpx.get(f"{fake_url}/__stats").json()["sends"])
            extra_sends = twilio_sends - int(sent_rows[0])
            print(
                f"queue drained {drained:.1f} s after the load ended;"
                f" processing rate {total / (elapsed + drained):.1f} messages/s overall"
            )
            print(f"inbox: {dict(status)}; replies sent to {args.channel}: {twilio_sends}")
            print(
                f"lost: {lost}  duplicated: {duplicated}  sends beyond one per reply: {extra_sends}"
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
            fake.terminate()
            if args.keep_log:
                args.keep_log.write_bytes((sandbox.root / "app.log").read_bytes())


if __name__ == "__main__":
    main()
