"""Named edge-case fixtures of the demo practice: who they are and what each one demonstrates.

Their accounts are built in `pms.demo.persona_accounts`, explicitly and ahead of the random
population, from fixed random streams: every persona exists with the same ids, phone, birthday and
balance for every seed. Persona phone numbers use the reserved fictional range NPA-555-0100..0199,
which the random population never uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Persona:
    key: str
    name: str
    patient_id: str
    guarantor_id: str
    phone: str | None  # E.164: the number this person calls or texts from (a minor: the parent's)
    date_of_birth: date
    demonstrates: str
    patient_balance: Decimal  # the guarantor account's patient balance at as_of
    related_patient_ids: tuple[str, ...] = ()

    @property
    def shows(self) -> str:
        """Alias of `demonstrates` (used by `balanceline demo personas`)."""
        return self.demonstrates


def persona_phone(pid: int, area: str = "763") -> str:
    """The persona's fictional number NPA-555-01xx (xx = patient id)."""
    return f"+1{area}55501{pid:02d}"


LAST_PERSONA_ID = 25


def _persona(
    key: str,
    name: str,
    pid: int,
    dob: date,
    demo: str,
    balance: str,
    *,
    gid: int | None = None,
    phone: str | None = None,
    related: tuple[str, ...] = (),
) -> Persona:
    return Persona(
        key,
        name,
        str(pid),
        str(gid or pid),
        phone or persona_phone(gid or pid),
        dob,
        demo,
        Decimal(balance),
        related,
    )


PERSONAS: dict[str, Persona] = {
    p.key: p
    for p in (
        _persona(
            "prompt_payer",
            "Emily Carter",
            1,
            date(1988, 4, 12),
            "ordinary patient who can verify (name + DOB), English, mobile with SMS consent; pays promptly",
            "240.00",
        ),
        _persona(
            "plan_candidate",
            "Marcus Bell",
            2,
            date(1979, 9, 3),
            "$1,850 across 0-30 ($1,200) and 31-60 ($650) days: crowns for two family members, uninsured; "
            "offer a plan",
            "1850.00",
        ),
        _persona(
            "small_balance", "Grace Nguyen", 4, date(1995, 2, 17), "balance under $100, uninsured", "42.00"
        ),
        _persona(
            "deceased",
            "Harold Lindqvist",
            5,
            date(1938, 6, 30),
            "deceased guarantor with a 90+ day balance (landline only): never contact",
            "612.00",
        ),
        _persona(
            "attorney",
            "Kevin Marsh",
            6,
            date(1984, 11, 21),
            'note "attorney / bankruptcy – do not contact"; flag attorney',
            "1375.00",
        ),
        _persona(
            "agency",
            "Brittany Coleman",
            7,
            date(1991, 7, 8),
            "account placed with an outside collection agency (flag agency)",
            "890.00",
        ),
        _persona(
            "credit_balance",
            "Donna Fischer",
            8,
            date(1962, 3, 14),
            "credit balance: insurance paid more than estimated, refund due; never dun",
            "-85.00",
        ),
        _persona(
            "insurance_pending",
            "Raj Patel",
            9,
            date(1983, 12, 2),
            "whole balance waits on a sent claim; patient paid the estimate: never call",
            "0.00",
        ),
        _persona(
            "payment_just_posted",
            "Jason Whitfield",
            10,
            date(1990, 5, 19),
            "paid the whole $315.40 balance by portal at 09:52 on as_of, minutes before a 10:00 call",
            "0.00",
        ),
        _persona(
            "on_time_plan",
            "Michelle Okafor",
            11,
            date(1976, 10, 25),
            "active in-house plan ($150/month, $200 down, 5 installments paid on time): do not dun",
            "1250.00",
        ),
        _persona(
            "sms_opted_out",
            "Tyler Brooks",
            12,
            date(1998, 1, 30),
            "mobile with SMS consent 'no' (replied STOP 20 days ago); calls still allowed",
            "180.00",
        ),
        _persona(
            "landline_only",
            "Dorothy Hansen",
            13,
            date(1949, 8, 9),
            "only a home landline: voice only, no texts",
            "265.00",
        ),
        _persona(
            "spanish_speaker",
            "María Hernández",
            14,
            date(1985, 3, 22),
            "language es; family of three with a minor",
            "320.00",
        ),
        _persona(
            "appointment_tomorrow",
            "Brian Schultz",
            17,
            date(1972, 12, 5),
            "appointment scheduled for 09:00 the day after as_of",
            "195.00",
        ),
        _persona(
            "statement_yesterday",
            "Karen Olson",
            18,
            date(1968, 5, 11),
            "billing statement sent the day before as_of",
            "430.00",
        ),
        _persona(
            "disputer_denied_claim",
            "Steven Price",
            19,
            date(1981, 2, 14),
            "disputes a crown after the Cigna claim was denied (flag dispute)",
            "960.00",
        ),
        _persona(
            "shared_family_phone",
            "Dale Kowalski",
            20,
            date(1970, 4, 4),
            "spouses with separate accounts (split guarantors) sharing one cell: caller ID is ambiguous",
            "150.00",
            related=("21",),
        ),
        _persona(
            "minor_with_parent_guarantor",
            "Ava Thompson",
            23,
            date(2014, 6, 18),
            "12-year-old patient whose mother (22) is the guarantor; phone is the mother's",
            "285.00",
            gid=22,
        ),
        _persona(
            "large_balance_needs_approval",
            "Robert Jensen",
            24,
            date(1958, 11, 9),
            "implant balance of $3,480 (> $3,000 needs staff approval for a plan)",
            "3480.00",
        ),
        _persona(
            "hawaii",
            "Leilani Kahale",
            25,
            date(1987, 7, 19),
            "lives in Hawaii (Pacific/Honolulu, 808 number): calling windows differ by 4-5 hours",
            "210.00",
            phone=persona_phone(25, "808"),
        ),
    )
}
