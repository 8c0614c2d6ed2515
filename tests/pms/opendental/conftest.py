"""A loopback Open Dental server per module and adapters pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from pms.opendental import OpenDentalClient, OpenDentalPms
from pms.opendental.client import Mode, Tier
from tests.fakes.opendental_server import FakeOpenDental

TZ = "America/Chicago"
PRACTICE = "maple-grove-family-dental"
AdapterFactory = Callable[..., OpenDentalPms]


@pytest.fixture(scope="module")
def od_server() -> Iterator[FakeOpenDental]:
    with FakeOpenDental(throttle=False, hang_seconds=0.8) as fake:
        yield fake


@pytest.fixture
def od(od_server: FakeOpenDental) -> FakeOpenDental:
    od_server.reset()
    od_server.throttle = False
    od_server.tier = "payments"
    od_server.page_size = 1000  # like Local mode, which the adapters below use
    return od_server


@pytest.fixture
async def make_adapter(od: FakeOpenDental) -> AsyncIterator[AdapterFactory]:
    made: list[OpenDentalPms] = []

    def factory(tier: Tier = "payments", mode: Mode = "local", **client: object) -> OpenDentalPms:
        settings: dict[str, object] = {"timeout": 0.5, "read_retries": 2, "retry_backoff": 0.01, **client}
        c = OpenDentalClient(od.base_url, od.developer_key, od.customer_key, tier=tier, mode=mode, **settings)  # type: ignore[arg-type]
        adapter = OpenDentalPms(c, practice_id=PRACTICE, timezone=TZ)
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.close()
