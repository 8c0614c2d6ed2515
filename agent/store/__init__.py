"""The record store: SQLAlchemy models, migrations, `SqlRecords`, engines (see agent/store/db.py)."""
