"""Outreach test fixtures: the small demo practice in a SQLite file (built once, copied per test)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from agent.store.db import create_all_for_tests, make_engine
from pms.demo import generate
from pms.local.adapter import LocalPms
from pms.snapshot import PracticeSnapshot
from policies.config import load_policy

AS_OF = date(2026, 11, 2)
SIM_PATIENTS = 150


def demo(patients: int = SIM_PATIENTS) -> PracticeSnapshot:
    return generate(seed=7, patients=patients, as_of=AS_OF)


async def load_demo(url: str, patients: int = SIM_PATIENTS) -> None:
    engine = make_engine(url)
    try:
        await create_all_for_tests(engine)
        await LocalPms(engine, practice_id=load_policy().practice.practice_id).load_snapshot(demo(patients))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outreach") / "template.db"
    asyncio.run(load_demo(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def demo_sqlite(demo_template: Path, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the demo practice (schema + PMS data) as a SQLite URL."""
    path = tmp_path / "practice.db"
    shutil.copy(demo_template, path)
    yield f"sqlite+aiosqlite:///{path}"
