"""The deterministic demo practice "Maple Grove Family Dental" and its exports.

`generate()` builds a `PracticeSnapshot`; `PERSONAS` names the edge-case fixtures in it;
`to_opendental_json`, `write_aging_csv` and `write_contacts_csv` emit it in vendor formats.
"""

from pms.demo.csv_export import write_aging_csv, write_contacts_csv
from pms.demo.generator import DEFAULT_AS_OF, PRACTICE, generate
from pms.demo.opendental import to_opendental_json
from pms.demo.personas import PERSONAS, Persona

__all__ = [
    "DEFAULT_AS_OF",
    "PERSONAS",
    "PRACTICE",
    "Persona",
    "generate",
    "to_opendental_json",
    "write_aging_csv",
    "write_contacts_csv",
]
