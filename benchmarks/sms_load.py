"""SMS webhook load: signed inbound texts against `balanceline serve --workers N` on PostgreSQL + Redis.

Target (the issue): >= 300 messages/s sustained with p99 <= 150 ms and zero errors or duplicates.

Processes (all on this machine, so they share its cores, as they would on a 2-core host):
- the app: `python -m agent.cli serve --workers N` (exactly the CLI; uvicorn, uvloop, httptools),
  RulesBrain, local PMS on PostgreSQL, Redis shared state, Twilio REST pointed at FakeTwilio;
- FakeTwilio (`benchmarks.fake_twilio_server`) in its own process, receiving the replies;
- the load generator (`benchmarks.sms_loadgen`) in its own process, open-loop at a fixed rate.

The plan is deterministic (seeded): conversations on demo patients' numbers (and ~5% unknown
numbers) with a realistic mix of bodies (balance questions, identity replies, PLAN, YES, STOP,
HELP, START, free text), 3-10 s between a person's texts. ~5% of the measured MessageSids are sent
again (half within 50 ms, racing the original; half 1-4 s later, like Twilio's retry).

Afterwards, from the database and FakeTwilio: every MessageSid has exactly one inbound row; each
inbound text has at most one reply (replies are attributed to the inbound text they follow,
per number, which the per-number lock serialises); FakeTwilio received exactly the replies the
database recorded, per number, so a replayed sid produced no second reply anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from benchmarks.common import (
    REDIS_BENCH_URL,
    CpuMeter,
    backend_pids,
    children_of,
    cmdline,
    create_database,
    drop_database,
    free_port,
    inbound_texts,
    pg_transactions,
    pids_named,
    sqlalchemy_url,
    summary_ms,
)

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "https://billing.example.com"  # what Twilio would call; signatures are computed for it
PRACTICE_NUMBER = "+13125550100"
PATH = "/twilio/sms/inbound"
AS_OF = date(2026, 11, 2)  # the integration harness's demo date
HARNESS_PATIENTS = 400  # tests/integration/harness.py prepares this many

TARGET_RATE = 300.0
TARGET_P99_MS = 150.0


# ---- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    phone: str
    name: str
    dob: date | None
    known: bool


@dataclass(frozen=True)
class Planned:
    t: float  # seconds after T0
    sid: str
    from_: str
    body: str
    phase: str  # "warmup" | "measure"
    replay: bool = False
    script: str = ""


FREE_TEXT = (
    "I already paid this last week",
    "Can someone call me back tomorrow afternoon?",
    "why is my bill so high?",
    "Is this about my cleaning in September?",
    "I think my insurance should cover this",
    "ok",
    "who is this?",
    "what is this charge for",
    "can I pay on the 15th when I get paid",
    "thanks",
)


def _dob_slash(d: date | None) -> str:
    return d.strftime("%m/%d/%Y") if d else "01/01/1980"


def _dob_long(d: date | None) -> str:
    return f"{d:%B} {d.day}, {d.year}" if d else "January 1, 1980"


def script_for(rng: random.Random, who: Person) -> tuple[str, list[str]]:
    """A conversation: its kind and the patient's texts in order."""
    ident = f"{who.name} {_dob_slash(who.dob)}"
    if not who.known:
        kind = rng.choice(("unknown_balance", "unknown_stop", "unknown_who"))
        if kind == "unknown_balance":
            return kind, ["Hi, what do I owe?", ident]
        if kind == "unknown_stop":
            return kind, ["who is this?", "STOP"]
        return kind, ["who is this?", "ok thanks"]
    x = rng.random()
    if x < 0.35:
        follow = rng.choice(("PLAN", "Can I pay it off in a few months?", "ok thanks", "I'll pay it Friday"))
        texts = ["Hi, what do I owe?", ident, follow]
        if follow == "PLAN":
            texts.append(rng.choice(("YES", "1")))
        return "balance", texts
    if x < 0.50:
        return "identity_first", [
            f"This is {who.name}, my date of birth is {_dob_long(who.dob)}",
            "how much is my balance",
            "thanks!",
        ]
    if x < 0.65:
        return "plan", ["PLAN", ident, "YES", "thank you"]
    if x < 0.82:
        return "free_text", rng.sample(FREE_TEXT, rng.randint(2, 3))
    if x < 0.90:
        return "stop", [
            rng.choice(("who is this?", "what is this about")),
            rng.choice(("STOP", "please stop texting me", "Stop")),
            "sorry, what do I owe?",  # suppressed now: recorded, never answered
        ]
    if x < 0.95:
        return "help", ["HELP", "what do I owe?"]
    return "stop_start", ["STOP", "START", "what do I owe?"]


def people_from_snapshot(
    snapshot: Any, rng: random.Random, unknown: int = 300
) -> tuple[list[Person], list[Person]]:
    """Known numbers (the first person matched on each, guarantor first) and unknown numbers."""
    by_phone: dict[str, list[Any]] = defaultdict(list)
    for p in snapshot.patients:
        for c in p.phones:
            by_phone[c.value].append(p)
    known = []
    for phone, matches in sorted(by_phone.items()):
        first = sorted(matches, key=lambda p: (p.patient_id != p.guarantor_id, p.patient_id))[0]
        known.append(Person(phone, first.name, first.date_of_birth, True))
    strangers: list[Person] = []
    first_names = ("Alex", "Sam", "Jordan", "Taylor", "Casey", "Morgan")
    last_names = ("Reed", "Hale", "Quinn", "Stone", "Lane", "Frost")
    n = 0
    while len(strangers) < unknown:
        phone = f"+1{(651, 952, 612, 507)[n % 4]}55501{n // 4 % 100:02d}"
        n += 1
        if n > 400:
            break
        if phone in by_phone:
            continue
        name = f"{rng.choice(first_names)} {rng.choice(last_names)}"
        strangers.append(Person(phone, name, date(1980, 1, 1), False))
    rng.shuffle(known)
    return known, strangers


def build_plan(
    known: Sequence[Person],
    strangers: Sequence[Person],
    *,
    rate: float,
    duration: float,
    warmup: float,
    replay_share: float = 0.05,
    unknown_share: float = 0.05,
    seed: int = 7,
) -> list[Planned]:
    """Exactly `rate` original texts per second for `warmup + duration` seconds, plus replays.

    Each slot takes the next text of a conversation that is due (3-10 s after its previous one);
    if none is due it starts a conversation on a free number; if every number is busy it pulls
    the earliest conversation forward (small practices: people text a little faster)."""
    rng = random.Random(seed)
    total = round(rate * (warmup + duration))
    free_known: list[Person] = list(known)
    free_strangers: list[Person] = list(strangers)
    releases: list[tuple[float, int, Person]] = []
    due: list[tuple[float, int]] = []
    convs: dict[int, tuple[Person, str, list[str]]] = {}
    out: list[Planned] = []
    next_id = 0

    def sid() -> str:
        return f"SM{rng.getrandbits(128):032x}"

    for i in range(total):
        t = i / rate
        while releases and releases[0][0] <= t:
            _, _, person = heapq.heappop(releases)
            (free_known if person.known else free_strangers).append(person)
        cid: int | None = None
        if due and due[0][0] <= t:
            cid = heapq.heappop(due)[1]
        else:
            pool = free_strangers if (free_strangers and rng.random() < unknown_share) else free_known
            if not pool:
                pool = free_strangers
            starter: Person | None = None
            if pool:
                starter = pool.pop(rng.randrange(len(pool)) if pool is free_strangers else 0)
            elif due:  # every number is mid-conversation: the earliest one texts a little sooner
                cid = heapq.heappop(due)[1]
            elif releases:  # every number just finished: the earliest starts again a little sooner
                starter = heapq.heappop(releases)[2]
            if starter is not None:
                kind, texts = script_for(rng, starter)
                cid, next_id = next_id, next_id + 1
                convs[cid] = (starter, kind, texts)
        if cid is None:  # no numbers at all
            continue
        person, kind, texts = convs[cid]
        body = texts.pop(0)
        out.append(Planned(t, sid(), person.phone, body, "warmup" if t < warmup else "measure", script=kind))
        gap = rng.uniform(3.0, 10.0)
        if texts:
            heapq.heappush(due, (t + gap, cid))
        else:
            heapq.heappush(releases, (t + gap, cid, person))
            del convs[cid]
    replays = []
    for m in out:
        if m.phase == "measure" and rng.random() < replay_share:
            delay = rng.uniform(0.001, 0.05) if rng.random() < 0.5 else rng.uniform(1.0, 4.0)
            replays.append(Planned(m.t + delay, m.sid, m.from_, m.body, "measure", True, m.script))
    return sorted(out + replays, key=lambda m: m.t)


# ---- the result ---------------------------------------------------------------------------------


@dataclass
class SmsResult:
    workers: int
    rate: float
    duration: float
    patients: int
    texts: int = 0  # distinct MessageSids in the plan (warm-up included)
    sent: int = 0  # measured requests (originals + replays)
    originals: int = 0
    replays: int = 0
    achieved: float = 0.0  # original texts answered 200 per second inside the measured window
    latency: dict[str, float] = field(default_factory=dict)  # from the scheduled instant
    service: dict[str, float] = field(default_factory=dict)  # from the actual send
    generator_lag_ms: float = 0.0  # worst lateness of the load generator
    errors: int = 0  # non-200 or failed in the end (after Retry-After retries), measured phase
    deferred: int = 0  # requests first answered 503 "still processing" and retried (then 200)
    warmup_errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    inbound_rows: int = 0
    missing_inbound: int = 0  # a 200 for a sid with no inbound row
    # ... of which the 200 went to a replay while another attempt of the same sid failed: the
    # replay was answered "duplicate" while the first attempt was still running, which then failed.
    missing_after_failed_attempt: int = 0
    duplicate_inbound: int = 0  # sids with more than one inbound row
    replies: int = 0  # outbound rows in the database
    # An inbound text followed by more than one reply (replies belong to the inbound text they
    # follow on that number: exact while the per-number lock serialises a number's texts).
    multi_reply: int = 0
    replayed_multi_reply: int = 0
    excess_replies: int = 0  # numbers with more replies recorded than texts received (hard bound)
    twilio_messages: int = 0
    twilio_excess: int = 0  # numbers FakeTwilio texted more often than they texted us (hard bound)
    twilio_mismatch: int = 0  # numbers whose FakeTwilio count differs from the database's (lost records)
    cpu: dict[str, float] = field(default_factory=dict)  # cores used per process group
    # CPU milliseconds per text answered in the window, per group (meaningful when achieved ~ rate)
    cpu_ms_per_text: dict[str, float] = field(default_factory=dict)
    pg_transactions: int = 0  # PostgreSQL transactions in the window (pg_stat_database; ~ per text below)
    # Texts the app recorded during the window, whenever they were sent: the denominator of the
    # per-text costs below, which (unlike achieved/s) stay meaningful on a busy or overloaded box.
    handled: int = 0
    app_cpu_ms_per_handled: float = 0.0
    pg_transactions_per_handled: float = 0.0
    profile: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.duplicate_inbound + self.multi_reply + self.excess_replies + self.twilio_excess

    @property
    def meets_target(self) -> bool:
        return (
            self.rate >= TARGET_RATE
            and self.achieved >= 0.99 * self.rate
            and self.latency.get("p99", 1e9) <= TARGET_P99_MS
            and self.errors == 0
            and self.warmup_errors == 0
            and self.missing_inbound == 0
            and self.duplicates == 0
            and self.twilio_mismatch == 0
        )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duplicates"] = self.duplicates
        d["meets_target"] = self.meets_target
        return d


# ---- processes ----------------------------------------------------------------------------------


def _env(db_url: str, redis_url: str, twilio_base: str) -> dict[str, str]:
    from tests.fakes.twilio_rest import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STRIPE_", "DEEPGRAM_", "ELEVEN"))
    }
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        PUBLIC_BASE_URL=PUBLIC,
        TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
        TWILIO_FROM_NUMBER=PRACTICE_NUMBER,
        TWILIO_API_BASE=twilio_base,
        BALANCELINE_API_TOKEN="bench-token",
        PMS="local",
        PYTHONUNBUFFERED="1",
    )
    env.pop("POLICY_FILE", None)
    env.pop("TWILIO_MESSAGING_SERVICE_SID", None)
    return env


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""
    except OSError:
        return 0, b""


def _wait_ready(url: str, proc: subprocess.Popen[Any], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode} before it was ready")
        if _get(url + "/readyz")[0] == 200:
            return
        time.sleep(0.25)
    raise RuntimeError("the app did not become ready")


def _stop(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop a process we started, and (for the uvicorn supervisor) its workers, by pid."""
    if proc is None or proc.poll() is not None:
        return
    kids = children_of(proc.pid)
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    for pid in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _fake_twilio(logs: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fake_twilio_server"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(logs / "fake_twilio.log").open("w"),
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"FakeTwilio did not start: {line!r}")
        yield proc, f"http://127.0.0.1:{line.split()[1]}"
    finally:
        if proc.stdin:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        _stop(proc)


@contextlib.contextmanager
def _app(workers: int, env: dict[str, str], logs: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    log = (logs / f"app_w{workers}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "serve", "--workers", str(workers), "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        yield proc, url
    finally:
        _stop(proc, signal.SIGINT)
        log.close()


def _readline(stream: IO[str], expect: str, proc: subprocess.Popen[str]) -> str:
    while True:
        line = stream.readline()
        if not line:
            raise RuntimeError(f"the load generator exited ({proc.poll()}) before {expect}")
        if line.startswith(expect):
            return line.strip()


# ---- verification -------------------------------------------------------------------------------


async def _quiesce(dsn: str, quiet: float = 3.0, limit: float = 120.0) -> bool:
    """Wait until the app has written nothing for `quiet` seconds (False after `limit`)."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        last, since, start = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - start < limit:
            n = await conn.fetchval(
                "SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM audit_events)"
                " + (SELECT count(*) FROM contact_attempts)"
            )
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await conn.close()


async def _db_facts(dsn: str) -> tuple[dict[str, int], list[tuple[str, str, str | None]]]:
    """(inbound rows per MessageSid, messages per contact in time order as (contact, direction, sid))."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        counts = await conn.fetch(
            "SELECT provider_sid, count(*) AS n FROM messages WHERE direction = 'in' GROUP BY provider_sid"
        )
        rows = await conn.fetch(
            "SELECT c.contact, m.direction, m.provider_sid FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id WHERE m.channel = 'sms' "
            "ORDER BY c.contact, m.created_at, m.direction, m.id"
        )
    finally:
        await conn.close()
    return (
        {r["provider_sid"]: int(r["n"]) for r in counts},
        [(r["contact"], r["direction"], r["provider_sid"]) for r in rows],
    )


def verify(
    result: SmsResult,
    plan: Sequence[Planned],
    statuses: dict[str, list[int]],
    inbound: dict[str, int],
    timeline: Sequence[tuple[str, str, str | None]],
    twilio_to: Counter[str],
) -> None:
    """Fill the duplicate / loss counters of `result` (see the module docstring)."""
    replayed = {m.sid for m in plan if m.replay}
    result.inbound_rows = sum(inbound.values())
    result.duplicate_inbound = sum(1 for sid in statuses if inbound.get(sid, 0) > 1)
    missing = [sid for sid, sts in statuses.items() if 200 in sts and inbound.get(sid, 0) == 0]
    result.missing_inbound = len(missing)
    result.missing_after_failed_attempt = sum(1 for sid in missing if any(st != 200 for st in statuses[sid]))
    replies_after: Counter[str] = Counter()
    db_in: Counter[str] = Counter()
    db_out: Counter[str] = Counter()
    last_in: dict[str, str | None] = {}
    for contact, direction, sid in timeline:
        if direction == "in":
            db_in[contact] += 1
            last_in[contact] = sid
        else:
            db_out[contact] += 1
            prev = last_in.get(contact)
            replies_after[prev or f"<before any inbound:{contact}>"] += 1
    result.replies = sum(db_out.values())
    result.multi_reply = sum(1 for n in replies_after.values() if n > 1)
    result.replayed_multi_reply = sum(1 for sid, n in replies_after.items() if n > 1 and sid in replayed)
    result.excess_replies = sum(1 for c, n in db_out.items() if n > db_in[c])
    result.twilio_messages = sum(twilio_to.values())
    result.twilio_excess = sum(1 for c, n in twilio_to.items() if n > db_in[c])
    result.twilio_mismatch = sum(1 for c in set(db_out) | set(twilio_to) if db_out[c] != twilio_to[c])


# ---- profiling ----------------------------------------------------------------------------------


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def _start_profiles(
    pids: Sequence[int], seconds: float, outdir: Path
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    exe = py_spy()
    if exe is None:
        return []
    procs = []
    for pid in pids:
        out = outdir / f"pyspy_{pid}.txt"
        cmd = [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
               "--format", "raw", "--nonblocking", "--output", str(out)]  # fmt: skip
        procs.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
    return procs


OUR_PACKAGES = ("agent", "telephony", "tools", "pms", "policies", "prompts")


def _frame(fr: str) -> tuple[str, str]:
    """("Func (path)", top-level package) of one py-spy frame "Func (path:line)"."""
    if " (" not in fr:
        return fr or "<native>", "<native>"
    func, loc = fr.split(" (", 1)
    path = loc.rsplit(":", 1)[0].rstrip(")")
    return f"{func} ({path})", path.split("/", 1)[0] if "/" in path else path


def summarise_profile(files: Sequence[Path], top: int = 25) -> list[tuple[str, float]]:
    """From py-spy raw (collapsed) stacks: CPU share by package (self time), then the inclusive
    share of our own functions (agent, tools, …), biggest first."""
    total = 0
    inclusive: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    for f in files:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            count = int(n)
            total += count
            frames = [_frame(fr) for fr in stack.split(";")]
            by_package[frames[-1][1]] += count
            for name in {name for name, pkg in frames if pkg in OUR_PACKAGES}:
                inclusive[name] += count
    if not total:
        return []
    out = [(f"self: {pkg}", 100.0 * n / total) for pkg, n in by_package.most_common(10)]
    return out + [(name, 100.0 * n / total) for name, n in inclusive.most_common(top)]


# ---- the run ------------------------------------------------------------------------------------


async def prepare(url: str, patients: int) -> Any:
    """The integration harness's `prepare_database` (400 patients); a bigger practice the same way."""
    if patients == HARNESS_PATIENTS:
        # Imported by name: the harness is test code, type-checked with the tests, not here.
        harness = importlib.import_module("tests.integration.harness")
        await harness.prepare_database(url)
        return harness.demo_snapshot()
    from agent.store.db import make_engine
    from agent.store.migrate import upgrade
    from pms.demo import generate
    from pms.local.adapter import LocalPms
    from policies.config import load_policy

    snapshot = generate(seed=7, patients=patients, as_of=AS_OF)
    await upgrade(url)
    engine = make_engine(url)
    try:
        await LocalPms(engine, practice_id=load_policy().practice.practice_id).load_snapshot(
            snapshot, replace=True
        )
    finally:
        await engine.dispose()
    return snapshot


def _clear_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match="bl:*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
    finally:
        client.close()


def run_sms(
    *,
    workers: int = 2,
    rate: float = TARGET_RATE,
    duration: float = 30.0,
    warmup: float = 5.0,
    patients: int = 5000,
    replay_share: float = 0.05,
    redis_url: str = REDIS_BENCH_URL,
    profile: bool = False,
    keep: bool = False,
    workdir: Path | None = None,
    say: Callable[[str], None] = print,
) -> SmsResult:
    """One full run (fresh database, fresh processes). See the module docstring."""
    work = (
        workdir or Path(os.environ.get("TMPDIR", "/tmp")) / f"bl_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    )
    work.mkdir(parents=True, exist_ok=True)
    dbname = f"bl_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    db_url = sqlalchemy_url(dbname)
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    result = SmsResult(workers=workers, rate=rate, duration=duration, patients=patients)
    say(f"[sms w={workers}] database {dbname}: migrating and loading the demo practice ({patients} patients)")
    asyncio.run(create_database(dbname))
    try:
        snapshot = asyncio.run(prepare(db_url, patients))
        _clear_redis(redis_url)
        rng = random.Random(7)
        known, strangers = people_from_snapshot(snapshot, rng)
        plan = build_plan(
            known, strangers, rate=rate, duration=duration, warmup=warmup, replay_share=replay_share
        )
        result.texts = len({m.sid for m in plan})
        if len(known) < rate * 6:
            result.notes.append(f"only {len(known)} known numbers: people text faster than 3-10 s apart")
        with _fake_twilio(work) as (twilio_proc, twilio_url):
            with _app(workers, _env(db_url, redis_url, twilio_url), work) as (app_proc, app_url):
                _drive(
                    result, plan, app_proc, app_url, twilio_proc, dbname, work, warmup, duration, profile, say
                )
                # Requests the generator gave up on may still be running: let the app finish them
                # (stopping it mid-request would lose records and read as a broken invariant).
                if not asyncio.run(_quiesce(dsn)):
                    result.notes.append("the app was still writing 120 s after the last request")
            # The app has stopped: every reply it was going to send has reached FakeTwilio.
            status, raw = _get(twilio_url + "/fake/messages", timeout=60)
            twilio_to: Counter[str] = Counter()
            if status == 200:
                for form in json.loads(raw):
                    twilio_to[form.get("To", [""])[0]] += 1
            else:
                result.notes.append(f"FakeTwilio control surface answered {status}")
        statuses: dict[str, list[int]] = defaultdict(list)
        rows = json.loads((work / "results.json").read_text())["rows"]
        for row, m in zip(rows, plan, strict=True):
            statuses[m.sid].append(row[4])
        inbound, timeline = asyncio.run(_db_facts(dsn))
        verify(result, plan, statuses, inbound, timeline, twilio_to)
    finally:
        if not keep:
            asyncio.run(drop_database(dbname))
            _clear_redis(redis_url)
        else:
            result.notes.append(f"kept database {dbname}")
    return result


def _drive(
    result: SmsResult,
    plan: Sequence[Planned],
    app_proc: subprocess.Popen[bytes],
    app_url: str,
    twilio_proc: subprocess.Popen[str],
    dbname: str,
    work: Path,
    warmup: float,
    duration: float,
    profile: bool,
    say: Callable[[str], None],
) -> None:
    from tests.fakes.twilio_rest import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

    plan_file, out_file = work / "plan.json", work / "results.json"
    plan_file.write_text(
        json.dumps(
            {
                "url": app_url,
                "public_base_url": PUBLIC,
                "path": PATH,
                "auth_token": DEFAULT_AUTH_TOKEN,
                "account_sid": DEFAULT_ACCOUNT_SID,
                "timeout": 30,
                "connections": 512,
                "requests": [[m.t, m.sid, m.from_, PRACTICE_NUMBER, m.body] for m in plan],
            }
        )
    )
    gen = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sms_loadgen", str(plan_file), str(out_file)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(work / "loadgen.log").open("w"), text=True,
    )  # fmt: skip
    try:
        assert gen.stdin is not None and gen.stdout is not None
        _readline(gen.stdout, "READY", gen)
        workers = [p for p in children_of(app_proc.pid) if "resource_tracker" not in cmdline(p)] or [
            app_proc.pid
        ]
        gen.stdin.write("GO\n")
        gen.stdin.flush()
        t0 = float(_readline(gen.stdout, "T0", gen).split()[1])
        say(
            f"[sms w={len(workers)}] warm-up {warmup:.0f} s, then {duration:.0f} s measured at {result.rate:.0f}/s"
        )
        time.sleep(max(0.0, t0 + warmup - time.time()))
        meter = CpuMeter(
            {
                "app": lambda: [app_proc.pid, *workers],
                "postgres": lambda: asyncio.run(backend_pids(dbname)),
                "redis (shared)": lambda: pids_named("redis-server"),
                "fake_twilio": lambda: [twilio_proc.pid],
                "loadgen": lambda: [gen.pid],
            }
        )
        xacts = asyncio.run(pg_transactions(dbname))
        handled = asyncio.run(inbound_texts(dbname))
        meter.start()
        spies = _start_profiles(workers, duration, work) if profile else []
        if profile and not spies:
            result.notes.append("py-spy not found: pip install py-spy into the venv to profile")
        time.sleep(max(0.0, t0 + warmup + duration - time.time()))
        result.cpu = meter.stop(duration)
        result.pg_transactions = asyncio.run(pg_transactions(dbname)) - xacts
        result.handled = asyncio.run(inbound_texts(dbname)) - handled
        if result.handled:
            cores = result.cpu.get("app", 0.0)
            result.app_cpu_ms_per_handled = 1000 * cores * duration / result.handled
            result.pg_transactions_per_handled = result.pg_transactions / result.handled
            result.notes.append(
                f"per text recorded in the window ({result.handled}): app CPU "
                f"{result.app_cpu_ms_per_handled:.1f} ms, {result.pg_transactions_per_handled:.1f} "
                "PostgreSQL transactions"
            )
        if meter.lost.get("postgres"):
            result.notes.append(
                f"{meter.lost['postgres']} PostgreSQL backends ended during the window (CPU not counted)"
            )
        _readline(gen.stdout, "DONE", gen)
        gen.wait(timeout=60)
        for spy, _ in spies:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(timeout=30)
        if spies:
            result.profile = summarise_profile([out for _, out in spies])
            keep = os.environ.get("BALANCELINE_BENCH_PROFILE_DIR")  # raw stacks, for a closer look
            if keep:
                Path(keep).mkdir(parents=True, exist_ok=True)
                for _, out in spies:
                    if out.exists():
                        shutil.copy(out, keep)
    finally:
        _stop(gen)
    _score(result, plan, json.loads(out_file.read_text())["rows"], warmup, duration)


def _score(
    result: SmsResult, plan: Sequence[Planned], rows: list[list[Any]], warmup: float, duration: float
) -> None:
    end = warmup + duration
    measured = [(m, r) for m, r in zip(plan, rows, strict=True) if m.phase == "measure"]
    result.sent = len(measured)
    result.originals = sum(1 for m, _ in measured if not m.replay)
    result.replays = result.sent - result.originals
    ok_in_window = sum(1 for m, r in measured if not m.replay and r[4] == 200 and warmup <= r[3] <= end)
    result.achieved = ok_in_window / duration
    result.latency = summary_ms(r[3] - r[1] for _, r in measured)
    result.service = summary_ms(r[3] - r[2] for _, r in measured)
    result.generator_lag_ms = 1000 * max((r[2] - r[1] for _, r in measured), default=0.0)
    result.deferred = sum(1 for _, r in measured if len(r) > 6 and r[6] > 0)
    kinds: Counter[str] = Counter()
    for m, r in zip(plan, rows, strict=True):
        if r[4] != 200:
            kinds[str(r[4]) if r[4] > 0 else (r[5] or "error")] += 1
            if m.phase == "measure":
                result.errors += 1
            else:
                result.warmup_errors += 1
    result.error_kinds = dict(kinds)
    if result.achieved > 0:
        result.cpu_ms_per_text = {
            k: 1000 * v / result.achieved for k, v in result.cpu.items() if k not in ("machine", "other")
        }
