"""The Open Dental client against the loopback server: auth, conventions, paging, retries, throttling."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from agent.pms_opendental import build_opendental
from agent.settings import SettingsError, load_settings
from agent.state.redis_state import RedisState
from pms.opendental import OpenDentalClient, OpenDentalUnavailable, mode_for
from pms.opendental.client import OpenDentalError
from pms.opendental.conventions import od_bool, od_date, od_datetime, od_money, to_od_datetime
from pms.types import CommLogWrite
from policies.config import load_policy
from tests.fakes.opendental_server import TIER_INTERVAL, FakeOpenDental
from tests.pms.opendental.conftest import AdapterFactory

CHICAGO = ZoneInfo("America/Chicago")


def test_conventions() -> None:
    assert od_bool("true") and not od_bool("false") and not od_bool("") and od_bool(True)
    assert od_money("1234.5") == Decimal("1234.50") and od_money(12.1) == Decimal("12.10")
    assert od_money("") == Decimal("0.00") and od_money(None) == Decimal("0.00")
    with pytest.raises(ValueError):
        od_money("twelve")
    assert od_date("0001-01-01") is None and od_date("2026-11-02") == date(2026, 11, 2)
    assert od_datetime("0001-01-01 00:00:00", CHICAGO) is None
    local = od_datetime("2026-07-04 09:30:00", CHICAGO)
    assert local is not None and local.utcoffset() is not None
    assert local.astimezone(UTC) == datetime(2026, 7, 4, 14, 30, tzinfo=UTC)  # CDT
    assert to_od_datetime(datetime(2026, 12, 1, 16, 0, tzinfo=UTC), CHICAGO) == "2026-12-01 10:00:00"  # CST


def test_mode_from_url() -> None:
    assert mode_for("https://api.opendental.com/api/v1") == "remote"
    assert mode_for("http://server:30223/api/v1") == "service"
    assert mode_for("http://localhost:30222/api/v1/") == "local"


async def test_wrong_keys_are_refused(od: FakeOpenDental) -> None:
    client = OpenDentalClient(od.base_url, od.developer_key, "wrong", mode="local")
    try:
        with pytest.raises(OpenDentalUnavailable, match="refused the API keys"):
            await client.get("/patients/1")  # a read: the agent says it cannot look that up now
        with pytest.raises(OpenDentalError) as err:
            await client.post("/commlogs", {"PatNum": 1, "Note": "x"})  # a write: a definite failure
        assert err.value.status == 401
    finally:
        await client.aclose()


async def test_paging_walks_until_a_short_page(od: FakeOpenDental) -> None:
    od.page_size = 100
    client = OpenDentalClient(od.base_url, od.developer_key, od.customer_key, mode="local", page_size=100)
    try:
        rows = await client.get_all("/patients/Simple")
    finally:
        await client.aclose()
    assert len(rows) == len(od.patients) and len({r["PatNum"] for r in rows}) == len(rows)
    pages = od.count("/patients/Simple", "GET")
    assert pages == len(od.patients) // 100 + 1


async def test_reads_retry_5xx_writes_do_not(od: FakeOpenDental, make_adapter: AdapterFactory) -> None:
    pms = make_adapter()
    od.fail_next(2, 500)
    assert (await pms.get_patient("1")) is not None  # third try answers
    assert od.count("/patients/1", "GET") == 3
    od.fail_next(1, 504)
    req = CommLogWrite(
        "k1", "1", datetime(2026, 11, 2, 16, tzinfo=UTC), "text", "sent", "hello [cx:AAAAAAAA]"
    )
    result = await pms.write_comm_log(req)
    assert result.status == "unknown"  # a 504 may have been applied: never re-posted blindly
    assert od.count("/commlogs", "POST") == 1


async def test_econnector_down_is_unavailable_not_bad_input(
    od: FakeOpenDental, make_adapter: AdapterFactory
) -> None:
    pms = make_adapter()
    od.econnector_down = True
    with pytest.raises(OpenDentalUnavailable, match="eConnector"):
        await pms.get_account("1")
    assert od.count("/patients/1", "GET") == 1  # a 400 is not retried
    health = await pms.health()
    assert not health.reachable and "eConnector" in health.detail
    od.econnector_down = False
    health = await pms.health()
    assert health.reachable and health.last_aging_at is not None


async def test_reads_give_up_after_retries(od: FakeOpenDental, make_adapter: AdapterFactory) -> None:
    pms = make_adapter()
    od.fail_next(10, 503)
    with pytest.raises(OpenDentalUnavailable):
        await pms.get_patient("1")
    assert od.count("/patients/1", "GET") == 3  # 1 + read_retries


@pytest.mark.parametrize("tier", ["payments", "read"])
async def test_a_burst_never_exceeds_the_tier_rate(
    od: FakeOpenDental, make_adapter: AdapterFactory, tier: str
) -> None:
    """Remote mode: requests are spaced by the tier; the server (which answers 429 to anything
    faster) records no 429 and no gap shorter than the tier's interval."""
    od.throttle, od.tier = True, tier
    pms = make_adapter(tier=tier, mode="remote")
    burst = 4 if tier == "payments" else 2
    for _ in range(burst):
        assert await pms.get_patient("1") is not None
    seen = [r for r in od.requests if r.customer_key == od.customer_key]
    assert len(seen) == burst and all(r.status == 200 for r in seen)
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    assert min(gaps) >= TIER_INTERVAL[tier]


async def test_a_429_is_waited_out(od: FakeOpenDental, make_adapter: AdapterFactory) -> None:
    """Another process on the same key used the window: the server says 429, the client waits and
    re-sends once (a 429 was not processed, so even a write may be re-sent)."""
    od.throttle, od.tier = True, "payments"
    pms = make_adapter(mode="local")  # no client-side spacing: only the server's 429 paces it
    assert await pms.get_patient("1") is not None
    assert await pms.get_patient("2") is not None
    statuses = [r.status for r in od.requests]
    assert statuses == [200, 429, 200]


def test_settings_name_the_missing_open_dental_variable() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(
            _env_file=None, PMS="opendental", OPENDENTAL_BASE_URL="https://api.opendental.com/api/v1"
        )
    message = str(err.value)
    assert "OPENDENTAL_DEVELOPER_KEY" in message and "OPENDENTAL_CUSTOMER_KEY" in message
    assert "OPENDENTAL_BASE_URL" not in message


async def test_replicas_share_the_key_budget_over_redis(
    od: FakeOpenDental, redis_url: str, redis_prefix: str, redis_cleanup: None
) -> None:
    """Two app processes (own clients, own Redis connections) on one customer key: together they
    stay within the tier's rate, so Open Dental never answers 429."""
    od.throttle, od.tier = True, "payments"
    settings = load_settings(
        _env_file=None,
        PMS="opendental",
        OPENDENTAL_BASE_URL=od.base_url,
        OPENDENTAL_DEVELOPER_KEY=od.developer_key,
        OPENDENTAL_CUSTOMER_KEY=od.customer_key,
        OPENDENTAL_TIER="payments",
    )
    states = [RedisState(redis_url, prefix=redis_prefix) for _ in range(2)]
    replicas = [build_opendental(settings, load_policy(), lambda: datetime.now(UTC), s) for s in states]
    try:
        assert replicas[0].client.mode == "remote"
        found = await asyncio.gather(*(r.get_patient(pid) for r in replicas for pid in ("1", "2")))
        assert all(p is not None for p in found)
    finally:
        for r, s in zip(replicas, states, strict=True):
            await r.close()
            await s.close()
    seen = od.requests
    assert len(seen) == 4 and all(r.status == 200 for r in seen)
    assert min(b.at - a.at for a, b in itertools.pairwise(seen)) >= TIER_INTERVAL["payments"]
