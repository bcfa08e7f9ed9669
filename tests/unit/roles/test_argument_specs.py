"""Every role's defaults and its meta/argument_specs.yml tell the same story.

A variable in defaults/main.yml that the spec does not declare escapes validation and
`ansible-doc -t role`; a spec default that differs from the real default documents a lie.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLES = sorted(p for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())


def _load(path: Path) -> dict:
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def _templated(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_role_has_an_argument_spec_for_main(role: Path) -> None:
    specs = _load(role / "meta" / "argument_specs.yml").get("argument_specs", {})
    assert "main" in specs, f"{role.name}: meta/argument_specs.yml has no 'main' entry point"
    assert specs["main"].get("short_description"), f"{role.name}: main has no short_description"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_public_defaults_carry_the_role_prefix(role: Path) -> None:
    defaults = _load(role / "defaults" / "main.yml")
    stray = [k for k in defaults if not k.startswith(f"{role.name}_")]
    assert stray == [], f"{role.name}: defaults without the '{role.name}_' prefix: {stray}"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_defaults_and_spec_declare_the_same_variables(role: Path) -> None:
    defaults = _load(role / "defaults" / "main.yml")
    specs = _load(role / "meta" / "argument_specs.yml").get("argument_specs", {})
    declared: dict[str, dict] = {}
    for entry in specs.values():
        declared.update(entry.get("options") or {})
    undocumented = sorted(set(defaults) - set(declared))
    assert undocumented == [], f"{role.name}: defaults missing from argument_specs: {undocumented}"
    for name, option in declared.items():
        if name not in defaults:
            assert option.get("required") or "default" not in option, (
                f"{role.name}: {name} has a default in argument_specs but not in defaults/main.yml"
            )
            continue
        if _templated(defaults[name]) or "default" not in option:
            continue
        assert option["default"] == defaults[name], (
            f"{role.name}: {name} defaults to {defaults[name]!r} but argument_specs says "
            f"{option['default']!r}"
        )


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_role_has_a_molecule_scenario_with_a_verifier(role: Path) -> None:
    scenarios = list((role / "molecule").glob("*/molecule.yml"))
    assert scenarios, f"{role.name} has no molecule scenario"
    for scenario in scenarios:
        config = _load(scenario)
        assert config.get("verifier", {}).get("name") == "testinfra", scenario
        assert list((scenario.parent / "tests").glob("test_*.py")), f"{scenario}: no tests"
        sequence = config.get("scenario", {}).get("test_sequence", [])
        assert "idempotence" in sequence, f"{scenario}: test_sequence lacks idempotence"
