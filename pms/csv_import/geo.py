"""US state → IANA time zone (the zone most of the state's people live in)."""

from __future__ import annotations

_ZONES = {
    "America/New_York": "CT DE DC FL GA IN KY ME MD MA MI NH NJ NY NC OH PA RI SC VT VA WV",
    "America/Chicago": "AL AR IL IA KS LA MN MS MO NE ND OK SD TN TX WI",
    "America/Denver": "CO MT NM UT WY ID",
    "America/Phoenix": "AZ",
    "America/Los_Angeles": "CA NV OR WA",
    "America/Anchorage": "AK",
    "Pacific/Honolulu": "HI",
    "America/Puerto_Rico": "PR VI",
    "Pacific/Guam": "GU MP",
    "Pacific/Pago_Pago": "AS",
}
STATE_TIMEZONE = {state: tz for tz, states in _ZONES.items() for state in states.split()}


def timezone_for_state(state: str | None) -> str | None:
    return STATE_TIMEZONE.get((state or "").strip().upper())
