"""Reference data for the demo practice: CDT procedures and fees, visit templates, insurance carriers.

Fees are the practice's usual-and-customary fees in cents (suburban Minneapolis, 2026). Each
procedure has a benefit category that decides insurance coverage (100/80/50).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal["preventive", "basic", "major"]


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    fee_cents: int
    category: Category
    description: str
    site: Literal["none", "tooth", "posterior", "anterior", "quadrant"] = "none"
    surfaces: str = ""


PROCEDURES: dict[str, Procedure] = {
    p.code: p
    for p in (
        Procedure("D0120", 6500, "preventive", "Periodic oral evaluation"),
        Procedure("D0140", 8500, "preventive", "Limited oral evaluation, problem focused"),
        Procedure("D0150", 10500, "preventive", "Comprehensive oral evaluation"),
        Procedure("D0210", 15000, "preventive", "Intraoral complete series of radiographic images"),
        Procedure("D0220", 3500, "preventive", "Intraoral periapical first radiographic image", "tooth"),
        Procedure("D0274", 7500, "preventive", "Bitewings, four radiographic images"),
        Procedure("D0330", 13000, "preventive", "Panoramic radiographic image"),
        Procedure("D1110", 11500, "preventive", "Prophylaxis, adult"),
        Procedure("D1120", 8500, "preventive", "Prophylaxis, child"),
        Procedure("D1206", 4500, "preventive", "Topical application of fluoride varnish"),
        Procedure("D1351", 6000, "preventive", "Sealant, per tooth", "posterior", "O"),
        Procedure("D2140", 15000, "basic", "Amalgam, one surface", "posterior", "O"),
        Procedure("D2150", 18500, "basic", "Amalgam, two surfaces", "posterior", "MO"),
        Procedure("D2330", 16500, "basic", "Resin-based composite, one surface, anterior", "anterior", "F"),
        Procedure("D2391", 19000, "basic", "Resin-based composite, one surface, posterior", "posterior", "O"),
        Procedure(
            "D2392", 24500, "basic", "Resin-based composite, two surfaces, posterior", "posterior", "MO"
        ),
        Procedure(
            "D2393", 29500, "basic", "Resin-based composite, three surfaces, posterior", "posterior", "MOD"
        ),
        Procedure("D2740", 120000, "major", "Crown, porcelain/ceramic", "tooth"),
        Procedure("D2750", 115000, "major", "Crown, porcelain fused to high noble metal", "tooth"),
        Procedure("D2950", 28500, "major", "Core buildup, including any pins", "tooth"),
        Procedure("D3310", 85000, "basic", "Endodontic therapy, anterior tooth", "anterior"),
        Procedure("D3330", 125000, "basic", "Endodontic therapy, molar tooth", "posterior"),
        Procedure(
            "D4341",
            28000,
            "basic",
            "Periodontal scaling and root planing, four or more teeth, per quadrant",
            "quadrant",
        ),
        Procedure(
            "D4342",
            19000,
            "basic",
            "Periodontal scaling and root planing, one to three teeth, per quadrant",
            "quadrant",
        ),
        Procedure("D4910", 16500, "basic", "Periodontal maintenance"),
        Procedure("D5110", 190000, "major", "Complete denture, maxillary"),
        Procedure("D6010", 220000, "major", "Surgical placement of implant body, endosteal", "tooth"),
        Procedure("D6057", 75000, "major", "Custom fabricated abutment", "tooth"),
        Procedure("D6065", 165000, "major", "Implant supported porcelain/ceramic crown", "tooth"),
        Procedure("D7140", 21000, "basic", "Extraction, erupted tooth or exposed root", "tooth"),
        Procedure("D7210", 35000, "basic", "Extraction, erupted tooth requiring removal of bone", "tooth"),
        Procedure("D7953", 65000, "major", "Bone replacement graft for ridge preservation", "tooth"),
        Procedure("D9110", 12000, "basic", "Palliative treatment of dental pain"),
        Procedure("D9944", 55000, "major", "Occlusal guard, hard appliance, full arch"),
    )
}

# Visit templates: a tuple of procedure codes done at one sitting.
RECALL_ADULT = ("D0120", "D1110", "D0274")
RECALL_ADULT_SHORT = ("D0120", "D1110")
RECALL_CHILD = ("D0120", "D1120", "D1206")
NEW_PATIENT = ("D0150", "D0210", "D1110")
EMERGENCY = ("D0140", "D0220", "D9110")

SETTLED_TEMPLATES: tuple[tuple[tuple[str, ...], int], ...] = (
    (RECALL_ADULT, 38),
    (RECALL_ADULT_SHORT, 30),
    (NEW_PATIENT, 4),
    (("D2391",), 6),
    (("D2392",), 5),
    (("D2393", "D2391"), 2),
    (("D2740", "D2950"), 3),
    (("D4341", "D4341"), 3),
    (("D4910",), 3),
    (("D7140",), 2),
    (EMERGENCY, 3),
    (("D3330",), 1),
)
CHILD_TEMPLATES: tuple[tuple[tuple[str, ...], int], ...] = (
    (RECALL_CHILD, 70),
    (("D1351", "D1351"), 12),
    (("D2391",), 10),
    (("D2392",), 5),
    (EMERGENCY, 3),
)

# Open (still owed) visits, chosen by the size of what the patient still owes, in dollars.
OPEN_TEMPLATES: tuple[tuple[int, tuple[tuple[str, ...], ...]], ...] = (
    (120, (RECALL_ADULT, EMERGENCY, ("D2391",), ("D0150", "D0210"))),
    (450, (("D2392",), ("D2393",), ("D4341", "D4341"), ("D7140",), ("D7210",), ("D2391", "D2392"))),
    (1500, (("D2740",), ("D2740", "D2950"), ("D3330",), ("D4341",) * 4, ("D9944",), ("D7210", "D7953"))),
    (3000, (("D3330", "D2950", "D2740"), ("D6010",), ("D5110",), ("D2740", "D2740"))),
    (6001, (("D6010", "D6057", "D6065"), ("D2740", "D2740", "D2950", "D2950"), ("D6010", "D7953", "D2740"))),
)
OPEN_CHILD_TEMPLATES: tuple[tuple[str, ...], ...] = (
    ("D1351", "D1351", "D2391"),
    ("D2392", "D2391"),
    (EMERGENCY[0], EMERGENCY[1], "D7140"),
)
TOP_UP_CODES = ("D2740", "D6010", "D2950", "D3330")

POSTERIOR_TEETH = (2, 3, 4, 5, 12, 13, 14, 15, 18, 19, 20, 21, 28, 29, 30, 31)
ANTERIOR_TEETH = (6, 7, 8, 9, 10, 11, 22, 23, 24, 25, 26, 27)
QUADRANTS = ("UR", "UL", "LL", "LR")


@dataclass(frozen=True, slots=True)
class Carrier:
    name: str
    weight: int


CARRIERS = (
    Carrier("Delta Dental of Minnesota", 30),
    Carrier("MetLife", 18),
    Carrier("Cigna Dental", 14),
    Carrier("Aetna Dental", 12),
    Carrier("Guardian", 12),
    Carrier("UnitedHealthcare Dental", 14),
)

COVERAGE_PCT: dict[Category, int] = {"preventive": 100, "basic": 80, "major": 50}
ANNUAL_MAX_CENTS = 150_000

DENIAL_REASONS = (
    "Frequency limitation: service within the plan's replacement period",
    "Missing tooth clause: tooth extracted before coverage began",
    "Not a covered benefit under the member's plan",
)
UNDERPAID_REASONS = (
    "Alternate benefit: composite downgraded to amalgam",
    "Annual maximum reached",
    "Paid at out-of-network allowance",
)
