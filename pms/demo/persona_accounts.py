"""How each persona's family and account are built (see `pms.demo.personas` for the list)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from pms.demo.accounts import AccountPlan, Archetype, Coverage, OpenItem, PlanSpec
from pms.demo.names import PRACTICE_TZ
from pms.demo.people import mark_preferred
from pms.demo.personas import persona_phone
from pms.types import ContactPoint, Flag, Patient, PreferredContact, SmsConsent


@dataclass
class PersonaFamily:
    """One persona guarantor account and how to build it."""

    key: str
    members: list[Patient]
    plan: AccountPlan
    flags: frozenset[str] = frozenset()
    extras: dict[str, object] = field(default_factory=dict)


def _p(
    pid: int,
    first: str,
    last: str,
    dob: date,
    *,
    gid: int | None = None,
    mobile: str | None = None,
    raw: str | None = None,
    sms: SmsConsent = "yes",
    home: str | None = None,
    email: str | None = None,
    pref: PreferredContact = "text",
    lang: str = "en",
    tz: str | None = PRACTICE_TZ,
    state: str | None = "MN",
    postal: str | None = "55369",
    status: str = "active",
    note: str = "",
    flags: tuple[Flag, ...] = (),
) -> Patient:
    contacts: list[ContactPoint] = []
    if mobile:
        contacts.append(ContactPoint("phone", mobile, "mobile", sms, False, raw or mobile))
    if home:
        contacts.append(
            ContactPoint("phone", home, "home", "unknown", False, raw if not mobile and raw else home)
        )
    if email:
        contacts.append(ContactPoint("email", email.lower(), "email", "unknown", False, email))
    return Patient(
        patient_id=str(pid),
        guarantor_id=str(gid or pid),
        first_name=first,
        last_name=last,
        date_of_birth=dob,
        contacts=mark_preferred(tuple(contacts), pref),
        timezone=tz,
        language=lang,
        status=status,  # type: ignore[arg-type]
        preferred_contact=pref,
        postal_code=postal,
        state=state,
        flags=frozenset(f.value for f in flags),
        note=note,
    )


def _plan(arch: Archetype, cov: Coverage | None, *items: OpenItem, **kw: object) -> AccountPlan:
    return AccountPlan(archetype=arch, coverage=cov, open_items=list(items), **kw)  # type: ignore[arg-type]


DELTA = "Delta Dental of Minnesota"
ATTORNEY_NOTE = "attorney / bankruptcy – do not contact (Chapter 7 filed 09/2026; counsel Hale & Ortiz LLP)"


def persona_families() -> list[PersonaFamily]:
    """The persona accounts in build order (ids 1-25)."""
    m = persona_phone
    return [
        PersonaFamily(
            "prompt_payer",
            [
                _p(
                    1,
                    "Emily",
                    "Carter",
                    date(1988, 4, 12),
                    mobile=m(1),
                    raw="(763) 555-0101",
                    email="Emily.Carter@example.com",
                ),
            ],
            _plan("prompt", Coverage(DELTA, 25), OpenItem(14, 24000, codes=("D2740",))),
        ),
        PersonaFamily(
            "plan_candidate",
            [
                _p(2, "Marcus", "Bell", date(1979, 9, 3), mobile=m(2), raw="763-555-0102", pref="mobile"),
                _p(
                    3, "Tanya", "Bell", date(1981, 2, 11), gid=2, mobile=m(3), raw="7635550103", sms="unknown"
                ),
            ],
            _plan(
                "slow",
                None,
                OpenItem(18, 120000, member=0, codes=("D2740",)),
                OpenItem(44, 65000, member=1, codes=("D2740", "D2950")),
            ),
        ),
        PersonaFamily(
            "small_balance",
            [
                _p(
                    4,
                    "Grace",
                    "Nguyen",
                    date(1995, 2, 17),
                    mobile=m(4),
                    raw="763.555.0104",
                    sms="unknown",
                    pref="mobile",
                ),
            ],
            _plan("slow", None, OpenItem(25, 4200, codes=("D0140", "D0220"))),
        ),
        PersonaFamily(
            "deceased",
            [
                _p(
                    5,
                    "Harold",
                    "Lindqvist",
                    date(1938, 6, 30),
                    home=m(5),
                    raw="763.555.0105",
                    pref="home",
                    status="deceased",
                    flags=(Flag.DECEASED,),
                    note="Deceased 08/14/2026. Send correspondence to the Estate of Harold Lindqvist.",
                ),
            ],
            _plan("unresponsive", None, OpenItem(95, 61200, codes=("D7210", "D7210"))),
            frozenset({Flag.DECEASED.value}),
        ),
        PersonaFamily(
            "attorney",
            [
                _p(
                    6,
                    "Kevin",
                    "Marsh",
                    date(1984, 11, 21),
                    mobile=m(6),
                    raw="(763) 555-0106",
                    pref="mobile",
                    note=ATTORNEY_NOTE,
                    flags=(Flag.ATTORNEY,),
                ),
            ],
            _plan(
                "unresponsive",
                Coverage("Guardian", 30),
                OpenItem(130, 137500, codes=("D6010", "D6057", "D6065")),
            ),
            frozenset({Flag.ATTORNEY.value}),
        ),
        PersonaFamily(
            "agency",
            [
                _p(
                    7,
                    "Brittany",
                    "Coleman",
                    date(1991, 7, 8),
                    mobile=m(7),
                    raw="763-555-0107",
                    sms="unknown",
                    pref="mobile",
                    note="Placed with Northstar Recovery Services (outside collection agency) 07/15/2026. "
                    "Refer calls to the agency.",
                ),
            ],
            _plan("unresponsive", None, OpenItem(240, 89000, codes=("D3310", "D2330"))),
            frozenset({Flag.AGENCY.value}),
        ),
        PersonaFamily(
            "credit_balance",
            [
                _p(
                    8,
                    "Donna",
                    "Fischer",
                    date(1962, 3, 14),
                    mobile=m(8),
                    raw="(763) 555-0108",
                    email="donna.fischer@example.net",
                    pref="email",
                ),
            ],
            _plan("prompt", Coverage("Aetna Dental", 30), credit_cents=8500),
        ),
        PersonaFamily(
            "insurance_pending",
            [
                _p(9, "Raj", "Patel", date(1983, 12, 2), mobile=m(9), raw="763-555-0109"),
            ],
            _plan(
                "prompt",
                Coverage("Cigna Dental", 25),
                OpenItem(9, 0, "pending", "sent", codes=("D2740", "D2950")),
            ),
        ),
        PersonaFamily(
            "payment_just_posted",
            [
                _p(10, "Jason", "Whitfield", date(1990, 5, 19), mobile=m(10), raw="(763) 555-0110"),
            ],
            _plan("prompt", None, OpenItem(35, 31540, codes=("D2393", "D2391")), payoff_at=time(9, 52)),
        ),
        PersonaFamily(
            "on_time_plan",
            [
                _p(
                    11,
                    "Michelle",
                    "Okafor",
                    date(1976, 10, 25),
                    mobile=m(11),
                    raw="763-555-0111",
                    email="m.okafor@example.org",
                ),
            ],
            _plan("partial", None, plan=PlanSpec(("D6010",), 15000, 20000, months_due=5)),
        ),
        PersonaFamily(
            "sms_opted_out",
            [
                _p(
                    12,
                    "Tyler",
                    "Brooks",
                    date(1998, 1, 30),
                    mobile=m(12),
                    raw="763 555 0112",
                    sms="no",
                    pref="mobile",
                ),
            ],
            _plan("slow", Coverage("UnitedHealthcare Dental", 20), OpenItem(33, 18000, codes=("D2740",))),
            extras={"sms_opt_out_days_ago": 20},
        ),
        PersonaFamily(
            "landline_only",
            [
                _p(13, "Dorothy", "Hansen", date(1949, 8, 9), home=m(13), raw="763-555-0113", pref="home"),
            ],
            _plan("slow", Coverage(DELTA, 25), OpenItem(50, 26500, codes=("D2740",))),
        ),
        PersonaFamily(
            "spanish_speaker",
            [
                _p(
                    14, "María", "Hernández", date(1985, 3, 22), mobile=m(14), raw="(763) 555-0114", lang="es"
                ),
                _p(
                    15,
                    "José",
                    "Hernández",
                    date(1983, 7, 30),
                    gid=14,
                    mobile=m(15),
                    raw="763-555-0115",
                    lang="es",
                    pref="mobile",
                ),
                _p(16, "Sofía", "Hernández", date(2016, 5, 2), gid=14, lang="es", pref="none"),
            ],
            _plan("slow", None, OpenItem(27, 32000, codes=("D2393", "D2392"))),
        ),
        PersonaFamily(
            "appointment_tomorrow",
            [
                _p(
                    17, "Brian", "Schultz", date(1972, 12, 5), mobile=m(17), raw="763-555-0117", pref="mobile"
                ),
            ],
            _plan("slow", Coverage("Guardian", 25), OpenItem(40, 19500, codes=("D2740",))),
            extras={"appointment_tomorrow": time(9, 0)},
        ),
        PersonaFamily(
            "statement_yesterday",
            [
                _p(
                    18,
                    "Karen",
                    "Olson",
                    date(1968, 5, 11),
                    mobile=m(18),
                    raw="(763) 555-0118",
                    sms="unknown",
                    email="karen.olson@example.com",
                    pref="email",
                ),
            ],
            _plan("slow", Coverage(DELTA, 20), OpenItem(38, 43000, codes=("D2740", "D2950"))),
            extras={"statement_days_ago": 1},
        ),
        PersonaFamily(
            "disputer_denied_claim",
            [
                _p(
                    19,
                    "Steven",
                    "Price",
                    date(1981, 2, 14),
                    mobile=m(19),
                    raw="763-555-0119",
                    pref="mobile",
                    note="Disputes the crown charge: says Cigna should have paid "
                    "(claim denied, frequency limitation).",
                ),
            ],
            _plan(
                "disputer",
                Coverage("Cigna Dental", 20),
                OpenItem(75, 96000, "denied", codes=("D2740", "D2950")),
            ),
            frozenset({Flag.DISPUTE.value}),
        ),
        PersonaFamily(
            "shared_family_phone",
            [
                _p(
                    20,
                    "Dale",
                    "Kowalski",
                    date(1970, 4, 4),
                    mobile=m(20),
                    raw="763-555-0120",
                    pref="mobile",
                    note="Shares a cell phone with spouse Linda (account 21)",
                ),
            ],
            _plan("slow", Coverage(DELTA, 25), OpenItem(20, 15000, codes=("D2740",))),
        ),
        PersonaFamily(
            "shared_family_phone:spouse",
            [
                _p(
                    21,
                    "Linda",
                    "Kowalski",
                    date(1971, 9, 15),
                    mobile=m(20),
                    raw="(763) 555-0120",
                    pref="mobile",
                    note="Shares a cell phone with spouse Dale (account 20)",
                ),
            ],
            _plan("slow", Coverage(DELTA, 25), OpenItem(48, 27500, codes=("D2740",))),
        ),
        PersonaFamily(
            "minor_with_parent_guarantor",
            [
                _p(22, "Jennifer", "Thompson", date(1983, 1, 27), mobile=m(22), raw="(763) 555-0122"),
                _p(23, "Ava", "Thompson", date(2014, 6, 18), gid=22, pref="none"),
            ],
            _plan("prompt", None, OpenItem(22, 28500, member=1, codes=("D2393", "D2392"))),
        ),
        PersonaFamily(
            "large_balance_needs_approval",
            [
                _p(
                    24, "Robert", "Jensen", date(1958, 11, 9), mobile=m(24), raw="763-555-0124", pref="mobile"
                ),
            ],
            _plan("slow", None, OpenItem(28, 348000, codes=("D6010", "D6057", "D6065"))),
        ),
        PersonaFamily(
            "hawaii",
            [
                _p(
                    25,
                    "Leilani",
                    "Kahale",
                    date(1987, 7, 19),
                    mobile=m(25, "808"),
                    raw="808-555-0125",
                    tz="Pacific/Honolulu",
                    state="HI",
                    postal="96813",
                ),
            ],
            _plan("prompt", None, OpenItem(36, 21000, codes=("D2392",))),
        ),
    ]
