"""Properties of the consent-ledger reading (pure; `agent.store.consent`) over random histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from agent.store.consent import CHANNELS, Entry, channel_state, suppressions
from policies.types import SuppressionScope

PHONE = "+15125550100"
T = datetime(2026, 1, 1, tzinfo=UTC)

steps = st.lists(
    st.tuples(
        st.sampled_from(["opt_out", "opt_in", "consent"]),
        st.sampled_from(["all", "voice", "sms", "email"]),
        st.sampled_from([PHONE, None]),  # the number, or the whole person
    ),
    max_size=12,
)


def history(raw: list[tuple[str, str, str | None]]) -> list[Entry]:
    return [
        Entry(f"e{i:03}", "P1", value, scope, action, None, "r", T + timedelta(minutes=i))
        for i, (action, scope, value) in enumerate(raw)
    ]


def then(entries: list[Entry], action: str, scope: str, value: str | None = PHONE) -> list[Entry]:
    n = len(entries)
    return [*entries, Entry(f"e{n:03}", "P1", value, scope, action, None, "r", T + timedelta(minutes=n))]


def state(entries: list[Entry]) -> dict[str, str]:
    return dict(channel_state(entries, patient_ids=["P1"], values=[PHONE]))


@given(steps)
def test_sms_opt_in_never_changes_voice_or_email(raw: list[tuple[str, str, str | None]]) -> None:
    before = state(history(raw))
    after = state(then(history(raw), "opt_in", "sms"))
    assert (after["voice"], after["email"]) == (before["voice"], before["email"])


@given(steps, st.sampled_from(["all", "voice", "sms", "email"]), st.sampled_from([PHONE, None]))
def test_opt_out_always_wins_for_its_scope(
    raw: list[tuple[str, str, str | None]], scope: str, value: str | None
) -> None:
    after = state(then(history(raw), "opt_out", scope, value))
    covered = CHANNELS if scope == "all" else (scope,)
    assert all(after[ch] == "opted_out" for ch in covered)
    scopes = {s.scope for s in suppressions(then(history(raw), "opt_out", scope, value)) if s.value == value}
    assert SuppressionScope(scope) in scopes


@given(steps, st.sampled_from(["all", "voice", "sms", "email"]))
def test_a_consent_record_never_lifts_an_opt_out(raw: list[tuple[str, str, str | None]], scope: str) -> None:
    before = state(history(raw))
    after = state(then(history(raw), "consent", scope))
    for ch in CHANNELS:
        if before[ch] == "opted_out":
            assert after[ch] == "opted_out"
