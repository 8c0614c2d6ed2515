"""Composition of the Open Dental adapter from settings (PMS=opendental)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from agent.settings import Settings, SettingsError
from pms.opendental import OpenDentalClient, OpenDentalPms
from policies.config import PracticePolicy


def build_opendental(
    settings: Settings, policy: PracticePolicy, clock: Callable[[], datetime]
) -> OpenDentalPms:
    """The adapter for this practice; a `SettingsError` names each missing variable."""
    missing = [
        name
        for name, value in (
            ("OPENDENTAL_BASE_URL", settings.opendental_base_url),
            ("OPENDENTAL_DEVELOPER_KEY", settings.opendental_developer_key),
            ("OPENDENTAL_CUSTOMER_KEY", settings.opendental_customer_key),
        )
        if not value
    ]
    if missing:
        raise SettingsError(f"PMS=opendental needs {', '.join(missing)}")
    assert settings.opendental_base_url and settings.opendental_developer_key
    assert settings.opendental_customer_key
    client = OpenDentalClient(
        settings.opendental_base_url,
        settings.opendental_developer_key.get_secret_value(),
        settings.opendental_customer_key.get_secret_value(),
        tier=settings.opendental_tier,
        mode=settings.opendental_mode,
    )
    return OpenDentalPms(
        client,
        practice_id=policy.practice.practice_id,
        timezone=policy.practice.timezone,
        clock=clock,
    )
