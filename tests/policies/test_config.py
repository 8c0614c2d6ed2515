"""The demo policy loads, documents every knob, and bad files fail naming the key path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from policies.config import DEMO_POLICY_PATH, PolicyError, PracticePolicy, load_policy


def _model_of(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """('model'|'dict'|'list', Model) when a field holds sub-models."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and len(args) == 2:
        inner = _model_of(args[1])
        return ("dict", inner[1]) if inner else None
    if origin is list and args:
        inner = _model_of(args[0])
        return ("list", inner[1]) if inner else None
    return None


def _missing(model: type[BaseModel], data: Any, path: str) -> list[str]:
    if not isinstance(data, dict):
        return [f"{path} (not a mapping)"]
    out: list[str] = []
    for name, field in model.model_fields.items():
        here = f"{path}.{name}" if path else name
        if name not in data:
            out.append(here)
            continue
        sub = _model_of(field.annotation)
        if sub is None:
            continue
        kind, inner = sub
        value = data[name]
        if kind == "model":
            out += _missing(inner, value, here)
        elif kind == "dict":
            if not value:
                out.append(f"{here}.<example entry>")
            for key, item in (value or {}).items():
                out += _missing(inner, item, f"{here}.{key}")
        else:
            if not value:
                out.append(f"{here}.<example item>")
            for i, item in enumerate(value or []):
                out += _missing(inner, item, f"{here}.{i}")
    return out


def test_demo_policy_loads_with_the_brief_values() -> None:
    p = load_policy()
    assert p.practice.practice_id == "maple-grove"
    assert p.practice.name == "Maple Grove Family Dental"
    assert p.practice.timezone == "America/Chicago"
    assert p.practice.callback_number == "+13125550100"
    assert p.practice.staff_contact_name == "Dana"
    assert p.practice.portal_url == "https://pay.maplegrovedental.example/portal"
    assert p.transfer.staff_number == "+13125550199"
    assert load_policy(DEMO_POLICY_PATH) == p


def test_every_policy_field_appears_in_the_demo_yaml() -> None:
    raw = yaml.safe_load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    assert _missing(PracticePolicy, raw, "") == []


def test_every_key_in_the_demo_yaml_is_documented_by_a_comment() -> None:
    lines = DEMO_POLICY_PATH.read_text(encoding="utf-8").splitlines()
    key = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w-]*):(?:\s|$)")
    undocumented = []
    for i, line in enumerate(lines):
        m = key.match(line)
        if not m:
            continue
        prev = lines[i - 1].strip() if i else ""
        if "#" not in line and not prev.startswith("#"):
            undocumented.append(f"line {i + 1}: {m.group(1)}")
    assert undocumented == []


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _demo_with(tmp_path: Path, mutate: Any) -> Path:
    raw = yaml.safe_load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    mutate(raw)
    return _write(tmp_path, yaml.safe_dump(raw))


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda r: r["plans"]["bands"][0].update(max_months=0), "plans.bands.0.max_months"),
        (lambda r: r["plans"]["bands"][1].update(max_months="six"), "plans.bands.1.max_months"),
        (
            lambda r: r["compliance"].update(max_call_attempts_per_7_days=8),
            "compliance.max_call_attempts_per_7_days",
        ),
        (lambda r: r["compliance"].update(window_end="22:00"), "compliance"),
        (
            lambda r: r["compliance"]["state_profiles"]["MA"].update(max_contacts_per_7_days=-1),
            "compliance.state_profiles.MA.max_contacts_per_7_days",
        ),
        (lambda r: r["practice"].update(timezone="Mars/Olympus"), "practice.timezone"),
        (lambda r: r["practice"].update(callback_number="312-555-0100"), "practice.callback_number"),
        (lambda r: r["practice"].pop("staff_contact_name"), "practice.staff_contact_name"),
        (lambda r: r["scoring"].update(balance_weight=2), "scoring.balance_weight"),
        (lambda r: r.update(automation_mode="yolo"), "automation_mode"),
        (lambda r: r["plans"].update(first_due_max_days=8), "plans"),
        (lambda r: r["compliance"].update(holiday_country="XX"), "compliance.holiday_country"),
    ],
)
def test_bad_values_name_the_key_path(tmp_path: Path, mutate: Any, path: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(_demo_with(tmp_path, mutate))
    assert f"{path}:" in str(err.value)


def test_unquoted_times_are_refused_not_misread(tmp_path: Path) -> None:
    text = DEMO_POLICY_PATH.read_text(encoding="utf-8").replace('window_end: "21:00"', "window_end: 21:00")
    assert "window_end: 21:00" in text
    with pytest.raises(PolicyError, match=r"compliance\.window_end: .*quoted"):
        load_policy(_write(tmp_path, text))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.yaml")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(_write(tmp_path, "practice: [unclosed"))
    with pytest.raises(PolicyError, match="mapping"):
        load_policy(_write(tmp_path, "- a\n- b\n"))


def test_minimal_policy_takes_documented_defaults(tmp_path: Path) -> None:
    p = load_policy(
        _write(
            tmp_path,
            "practice:\n  practice_id: x\n  name: Oak Dental\n  callback_number: '+13125550100'\n"
            "  staff_contact_name: Lee\n",
        )
    )
    assert p.compliance.max_call_attempts_per_7_days == 7
    assert p.compliance.state_profiles["MA"].max_contacts_per_7_days == 2
    assert p.plans.frequencies == ["monthly"]


def test_the_coverage_check_itself_notices_missing_keys() -> None:
    raw = yaml.safe_load(DEMO_POLICY_PATH.read_text(encoding="utf-8"))
    del raw["plans"]["bands"][2]["max_months"]
    del raw["compliance"]["state_profiles"]["FL"]["match_area_code"]
    del raw["sms"]
    assert _missing(PracticePolicy, raw, "") == [
        "compliance.state_profiles.FL.match_area_code",
        "plans.bands.2.max_months",
        "sms",
    ]
