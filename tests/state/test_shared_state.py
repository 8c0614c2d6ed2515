"""One contract suite for `SharedState`, run against the in-process backend and real Redis.

`states` yields two handles on the same shared state: for memory the same object twice, for Redis
two independent clients (two "replicas") on the same key prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agent.state import InProcessState, LockNotAcquired, RedisState, SharedState, make_state

WAIT = 10.0  # generous bound so a broken implementation fails instead of hanging


@pytest.fixture(params=["memory", "redis"])
async def states(request: pytest.FixtureRequest) -> AsyncIterator[tuple[SharedState, SharedState]]:
    if request.param == "memory":
        mem = InProcessState()
        yield mem, mem
        await mem.close()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    a, b = RedisState(url, prefix=prefix), RedisState(url, prefix=prefix)
    yield a, b
    await a.close()
    await b.close()
    await _drop_keys(url, prefix)


async def _drop_keys(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
def state(states: tuple[SharedState, SharedState]) -> SharedState:
    return states[0]


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` until it is true; fail (TimeoutError) after WAIT seconds."""
    async with asyncio.timeout(WAIT):
        while not await check():  # noqa: ASYNC110 - polling real TTL expiry is the point
            await asyncio.sleep(0.05)


# ---- claims ----------------------------------------------------------------------------------------


async def test_claim_is_true_once_and_release_allows_again(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    assert await a.claim("sms-in:SM1", 60) is True
    assert await a.claim("sms-in:SM1", 60) is False
    assert await b.claim("sms-in:SM1", 60) is False
    assert await b.claim("sms-in:SM2", 60) is True
    await b.release("sms-in:SM1")
    assert await a.claim("sms-in:SM1", 60) is True


async def test_fifty_concurrent_claims_one_winner(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    results = await asyncio.gather(*[(a if i % 2 else b).claim("webhook:evt_1", 60) for i in range(50)])
    assert results.count(True) == 1
    assert results.count(False) == 49


async def test_claim_expires_after_ttl(state: SharedState) -> None:
    assert await state.claim("short", 1) is True
    assert await state.claim("short", 1) is False
    await eventually(lambda: state.claim("short", 60))
    assert await state.claim("short", 60) is False


# ---- values ----------------------------------------------------------------------------------------


async def test_get_set_delete(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    assert await a.get("session:+15550001111") is None
    await a.set("session:+15550001111", '{"cv": "cv_1"}')
    assert await b.get("session:+15550001111") == '{"cv": "cv_1"}'
    await b.set("session:+15550001111", "v2")
    assert await a.get("session:+15550001111") == "v2"
    await a.delete("session:+15550001111")
    assert await b.get("session:+15550001111") is None
    await a.delete("never-set")  # deleting a missing key is fine


async def test_value_ttl(state: SharedState) -> None:
    await state.set("ephemeral", "x", ttl_seconds=1)
    await state.set("durable", "y")
    assert await state.get("ephemeral") == "x"
    await eventually(lambda: _is_none(state, "ephemeral"))
    assert await state.get("durable") == "y"


async def _is_none(state: SharedState, key: str) -> bool:
    return await state.get(key) is None


# ---- locks -----------------------------------------------------------------------------------------


async def test_contending_lock_holders_never_overlap(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    inside = 0
    overlaps = 0
    entries: list[str] = []

    async def worker(st: SharedState, name: str) -> None:
        nonlocal inside, overlaps
        for _ in range(8):
            async with st.lock("account:G1", ttl_seconds=10, wait_seconds=WAIT):
                inside += 1
                if inside > 1:
                    overlaps += 1
                entries.append(name)
                await asyncio.sleep(0.005)
                inside -= 1

    await asyncio.wait_for(asyncio.gather(worker(a, "a"), worker(b, "b"), worker(a, "c")), WAIT * 2)
    assert overlaps == 0
    assert sorted(entries) == ["a"] * 8 + ["b"] * 8 + ["c"] * 8


async def test_lock_wait_gives_up_with_lock_not_acquired(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    async with a.lock("dial:G2", ttl_seconds=30):
        with pytest.raises(LockNotAcquired):
            async with b.lock("dial:G2", wait_seconds=0.2):
                pytest.fail("acquired a lock that is held")
        async with b.lock("dial:other", wait_seconds=0):  # other keys are independent
            pass
    async with b.lock("dial:G2", wait_seconds=0):  # released on exit
        pass


async def test_lock_released_when_body_raises(state: SharedState) -> None:
    with pytest.raises(ValueError):
        async with state.lock("boom"):
            raise ValueError("inside")
    async with state.lock("boom", wait_seconds=0):
        pass


async def test_lock_ttl_lapses_and_late_release_does_not_free_new_holder(
    states: tuple[SharedState, SharedState],
) -> None:
    a, b = states
    b_has_it = asyncio.Event()
    b_may_leave = asyncio.Event()

    async def second() -> None:
        async with b.lock("job:1", ttl_seconds=30, wait_seconds=WAIT):
            b_has_it.set()
            await b_may_leave.wait()

    async with a.lock("job:1", ttl_seconds=0.5):
        task = asyncio.create_task(second())
        await asyncio.wait_for(b_has_it.wait(), WAIT)  # only possible once a's TTL lapsed
    # a's (late) release must not have removed b's lock
    with pytest.raises(LockNotAcquired):
        async with a.lock("job:1", wait_seconds=0.1):
            pass
    b_may_leave.set()
    await asyncio.wait_for(task, WAIT)
    async with a.lock("job:1", wait_seconds=0):
        pass


# ---- rate limits -----------------------------------------------------------------------------------


async def test_hit_limits_within_window_and_recovers(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    first = [await (a if i % 2 else b).hit("sms:+1555", limit=3, window_seconds=1) for i in range(3)]
    assert first == [True] * 3
    assert await a.hit("sms:+1555", limit=3, window_seconds=1) is False
    assert await b.hit("sms:+1555", limit=3, window_seconds=1) is False
    assert await a.hit("sms:+1666", limit=3, window_seconds=1) is True
    await eventually(lambda: a.hit("sms:+1555", limit=3, window_seconds=1))


async def test_concurrent_hits_never_exceed_limit(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    results = await asyncio.gather(
        *[(a if i % 2 else b).hit("api:token", limit=7, window_seconds=60) for i in range(40)]
    )
    assert results.count(True) == 7


# ---- pub/sub ---------------------------------------------------------------------------------------


async def test_publish_reaches_two_subscribers(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    sub1 = a.subscribe("console")
    sub2 = b.subscribe("console")
    other = a.subscribe("elsewhere")
    for sub in (sub1, sub2, other):
        await sub.start()  # type: ignore[attr-defined]
    try:
        for msg in ("one", "two", "three"):
            await b.publish("console", msg)

        async def take(sub: AsyncIterator[str], n: int) -> list[str]:
            return [await sub.__anext__() for _ in range(n)]

        got1, got2 = await asyncio.wait_for(asyncio.gather(take(sub1, 3), take(sub2, 3)), WAIT)
        assert got1 == ["one", "two", "three"]
        assert got2 == ["one", "two", "three"]
        await a.publish("elsewhere", "mine")
        assert await asyncio.wait_for(other.__anext__(), WAIT) == "mine"  # nothing from "console" queued
    finally:
        for sub in (sub1, sub2, other):
            await sub.aclose()  # type: ignore[attr-defined]


async def test_subscription_as_context_manager_ends_on_close(state: SharedState) -> None:
    received: list[str] = []
    async with state.subscribe("live") as sub:  # type: ignore[attr-defined]
        await state.publish("live", "hello")

        async def consume() -> None:
            async for msg in sub:
                received.append(msg)

        task = asyncio.create_task(consume())
        await eventually(lambda: _true(bool(received)))
        await sub.aclose()
        await asyncio.wait_for(task, WAIT)  # iteration ended because the subscription closed
    assert received == ["hello"]


async def _true(value: bool) -> bool:
    return value


async def test_ping(state: SharedState) -> None:
    assert await state.ping() is True


# ---- backend specifics -----------------------------------------------------------------------------


async def test_redis_close_unsubscribes(redis_url: str, redis_prefix: str, redis_cleanup: None) -> None:
    import redis.asyncio as aioredis

    st = RedisState(redis_url, prefix=redis_prefix)
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        sub = st.subscribe("numsub")
        await sub.start()
        assert dict(await raw.pubsub_numsub(redis_prefix + "numsub")) == {redis_prefix + "numsub": 1}
        await sub.aclose()
        await eventually(lambda: _numsub_zero(raw, redis_prefix + "numsub"))
    finally:
        await st.close()
        await raw.aclose()


async def _numsub_zero(raw: object, channel: str) -> bool:
    return dict(await raw.pubsub_numsub(channel)) == {channel: 0}  # type: ignore[attr-defined]


async def test_redis_prefixes_isolate(redis_url: str, redis_prefix: str, redis_cleanup: None) -> None:
    one = RedisState(redis_url, prefix=redis_prefix + "one:")
    two = RedisState(redis_url, prefix=redis_prefix + "two:")
    try:
        assert await one.claim("k", 60) is True
        assert await two.claim("k", 60) is True
        await one.set("v", "1")
        assert await two.get("v") is None
    finally:
        await one.close()
        await two.close()


async def test_redis_ping_false_when_unreachable() -> None:
    st = RedisState("redis://127.0.0.1:1/0")
    try:
        assert await st.ping() is False
    finally:
        await st.close()


async def test_make_state_picks_backend(redis_url: str) -> None:
    mem = make_state(None)
    red = make_state(redis_url, prefix="bltest:factory:")
    try:
        assert mem.backend == "memory" and isinstance(mem, InProcessState)
        assert red.backend == "redis" and isinstance(red, RedisState)
        assert await red.ping() is True
    finally:
        await mem.close()
        await red.close()


# ---- claim_locked (exactly-once processing under a lock) -----------------------------------------


async def test_claim_locked_claims_once_then_done(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    kw = {"lock": "num:1", "in_flight_ttl": 30, "done_ttl": 60, "lock_ttl": 5, "lock_wait": 2}
    async with a.claim_locked("msg:1", **kw) as first:
        assert first == "claimed"
        async with b.claim_locked("msg:1", **kw) as during:
            assert during == "in_flight"  # the first delivery is still processing
        with pytest.raises(LockNotAcquired):  # the number's lock is held by the first
            async with b.lock("num:1", wait_seconds=0.05):
                pass
    async with b.claim_locked("msg:1", **kw) as after:
        assert after == "done"
    async with b.lock("num:1", wait_seconds=0.5):  # released on exit
        pass
    assert await b.get("msg:1") == "done"


async def test_claim_locked_forgets_the_claim_when_processing_fails(
    states: tuple[SharedState, SharedState],
) -> None:
    a, b = states
    kw = {"lock": "num:2", "in_flight_ttl": 30, "done_ttl": 60, "lock_ttl": 5, "lock_wait": 2}
    with pytest.raises(RuntimeError):
        async with a.claim_locked("msg:2", **kw) as claim:
            assert claim == "claimed"
            raise RuntimeError("processing failed")
    assert await b.get("msg:2") is None
    async with b.claim_locked("msg:2", **kw) as retry:
        assert retry == "claimed"  # Twilio's retry is processed


async def test_claim_locked_serialises_texts_of_one_number(states: tuple[SharedState, SharedState]) -> None:
    a, b = states
    inside = 0
    peak = 0

    async def text(state: SharedState, i: int) -> str:
        nonlocal inside, peak
        kw = {"lock": "num:3", "in_flight_ttl": 30, "done_ttl": 60, "lock_ttl": 5, "lock_wait": WAIT}
        async with state.claim_locked(f"msg:3:{i}", **kw) as claim:
            if claim == "claimed":
                inside += 1
                peak = max(peak, inside)
                await asyncio.sleep(0.01)
                inside -= 1
            return claim

    claims = await asyncio.gather(*(text(a if i % 2 else b, i) for i in range(8)))
    assert claims == ["claimed"] * 8 and peak == 1


async def test_claim_locked_gives_up_on_a_held_lock_and_forgets_the_claim(
    states: tuple[SharedState, SharedState],
) -> None:
    a, b = states
    async with a.lock("num:4", ttl_seconds=5):
        with pytest.raises(LockNotAcquired):
            async with b.claim_locked(
                "msg:4", lock="num:4", in_flight_ttl=30, done_ttl=60, lock_ttl=5, lock_wait=0.05
            ):
                pass
    assert await b.get("msg:4") is None
