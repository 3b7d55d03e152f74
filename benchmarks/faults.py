"""Fault injection: is anything lost, duplicated or orphaned when things break?

Starts the app as `make run` does (`webhook.py`, with its worker threads) plus one separate
`python -m assistant.worker` process, a PostgreSQL server (pgserver) and the fake Twilio,
then sends signed webhooks (text and photos, 50 users) at a steady rate while it:

  (a) restarts PostgreSQL once;
  (b) SIGKILLs the separate worker twice, restarting it a second later;
  (c) makes the fake Twilio answer 500 to 10% of sends and 404 to 10% of first media
      fetches (Twilio's "not ready yet");
  (d) delays 5% of media downloads past the message lease.

It plays Twilio's side the way the webhook URL's connection overrides make Twilio behave
(`#rc=5&rp=all`: a refused or failed webhook is retried, up to 5 times within 15 s), then
waits for the queue to drain and prints: messages sent, acknowledged, processed once,
replies sent once, lost, duplicated replies, orphaned rows or objects, and the longest
time a user waited for a reply.

Media are served by the fake's API origin directly (no redirect to a CDN host: the app
runs in its own process and cannot be told to resolve Twilio's CDN names to the fake).

    .venv/bin/python benchmarks/faults.py [--seconds 60] [--rate 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg
from measure import ROOT  # benchmarks/measure.py: the project root importable
from psycopg.rows import dict_row

from assistant.db import embedded_server
from assistant.ops.samples import sample_image
from tests.fakes.twilio_server import FakeTwilio, MediaItem
from tests.helpers import pg
from tests.helpers.processes import clean_env, free_port, wait_healthy
from tests.helpers.whatsapp import PUBLIC, sign, webhook_form

LEASE = 4
USERS = [f"+55119888{i:05d}" for i in range(50)]
TEXTS = ["oi", "Mostre fotos de cachorro", "show me the receipts", "últimas fotos", "ajuda"]
CAPTIONS = ["Meu cachorro na praia", "Recibo do mercado", "Bolo de aniversário", "Conta de luz"]


@dataclass
class Sent:
    sid: str
    user: str
    first_try: float
    tries: int = 0
    acked: bool = False
    statuses: list[int] = field(default_factory=list)


class Run:
    def __init__(self, workdir: Path, seconds: float, rate: float):
        self.workdir = workdir
        self.seconds = seconds
        self.rate = rate
        self.random = random.Random(42)
        self.fake = FakeTwilio().start()
        self.fake.send_failure_rate = 0.10
        self.server, self.db_url = embedded_server(workdir / "pg", cleanup="delete")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = clean_env(
            DATABASE_URL=self.db_url,
            DATA_DIR=workdir / "data",
            PORT=self.port,
            TWILIO_ACCOUNT_SID=self.fake.account_sid,
            TWILIO_AUTH_TOKEN=self.fake.auth_token,
            TWILIO_WHATSAPP_FROM="whatsapp:+14155238886",
            TWILIO_API_URL=self.fake.url,
            PUBLIC_BASE_URL=PUBLIC,
            INBOX_LEASE_SECONDS=LEASE,
            RETRY_BASE_SECONDS=1,
            RATE_LIMIT_PER_MINUTE=0,
        )
        self.sent: dict[str, Sent] = {}
        self.app: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.events: list[str] = []

    # --- processes -------------------------------------------------------------------

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, *args], cwd=self.workdir, env=self.env, stdout=log, stderr=log
        )

    def start(self) -> None:
        self.app = self._spawn([str(ROOT / "webhook.py")], "app")
        wait_healthy(self.base, self.app, timeout=120)
        self.start_worker()

    def start_worker(self) -> None:
        env_cwd = ["-m", "assistant", "worker", "--threads", "2", "--nice", "10"]
        self.worker = subprocess.Popen(
            [sys.executable, *env_cwd],
            cwd=ROOT,
            env=self.env,
            stdout=(self.workdir / "worker.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        for proc in (self.worker, self.app):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.worker, self.app):
            if proc:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.fake.stop()
        self.server.cleanup()

    # --- Twilio's side ---------------------------------------------------------------

    def form_for(self, user: str) -> dict[str, str]:
        if self.random.random() < 0.3:
            photo = sample_image(f"{user} {self.random.random():.6f}")
            item = MediaItem(photo, "image/jpeg", redirect=False)
            roll = self.random.random()
            if roll < 0.10:
                item.not_found_first = 1  # (c) Twilio's "not ready yet"
            elif roll < 0.15:
                item.delay_seconds = LEASE + 2  # (d) slower than the lease
            url = self.fake.add_media(item)
            return webhook_form(user, self.random.choice(CAPTIONS), [(url, "image/jpeg")])
        return webhook_form(user, self.random.choice(TEXTS))

    async def deliver(self, client: httpx.AsyncClient, form: dict[str, str]) -> None:
        record = self.sent[form["MessageSid"]]
        body = urlencode(form)
        headers = {
            "X-Twilio-Signature": sign(self.fake.auth_token, f"{PUBLIC}/whatsapp", form),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        # #rc=5&rp=all: up to 5 retries of a failed or refused request, within 15 s.
        while record.tries < 6 and time.time() - record.first_try < 15:
            record.tries += 1
            try:
                response = await client.post(
                    f"{self.base}/whatsapp", content=body, headers=headers, timeout=15
                )
                record.statuses.append(response.status_code)
                if response.is_success:
                    record.acked = True
                    return
            except httpx.HTTPError:
                record.statuses.append(0)
            await asyncio.sleep(0.5)

    async def load(self) -> None:
        interval = 1 / self.rate
        total = int(self.seconds * self.rate)
        started = time.monotonic()
        faults = {
            int(total * 0.25): self.restart_db,
            int(total * 0.45): self.kill_worker,
            int(total * 0.75): self.kill_worker,
        }
        tasks = []
        async with httpx.AsyncClient() as client:
            for n in range(total):
                if n in faults:
                    await asyncio.get_running_loop().run_in_executor(None, faults[n])
                user = self.random.choice(USERS)
                form = self.form_for(user)
                self.sent[form["MessageSid"]] = Sent(form["MessageSid"], user, time.time())
                tasks.append(asyncio.create_task(self.deliver(client, form)))
                delay = started + (n + 1) * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await asyncio.gather(*tasks)

    def restart_db(self) -> None:
        started = time.monotonic()
        pg.restart(self.server)
        self.events.append(f"PostgreSQL restarted ({time.monotonic() - started:.1f} s)")

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.kill()
        self.worker.wait()
        self.events.append("worker process SIGKILLed")
        time.sleep(1)
        self.start_worker()

    # --- results ---------------------------------------------------------------------

    def wait_for_drain(self, timeout: float = 180) -> float:
        started = time.monotonic()
        with psycopg.connect(self.db_url, row_factory=dict_row, autocommit=True) as conn:
            while time.monotonic() - started < timeout:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM inbox WHERE status IN ('pending','processing'))"
                    " + (SELECT count(*) FROM outbox WHERE status IN"
                    "    ('pending','sending','uncertain')) AS open"
                ).fetchone()
                spooled = list((self.workdir / "data" / "spool").glob("*.json"))
                if row and row["open"] == 0 and not spooled:
                    return time.monotonic() - started
                time.sleep(0.5)
        return float("nan")

    def report(self, drain_s: float) -> None:
        # Orphaned media objects are swept by the workers' housekeeping: run one pass now.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from assistant.factory import build_services;"
                "from assistant.config import get_settings;"
                "s = build_services(get_settings()); print(s.catalog.sweep(10_000)); s.close()",
            ],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            check=False,
        )
        with psycopg.connect(self.db_url, row_factory=dict_row, autocommit=True) as conn:
            inbox = {
                r["message_sid"]: r
                for r in conn.execute("SELECT id, message_sid, status, attempts FROM inbox")
            }
            logged = {
                r["external_id"]: r["n"]
                for r in conn.execute(
                    "SELECT external_id, count(*) AS n FROM messages WHERE direction = 'in'"
                    " GROUP BY external_id"
                )
            }
            outbox = conn.execute("SELECT inbox_id, status, sid FROM outbox ORDER BY id").fetchall()
            images = conn.execute("SELECT storage_key, thumb_key FROM images").fetchall()
            garbage = conn.execute("SELECT count(*) AS n FROM media_garbage").fetchone()
        acked = [s for s in self.sent.values() if s.acked]
        lost = [s for s in acked if s.sid not in inbox or inbox[s.sid]["status"] != "done"]
        processed_once = sum(1 for s in acked if logged.get(s.sid) == 1)
        processed_twice = sum(1 for s in acked if (logged.get(s.sid) or 0) > 1)
        sent_rows = [r for r in outbox if r["status"] == "sent"]
        fake_sends = self.fake.recorded.sends
        fake_sids = [s["sid"] for s in fake_sends]
        duplicated = len(fake_sends) - len(sent_rows)
        unreplied = (
            [s for s in acked if not any(r["inbox_id"] == inbox[s.sid]["id"] for r in sent_rows)]
            if not lost
            else []
        )
        media_dir = self.workdir / "data" / "media"
        on_disk = {
            str(p.relative_to(media_dir))
            for p in media_dir.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        }
        referenced = {k for r in images for k in (r["storage_key"], r["thumb_key"]) if k}
        orphan_objects = {k for k in on_disk if k not in referenced and "/audio/" not in k}
        missing_objects = referenced - on_disk
        send_time = {s["sid"]: s["time"] for s in fake_sends}
        first_reply: dict[int, float] = {}
        for r in sent_rows:
            if r["sid"] in send_time:
                first_reply.setdefault(r["inbox_id"], send_time[r["sid"]])
        waits = [
            first_reply[inbox[s.sid]["id"]] - s.first_try
            for s in acked
            if s.sid in inbox and inbox[s.sid]["id"] in first_reply
        ]
        retried = sum(1 for s in self.sent.values() if s.tries > 1)
        refused = sum(1 for s in self.sent.values() for st in s.statuses if st >= 500 or st == 0)
        print("\nfaults injected:")
        for event in self.events:
            print(f"  - {event}")
        print(
            f"  - fake Twilio: {self.fake.recorded.send_attempts - len(fake_sends)} sends"
            " answered 500; 10% of first media fetches 404; 5% of media slower than the lease"
        )
        print(f"\nwebhooks answered 5xx or not at all (then retried by 'Twilio'): {refused}")
        print(f"messages sent:                {len(self.sent)}")
        print(f"acknowledged (2xx):           {len(acked)}  ({retried} needed a retry)")
        print(f"processed once:               {processed_once}")
        print(f"processed more than once:     {processed_twice}")
        print(f"replies sent once:            {len(set(fake_sids))} of {len(outbox)} queued")
        print(f"lost messages:                {len(lost) + len(unreplied)}")
        print(f"duplicated replies:           {duplicated}")
        print(
            f"orphaned objects / rows:      {len(orphan_objects)} / {len(missing_objects)}"
            f"  (media_garbage left: {garbage['n'] if garbage else '?'})"
        )
        print(
            f"longest wait for a reply:     {max(waits, default=float('nan')):.1f} s"
            f"  (p50 {sorted(waits)[len(waits) // 2] if waits else float('nan'):.1f} s)"
        )
        print(f"queue drained {drain_s:.1f} s after the load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=8, help="webhooks per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        run = Run(Path(tmp), args.seconds, args.rate)
        try:
            run.start()
            print(
                f"sending {int(args.seconds * args.rate)} webhooks over {args.seconds:g} s"
                f" from {len(USERS)} users (lease {LEASE} s) ...",
                flush=True,
            )
            asyncio.run(run.load())
            drain = run.wait_for_drain()
            run.report(drain)
        finally:
            run.stop()
            if os.environ.get("FAULTS_KEEP_LOGS"):
                for log in Path(tmp).glob("*.log"):
                    print(f"\n--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}")


if __name__ == "__main__":
    main()
