"""Name and place lists for the synthetic population (common US names; no real patients)."""

from __future__ import annotations

from dataclasses import dataclass


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


LAST_NAMES = _words(
    "Anderson Johnson Olson Peterson Nelson Larson Hanson Swanson Carlson Erickson Schmidt Miller "
    "Smith Jones Brown Davis Wilson Moore Taylor Thomas Jackson White Harris Martin Thompson Clark "
    "Lewis Walker Hall Allen Young King Wright Scott Green Baker Adams Campbell Mitchell Roberts "
    "Turner Phillips Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper "
    "Peterson Bailey Reed Kelly Howard Cox Ward Richardson Watson Brooks Wood James Bennett Gray "
    "Hughes Price Sanders Myers Long Foster Powell Jenkins Perry Russell Sullivan Fisher Henderson "
    "Coleman Simmons Patterson Jordan Reynolds Hamilton Graham Wallace West Cole Hayes Bryant Gibson "
    "Ellis Stevens Murray Ford Marshall Owens McDonald Harrison Kennedy Wells Webb Tucker Porter "
    "Hunter Hicks Crawford Henry Boyd Mason Kowalski Nowak Schultz Becker Wagner Hoffman Koch Richter "
    "Klein Wolf Schroeder Neumann Lindgren Berg Lund Dahl Strand Holm Sorensen Jorgensen Halvorson "
    "Gustafson Bergstrom Lindquist Sandberg Nguyen Tran Le Pham Vang Yang Xiong Lor Her Thao Mohamed "
    "Ali Hassan Abdi Warsame Yusuf Ivanov Petrov"
)

HISPANIC_LAST_NAMES = _words(
    "Garcia Martinez Rodriguez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres Flores Rivera "
    "Gomez Diaz Reyes Morales Cruz Ortiz Gutierrez Chavez Ramos Ruiz Alvarez Mendoza Castillo Jimenez "
    "Moreno Romero Herrera Medina Aguilar Vargas Castro Guzman Fernandez Salazar Soto Delgado Vasquez "
    "Rojas"
)

MALE_FIRST = _words(
    "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew "
    "Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward "
    "Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin "
    "Samuel Gregory Alexander Patrick Frank Raymond Jack Dennis Jerry Tyler Aaron Henry Adam Nathan "
    "Zachary Ethan Noah Liam Mason Logan Lucas Owen Caleb Wyatt Carter Gavin Isaac Eli Hunter Connor "
    "Dylan Luke"
)

FEMALE_FIRST = _words(
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra "
    "Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca "
    "Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma Nicole Helen Samantha "
    "Katherine Christine Debra Rachel Carolyn Janet Catherine Heather Diane Olivia Julie Joyce "
    "Victoria Kelly Christina Lauren Joan Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline Martha "
    "Gloria Teresa Ava Sophia Isabella Mia Charlotte Amelia Harper Abigail Ella Madison Chloe Grace "
    "Lily Zoe Nora"
)

HISPANIC_MALE_FIRST = _words(
    "José Juan Luis Carlos Jorge Miguel Alejandro Francisco Javier Manuel Ricardo Eduardo Fernando "
    "Diego Mateo Santiago Sebastián Andrés Rafael Héctor"
)

HISPANIC_FEMALE_FIRST = _words(
    "María Guadalupe Ana Rosa Carmen Gabriela Alejandra Daniela Sofía Valentina Isabel Lucía Elena "
    "Fernanda Patricia Adriana Verónica Mariana Camila Ximena"
)

OTHER_LANGUAGES = ("vi", "so", "ru", "hmn", "ar")  # Minnesota's larger non-English, non-Spanish groups


@dataclass(frozen=True, slots=True)
class Zone:
    """A home location class: IANA zone, a state, ZIP codes and the phone area codes seen there."""

    timezone: str
    state: str
    zips: tuple[str, ...]
    area_codes: tuple[str, ...]
    weight: int


PRACTICE_TZ = "America/Chicago"

# 90% of households live around the practice (Maple Grove, MN).
HOME_ZONE = Zone(
    PRACTICE_TZ,
    "MN",
    ("55311", "55369", "55446", "55447", "55428", "55443", "55316", "55374"),
    ("763", "612", "952", "651", "320", "507", "218"),
    90,
)
# Phone capacity beyond Minnesota for very large demo populations (same time zone).
OVERFLOW_CENTRAL_AREA_CODES = (
    "715",
    "608",
    "414",
    "262",
    "920",
    "319",
    "515",
    "563",
    "641",
    "712",
    "701",
    "605",
    "312",
    "773",
    "630",
    "847",
    "708",
    "815",
    "816",
    "314",
)
# 6%: snowbirds and students elsewhere in the US.
AWAY_ZONES = (
    Zone("America/New_York", "FL", ("34102", "33946", "34236"), ("239", "941", "561"), 30),
    Zone("America/Phoenix", "AZ", ("85251", "85718"), ("480", "520", "602"), 25),
    Zone("America/Denver", "CO", ("80302", "80521"), ("303", "720", "970"), 15),
    Zone("America/Los_Angeles", "CA", ("92037", "94110"), ("415", "619", "858"), 15),
    Zone("America/New_York", "NY", ("10027", "14850"), ("212", "607", "718"), 15),
)
# 3%: outside the contiguous US.
FAR_ZONES = (
    Zone("Pacific/Honolulu", "HI", ("96813", "96734"), ("808",), 40),
    Zone("America/Anchorage", "AK", ("99501", "99709"), ("907",), 30),
    Zone("America/Puerto_Rico", "PR", ("00901", "00909"), ("787", "939"), 30),
)
