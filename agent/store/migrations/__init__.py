"""Alembic environment and revisions (a package so installs ship them)."""
