"""The local SQL PMS: the embedded default practice-management system (SQLite or PostgreSQL)."""

from pms.local.adapter import LocalPms
from pms.local.engine import make_engine
from pms.local.models import metadata

__all__ = ["LocalPms", "make_engine", "metadata"]
