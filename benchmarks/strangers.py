"""Floods of strangers (issue #22): what thousands of unknown numbers cost in `invite` mode,
and whether one joined user is still answered while they write.

Starts the app like `make run` (`webhook.py`: an embedded PostgreSQL in a temp dir, the
default WORKER_THREADS=2, no ACCESS set, so `invite` because Twilio is configured)
against a fake Twilio REST server on 127.0.0.1 (`tests/fakes/twilio_server.py`, run in
this process so its records can be read: every reply send, every media request), with
PUBLIC_BASE_URL set so the signed webhooks validate. One number is made a joined user
(an `access` row inserted as 'active', joined_via 'admin') and sends "ajuda" every
second throughout; we time each of its replies from the webhook's write to the fake
Twilio receiving the reply's send (matched exactly: outbox.sid is the SID the fake
answered with).

Phases: a baseline (the user alone, 15 s), the flood (10,000 signed webhooks from 5,000
unknown numbers spread evenly over 60 s; half carry an image URL and a few an audio URL,
both served by the fake so a download would succeed), then the drain (the user goes on
until the strangers' inbox and outbox rows are all closed). Finally, unless
--no-control, the user sends one photo: the positive control that a media fetch is
counted.

Printed: webhook ack latency; rows and bytes (pg_total_relation_size) added to inbox,
access, outbox, messages, images, usage_daily and users; replies sent to strangers (in
all, the most to one number (must be <= 1), the most in one minute against
STRANGER_REPLIES_PER_MINUTE); media requests the fake received (must be 0 before the
control); what was kept for strangers (messages, images, usage rows, audio objects: must
be 0); the user's reply times p50/p95/max per phase; and the queue backlog.

The joined user writes 60 messages a minute, over the default per-user rate limit of 20,
so RATE_LIMIT_PER_MINUTE is raised to 120 (it is not consulted for strangers). With
--wrong-codes N every Nth stranger message is a join attempt with a wrong invite code
(not part of the default flood: those replies are not under the per-minute cap).

    .venv/bin/python benchmarks/strangers.py                       # full scale
    .venv/bin/python benchmarks/strangers.py --webhooks 1000 --numbers 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from measure import ROOT, percentile, phone_jpeg  # benchmarks/measure.py
from webhook_load import encode_request, roundtrip, send_all  # benchmarks/webhook_load.py

from assistant.access.invites import ALPHABET
from assistant.ops.sandbox import Sandbox
from tests.fakes.twilio_server import FakeTwilio, MediaItem
from tests.helpers.processes import free_port
from tests.helpers.whatsapp import BOT_NUMBER, sign, webhook_form

USER = "+5511987650000"
# The outbox keeps the number; Twilio (the fake) is sent it with the channel prefix.
USER_TO = f"whatsapp:{USER}"
TOKEN = "bench-token-strangers"
ADMIN_TOKEN = "bench-admin-token-0123456789"
CAP = 30  # STRANGER_REPLIES_PER_MINUTE's default; the app runs with it
TABLES = ["inbox", "access", "outbox", "messages", "images", "usage_daily", "users"]
TEXTS = ["oi", "olá, tudo bem?", "hello", "Mostre fotos de cachorro", "quem é você?", "ajuda"]


def stranger(i: int) -> str:
    return f"+55219{i:07d}"


# --- the load ------------------------------------------------------------------------


@dataclass
class UserMessage:
    sid: str
    phase: str
    wall: float  # time.time() just before the request was written
    ack_ms: float = float("nan")
    ok: bool = False


@dataclass
class Run:
    flood_acks: list[float] = field(default_factory=list)  # ms, from each request's due time
    lags: list[float] = field(default_factory=list)  # ms the generator was late in writing
    errors: int = 0
    flood_elapsed: float = 0.0
    user: list[UserMessage] = field(default_factory=list)
    depth: list[tuple[float, int, int]] = field(default_factory=list)  # (s, inbox, outbox)
    flood_start: float = 0.0  # seconds since the run started
    flood_end: float = 0.0
    drain_end: float = 0.0
    drained: bool = False
    before: dict[str, tuple[int, int]] = field(default_factory=dict)
    cpu: tuple[float, float] | None = None  # the app's CPU seconds at flood start, drain end


async def table_sizes(conn: psycopg.AsyncConnection[Any]) -> dict[str, tuple[int, int]]:
    sizes: dict[str, tuple[int, int]] = {}
    for table in TABLES:
        cur = await conn.execute(
            f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}"  # noqa: S608
        )
        row = await cur.fetchone()
        assert row is not None
        sizes[table] = (int(row[0]), int(row[1]))
    return sizes


async def drive(
    args: argparse.Namespace, port: int, public: str, database_url: str, pid: int
) -> Run:
    run = Run()
    host = f"127.0.0.1:{port}"
    url = f"{public}/whatsapp"
    forms = []
    for i in range(args.webhooks):
        number = stranger(i % args.numbers)
        text = TEXTS[i % len(TEXTS)]
        if args.wrong_codes and i % args.wrong_codes == 1:
            code = "".join(ALPHABET[(i * 7 + k * 13) % len(ALPHABET)] for k in range(8))
            forms.append(webhook_form(number, f"entrar {code[:4]}-{code[4:]}"))
        elif i % args.audio_every == 0:
            forms.append(webhook_form(number, "", [(args.audio_url, "audio/ogg")]))
        elif i % 2 == 0:
            forms.append(
                webhook_form(number, text if i % 4 else "", [(args.image_url, "image/jpeg")])
            )
        else:
            forms.append(webhook_form(number, f"{text} {i}"))
    flood = [encode_request(host, f, sign(TOKEN, url, f)) for f in forms]
    rate = args.webhooks / args.seconds

    db = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    phase = "baseline"
    stop = asyncio.Event()
    start = time.perf_counter()

    async def user_loop() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        k = 0
        while not stop.is_set():
            due = start + k * args.user_interval
            k += 1
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            if stop.is_set():
                break
            form = webhook_form(USER, "ajuda")
            data = encode_request(host, form, sign(TOKEN, url, form))
            msg = UserMessage(form["MessageSid"], phase, time.time())
            run.user.append(msg)
            sent = time.perf_counter()
            try:
                msg.ok = await roundtrip(reader, writer, data)
            except (OSError, asyncio.IncompleteReadError):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            msg.ack_ms = (time.perf_counter() - sent) * 1000
        writer.close()

    async def monitor() -> None:
        while not stop.is_set():
            cur = await db.execute(
                "SELECT (SELECT count(*) FROM inbox WHERE status IN ('pending', 'processing')"
                " AND owner <> %(u)s), (SELECT count(*) FROM outbox WHERE status IN"
                " ('pending', 'sending') AND recipient <> %(t)s)",
                {"u": USER, "t": USER_TO},
            )
            row = await cur.fetchone()
            assert row is not None
            run.depth.append((time.perf_counter() - start, int(row[0]), int(row[1])))
            await asyncio.sleep(1.0)

    user_task = asyncio.create_task(user_loop())
    monitor_task = asyncio.create_task(monitor())
    print(f"baseline: the joined user alone for {args.baseline:g} s", flush=True)
    await asyncio.sleep(args.baseline)
    run.before = await table_sizes(db)
    print(
        f"flood: {args.webhooks} webhooks from {args.numbers} unknown numbers at"
        f" {rate:.1f}/s for {args.seconds:g} s (concurrency {args.concurrency})",
        flush=True,
    )
    phase = "flood"
    cpu_start = cpu_seconds(pid)
    run.flood_start = time.perf_counter() - start
    run.flood_acks, run.lags, run.errors, run.flood_elapsed = await send_all(
        port, flood, rate, args.concurrency
    )
    run.flood_end = time.perf_counter() - start
    phase = "drain"
    print(f"flood sent in {run.flood_elapsed:.1f} s; draining the strangers' rows", flush=True)
    deadline = time.perf_counter() + args.drain_timeout
    while time.perf_counter() < deadline:
        await asyncio.sleep(1.0)
        if run.depth and run.depth[-1][0] > run.flood_end and run.depth[-1][1:] == (0, 0):
            run.drained = True
            break
    run.drain_end = time.perf_counter() - start
    run.cpu = (cpu_start, cpu_seconds(pid))
    stop.set()
    await user_task
    await monitor_task
    await db.close()
    return run


# --- the report ----------------------------------------------------------------------


def worst_window(times: list[float], window: float = 60.0) -> list[float]:
    """The most events in any half-open interval [t, t + window): those events."""
    ordered = sorted(times)
    best: list[float] = []
    for i, t in enumerate(ordered):
        end = bisect.bisect_left(ordered, t + window)
        if end - i > len(best):
            best = ordered[i:end]
    return best


def most_in_window(times: list[float], window: float = 60.0) -> int:
    return len(worst_window(times, window))


def clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def processing_times(public: str, token: str) -> dict[str, tuple[int, float]]:
    """Per outcome: messages handled and mean seconds each (the app's /metrics)."""
    text = httpx.get(
        f"{public}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).text
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        for suffix, into in (("_sum{", sums), ("_count{", counts)):
            if line.startswith("message_processing_seconds" + suffix):
                outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
                into[outcome] = float(line.rsplit(" ", 1)[1])
    return {k: (int(n), sums.get(k, 0.0) / n) for k, n in counts.items() if n}


def summary(values: list[float]) -> str:
    if not values:
        return "no replies"
    return (
        f"p50 {percentile(values, 0.5):7.0f}  p95 {percentile(values, 0.95):7.0f}"
        f"  max {max(values):7.0f} ms"
    )


def fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def wait_for(check: Any, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())


def report(
    args: argparse.Namespace,
    run: Run,
    fake: FakeTwilio,
    conn: psycopg.Connection[Any],
    media_dir: Path,
    log_path: Path,
    public: str,
) -> list[str]:
    """Print the results; returns the checks that failed."""
    failed: list[str] = []

    def check(ok: bool, what: str) -> str:
        if not ok:
            failed.append(what)
        return "ok" if ok else "FAIL"

    def one(sql: str, params: Any = None) -> Any:
        row = conn.execute(sql, params).fetchone()
        assert row is not None
        return row[0]

    # Webhooks.
    acks = run.flood_acks
    print("\n== webhooks")
    print(
        f"flood: {args.webhooks} sent in {run.flood_elapsed:.1f} s"
        f" ({args.webhooks / run.flood_elapsed:.1f}/s); non-200: {run.errors}"
        f"  [{check(run.errors == 0, 'non-200 webhook answers')}]"
    )
    if acks:
        print(
            f"ack latency ms: p50 {percentile(acks, 0.5):.1f}  p99 {percentile(acks, 0.99):.1f}"
            f"  max {max(acks):.1f}  mean {statistics.mean(acks):.1f}"
            f"  (generator's own lag p99 {percentile(run.lags, 0.99):.1f} ms)"
        )
    user_acks = [m.ack_ms for m in run.user if m.phase == "flood" and m.ok]
    if user_acks:
        print(
            f"the user's acks during the flood: p50 {percentile(user_acks, 0.5):.1f}"
            f"  p99 {percentile(user_acks, 0.99):.1f} ms"
        )

    # Queue.
    print("\n== queue (strangers' open rows: inbox pending/processing, outbox pending/sending)")
    during = [d for d in run.depth if run.flood_start <= d[0] <= run.flood_end]
    at_end = min(run.depth, key=lambda d: abs(d[0] - run.flood_end)) if run.depth else None
    if during:
        worst = max(during, key=lambda d: d[1])
        print(
            f"largest inbox backlog during the flood: {worst[1]} rows"
            f" ({worst[0] - run.flood_start:.0f} s in)"
        )
    if at_end:
        print(f"at the end of the flood: inbox {at_end[1]}, outbox {at_end[2]}")
    drain = run.drain_end - run.flood_end
    print(
        f"drained {drain:.1f} s after the flood ended"
        if run.drained
        else f"NOT drained {args.drain_timeout:g} s after the flood: {run.depth[-1][1:]} open"
    )
    check(run.drained, "queue drained")
    processed = args.webhooks / (run.flood_elapsed + drain)
    print(f"strangers' messages closed at {processed:.1f}/s over flood + drain")

    # Storage.
    after: dict[str, tuple[int, int]] = {}
    for table in TABLES:
        row = conn.execute(
            f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}"  # noqa: S608
        ).fetchone()
        assert row is not None
        after[table] = (int(row[0]), int(row[1]))
    print("\n== database: flood + drain (the user's own rows included)")
    print(
        f"{'table':12} {'rows before':>11} {'after':>8} {'added':>8}   {'bytes before':>12}"
        f" {'after':>10} {'added':>10}"
    )
    total_added = 0
    for table in TABLES:
        (r0, b0), (r1, b1) = run.before[table], after[table]
        total_added += b1 - b0
        print(
            f"{table:12} {r0:>11} {r1:>8} {r1 - r0:>+8}   {fmt_bytes(b0):>12}"
            f" {fmt_bytes(b1):>10} {fmt_bytes(b1 - b0):>10}"
        )
    print(
        f"in all {fmt_bytes(total_added)} for {args.webhooks} webhooks:"
        f" {total_added / args.webhooks:.0f} B a webhook,"
        f" {total_added / args.numbers:.0f} B a number"
    )
    statuses = dict(
        conn.execute(
            "SELECT status, count(*) FROM inbox WHERE owner <> %s GROUP BY 1", (USER,)
        ).fetchall()
    )
    kept_payloads = one(
        "SELECT count(*) FROM inbox WHERE owner <> %s AND payload <> '{}'::jsonb", (USER,)
    )
    refused_ok = kept_payloads == 0 and statuses.get("refused", 0) == args.webhooks
    print(
        f"strangers' inbox rows by status: {statuses}; with content left: {kept_payloads}"
        f"  [{check(refused_ok, 'inbox rows refused, content removed')}]"
    )
    access = dict(conn.execute("SELECT status, count(*) FROM access GROUP BY 1").fetchall())
    counted = one(
        "SELECT coalesce(sum(waiting_messages), 0) FROM access WHERE phone <> %s", (USER,)
    )
    access_ok = access.get("waiting", 0) == args.numbers and counted == args.webhooks
    print(
        f"access rows by status: {access}; messages counted for waiting numbers: {counted}"
        f"  [{check(access_ok, 'one access row per number, every message counted')}]"
    )

    # Replies to strangers.
    with fake.lock:
        sends = list(fake.recorded.sends)
        media_requests = list(fake.recorded.media_requests)
    to_strangers = [s for s in sends if s["To"] != USER_TO]
    per_number = Counter(s["To"] for s in to_strangers)
    most = max(per_number.values(), default=0)
    times = [s["time"] for s in to_strangers]
    by_minute = Counter(datetime.fromtimestamp(t, UTC).strftime("%H:%M") for t in times)
    noticed = [
        r[0].timestamp()
        for r in conn.execute(
            "SELECT noticed_at FROM access WHERE noticed_at IS NOT NULL AND phone <> %s", (USER,)
        ).fetchall()
    ]
    outbox_rows = dict(
        conn.execute(
            "SELECT kind || '/' || status, count(*) FROM outbox WHERE recipient <> %s GROUP BY 1",
            (USER,),
        ).fetchall()
    )
    print("\n== replies to strangers")
    print(
        f"sent: {len(to_strangers)} to {len(per_number)} numbers (of {args.numbers});"
        f" outbox rows {outbox_rows}; numbers marked told: {len(noticed)}"
    )
    print(f"most to one number: {most}  [{check(most <= 1, 'at most one reply per number')}]")
    in_minute = max(by_minute.values(), default=0)
    sliding = most_in_window(times)
    worst = worst_window(noticed)
    by_noticed = len(worst)
    # The product's rule is a sliding minute of access.noticed_at; at the fake a clock
    # minute is checked too (the sends' own 60 s windows may bunch by a send's delay).
    cap_ok = by_noticed <= CAP and in_minute <= CAP
    print(
        f"most in one clock minute (UTC, at the fake): {in_minute}; in any 60 s window:"
        f" {sliding}; by access.noticed_at in any 60 s window: {by_noticed};"
        f" cap {CAP}/min  [{check(cap_ok, 'stranger replies per minute under the cap')}]"
    )
    print(f"per clock minute: {dict(sorted(by_minute.items()))}")
    if by_noticed > CAP:
        gaps = [b - a for a, b in zip(worst, worst[1:], strict=False)]
        print(
            f"over the cap: {by_noticed} numbers told (access.noticed_at) between"
            f" {clock(worst[0])} and {clock(worst[-1])} UTC; smallest gap between two"
            f" of them {min(gaps) * 1000:.1f} ms"
        )
    bodies = Counter(s["Body"][:60] for s in to_strangers)
    print(f"texts: {dict(bodies)}")

    # Media and what was kept.
    print("\n== media and transcription")
    print(
        f"requests to media URLs at the fake Twilio: {len(media_requests)}"
        f"  [{check(not media_requests, 'no media fetched')}]"
    )
    kept = {
        "messages": one("SELECT count(*) FROM messages WHERE owner <> %s", (USER,)),
        "images": one("SELECT count(*) FROM images WHERE owner <> %s", (USER,)),
        "usage_daily": one("SELECT count(*) FROM usage_daily WHERE owner <> %s", (USER,)),
        "users": one("SELECT count(*) FROM users WHERE phone <> %s", (USER,)),
        "descriptions": one("SELECT count(*) FROM descriptions WHERE owner <> %s", (USER,)),
    }
    objects = [p for p in media_dir.rglob("*") if p.is_file()] if media_dir.exists() else []
    audio = [p for p in objects if "audio" in p.relative_to(media_dir).parts]
    transcribed = one(
        "SELECT count(*) FROM messages WHERE owner <> %s AND media::text LIKE '%%audio%%'", (USER,)
    )
    nothing_kept = not any(kept.values()) and not audio and not transcribed
    print(
        f"kept for strangers: {kept}; audio messages: {transcribed};"
        f" media objects on disk: {len(objects)} (audio: {len(audio)})"
        f"  [{check(nothing_kept, 'nothing kept for strangers, no transcription')}]"
    )

    # The joined user.
    print("\n== the joined user's replies (webhook written -> reply send received by the fake)")
    sent_at = {s["sid"]: s["time"] for s in sends if s["To"] == USER_TO}
    rows = conn.execute(
        "SELECT i.message_sid, o.sid FROM outbox o JOIN inbox i ON i.id = o.inbox_id"
        " WHERE o.recipient = %s AND o.sid IS NOT NULL ORDER BY o.seq",
        (USER,),
    ).fetchall()
    first: dict[str, float] = {}
    parts: Counter[str] = Counter()
    for message_sid, sid in rows:
        if sid in sent_at:
            first.setdefault(message_sid, sent_at[sid])
            parts[message_sid] += 1
    for name in ("baseline", "flood", "drain"):
        msgs = [m for m in run.user if m.phase == name]
        times_ms = [(first[m.sid] - m.wall) * 1000 for m in msgs if m.sid in first]
        missing = len(msgs) - len(times_ms)
        print(f"{name:9} {len(msgs):4} messages  {summary(times_ms)}  unanswered: {missing}")
    if parts:
        print(f"sends per reply: {dict(Counter(parts.values()))}")
    statuses_user = dict(
        conn.execute(
            "SELECT status, count(*) FROM inbox WHERE owner = %s GROUP BY 1", (USER,)
        ).fetchall()
    )
    print(f"the user's inbox rows by status: {statuses_user}")

    print("\n== the app process")
    if run.cpu:
        busy = run.cpu[1] - run.cpu[0]
        span = run.drain_end - run.flood_start
        print(
            f"CPU of webhook.py (web + its 2 worker threads) over flood + drain: {busy:.1f} s"
            f" in {span:.1f} s ({busy / span:.2f} cores; PostgreSQL not included)"
        )
    times_by = processing_times(public, ADMIN_TOKEN)
    print(
        "worker time per message by outcome: "
        + ", ".join(f"{k} {n} x {mean * 1000:.1f} ms" for k, (n, mean) in sorted(times_by.items()))
    )
    text = log_path.read_text(errors="replace")
    levels = Counter(
        word for line in text.splitlines() for word in ("ERROR", "WARNING") if word in line
    )
    print(f"\napp log: {dict(levels)} lines; {len(text.splitlines())} lines in all")
    return failed


def control(
    args: argparse.Namespace, fake: FakeTwilio, conn: psycopg.Connection[Any], public: str
) -> tuple[int, bool]:
    """The user sends one photo: the fake must see it fetched (a media request counted)."""
    form = webhook_form(USER, "", [(args.image_url, "image/jpeg")])
    answer = httpx.post(
        f"{public}/whatsapp",
        data=form,
        headers={"X-Twilio-Signature": sign(TOKEN, f"{public}/whatsapp", form)},
        timeout=10,
    )
    answer.raise_for_status()

    def replied() -> bool:
        row = conn.execute(
            "SELECT count(*) FROM outbox o JOIN inbox i ON i.id = o.inbox_id"
            " WHERE i.message_sid = %s AND o.status = 'sent'",
            (form["MessageSid"],),
        ).fetchone()
        return bool(row and row[0])

    done = wait_for(replied, 120)
    with fake.lock:
        return len(fake.recorded.media_requests), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhooks", type=int, default=10_000, help="strangers' webhooks")
    parser.add_argument("--numbers", type=int, default=5_000, help="distinct unknown numbers")
    parser.add_argument("--seconds", type=float, default=60, help="length of the flood")
    parser.add_argument("--baseline", type=float, default=15, help="the user alone first (s)")
    parser.add_argument("--user-interval", type=float, default=1.0, help="s between 'ajuda's")
    parser.add_argument("--audio-every", type=int, default=97, help="every Nth has audio")
    parser.add_argument(
        "--wrong-codes",
        type=int,
        default=0,
        help="every Nth stranger message is 'entrar <a wrong invite code>' (0: none)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="flood requests in flight")
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--no-control", action="store_true", help="skip the photo control")
    parser.add_argument("--keep-log", type=Path, help="copy the app's log here at the end")
    args = parser.parse_args()

    fake = FakeTwilio(auth_token=TOKEN).start()
    args.image_url = fake.add_media(MediaItem(phone_jpeg(640, 480), "image/jpeg", redirect=False))
    audio = (ROOT / "tests/data/speech/en01.ogg").read_bytes()
    args.audio_url = fake.add_media(MediaItem(audio, "audio/ogg", redirect=False))
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    failed: list[str] = ["did not finish"]
    proc: subprocess.Popen[bytes] | None = None
    with Sandbox() as sandbox:
        try:
            settings = sandbox.settings()
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(
                    ("OPENAI_", "TWILIO_", "POSTGRES_", "DATABASE_", "BUCKET", "WORKER_")
                )
                and k
                not in (
                    "ACCESS",
                    "ALLOWED_NUMBERS",
                    "STRANGER_REPLIES_PER_MINUTE",
                    "RATE_LIMIT_PER_MINUTE",
                )
            }
            env.update(
                PYTHONPATH=str(ROOT),
                PORT=str(port),
                DATA_DIR=str(settings.data_dir),
                DATABASE_URL=str(settings.database_url),
                TWILIO_ACCOUNT_SID=fake.account_sid,
                TWILIO_AUTH_TOKEN=TOKEN,
                TWILIO_WHATSAPP_FROM=BOT_NUMBER,
                TWILIO_API_URL=fake.url,
                PUBLIC_BASE_URL=public,
                ADMIN_TOKEN=ADMIN_TOKEN,
                RATE_LIMIT_PER_MINUTE="120",  # the user's 60 a minute, see the docstring
            )
            log_path = sandbox.root / "app.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, str(ROOT / "webhook.py")],
                    cwd=sandbox.root,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

            def healthy() -> bool:
                assert proc is not None
                if proc.poll() is not None:
                    raise SystemExit(log_path.read_text()[-3000:])
                try:
                    return httpx.get(f"{public}/healthz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            if not wait_for(healthy, 120, 0.3):
                raise SystemExit(log_path.read_text()[-3000:])
            database_url = str(settings.database_url)
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    "INSERT INTO access (phone, status, joined_via) VALUES (%s, 'active', 'admin')",
                    (USER,),
                )
            print(
                f"app on {public} (webhook.py, WORKER_THREADS default, ACCESS default = invite);"
                f" fake Twilio on {fake.url}; {os.cpu_count()} CPUs",
                flush=True,
            )

            gc.collect()
            gc.freeze()
            gc.disable()  # the generator's collections would show up as server latency
            try:
                run = asyncio.run(drive(args, port, public, database_url, proc.pid))
            finally:
                gc.enable()

            with psycopg.connect(database_url, autocommit=True) as conn:
                # The user's last replies, sent after the strangers' rows were closed.
                last = [m.sid for m in run.user]
                wait_for(
                    lambda: (
                        conn.execute(
                            "SELECT count(*) FROM inbox WHERE owner = %s AND status IN"
                            " ('pending', 'processing')",
                            (USER,),
                        ).fetchone()
                        == (0,)
                        and conn.execute(
                            "SELECT count(*) FROM outbox WHERE recipient = %s AND status IN"
                            " ('pending', 'sending')",
                            (USER,),
                        ).fetchone()
                        == (0,)
                    ),
                    30 if last else 0,
                )
                failed = report(args, run, fake, conn, settings.media_dir, log_path, public)
                if not args.no_control:
                    fetched, answered = control(args, fake, conn, public)
                    ok = fetched >= 1 and answered
                    if not ok:
                        failed.append("control photo fetched")
                    print(
                        f"control: the user's photo -> {fetched} media request(s) at the fake,"
                        f" answered: {answered}  [{'ok' if ok else 'FAIL'}]"
                    )
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            fake.stop()
            if args.keep_log and (sandbox.root / "app.log").exists():
                args.keep_log.write_bytes((sandbox.root / "app.log").read_bytes())
    print("\n" + ("all checks passed" if not failed else "FAILED: " + "; ".join(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
