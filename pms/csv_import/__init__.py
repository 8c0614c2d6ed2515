"""A/R aging CSV import (Open Dental, Dentrix or generic exports, plus a contacts export)."""

from pms.csv_import.columns import CsvFormatError
from pms.csv_import.importer import ImportResult, RejectedRow, parse_aging

__all__ = ["CsvFormatError", "ImportResult", "RejectedRow", "parse_aging"]
