"""docs/variables.md is what tests/harness/variable_reference.py generates from the tree now.

The page is generated from the roles' argument specs, the catalogue's SETTINGS (described in
docs/catalogue.md) and the roles' defaults; after changing any of them, run
scripts/variable-reference.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
REGENERATE = "run scripts/variable-reference to regenerate it"


def _load_generator():
    path = REPO / "tests" / "harness" / "variable_reference.py"
    spec = importlib.util.spec_from_file_location("_homelab_variable_reference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


def test_variables_md_is_current() -> None:
    expected = generator.render(REPO)
    path = REPO / "docs" / "variables.md"
    assert path.exists(), f"docs/variables.md is missing: {REGENERATE}"
    actual = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            generator.difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "docs/variables.md",
                "generated",
                n=1,
            )
        )
        pytest.fail(f"docs/variables.md is out of date: {REGENERATE}\n{diff[:4000]}")


def test_generation_is_deterministic() -> None:
    assert generator.render(REPO) == generator.render(REPO)


def test_every_catalogue_setting_is_described_in_catalogue_md() -> None:
    missing = generator.undescribed_settings(REPO)
    assert missing == [], (
        f"SETTINGS in plugins/module_utils/_catalogue.py has {missing}, which the "
        "'Topology variables' table of docs/catalogue.md does not describe: add a row "
        "'| `name` | type | default | meaning |' for each, then " + REGENERATE
    )


def test_every_role_and_entry_point_and_option_is_listed() -> None:
    text = generator.render(REPO)
    for role, specs in generator.role_specs(REPO):
        assert f"\n## {role}\n" in text
        for entry, spec in specs.items():
            assert f"\n### {role}: {entry}\n" in text
            for option in (spec or {}).get("options") or {}:
                assert f"| `{option}` |" in text, f"{role}: {entry}: {option}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("plain text", "plain text"),
        (
            "C(/etc/cloudflared) and O(cloudflared_mode=pod)",
            "`/etc/cloudflared` and `cloudflared_mode=pod`",
        ),
        (
            "V(http2), RV(homelab_plan), E(CLOUDFLARE_API_TOKEN)",
            "`http2`, `homelab_plan`, `CLOUDFLARE_API_TOKEN`",
        ),
        ("M(spitikos.homelab.k8s_ready)", "`spitikos.homelab.k8s_ready`"),
        ("I(not) B(this)", "*not* **this**"),
        ("U(https://example.com)", "<https://example.com>"),
        ("L(the docs, https://example.com/a)", "[the docs](https://example.com/a)"),
        ("a | b <id> *x*", "a \\| b &lt;id&gt; \\*x\\*"),
        ("C(a|b)", "`a\\|b`"),
    ],
)
def test_markup(source: str, expected: str) -> None:
    assert generator.markup(source) == expected


@pytest.mark.parametrize(
    ("option", "type_cell", "default_cell"),
    [
        ({"type": "str", "required": True}, "str", "**required**"),
        ({"type": "list", "elements": "str", "default": []}, "list of str", "`[]`"),
        ({"default": "", "choices": ["", "amd64"]}, 'str; one of `""`, `amd64`', '`""`'),
        ({"type": "str", "no_log": True}, "str; secret (never logged)", "—"),
        ({"type": "dict", "default": {"b": 1, "a": 2}}, "dict", '`{"a": 2, "b": 1}`'),
        ({"type": "bool", "default": False}, "bool", "`false`"),
    ],
)
def test_type_and_default_cells(option: dict, type_cell: str, default_cell: str) -> None:
    assert generator._type(option) == type_cell
    assert generator._default(option) == default_cell


def test_suboptions_are_listed_under_their_parent() -> None:
    rows = generator._option_rows(
        {
            "pools": {
                "type": "list",
                "elements": "dict",
                "description": "Pools.",
                "suboptions": {"name": {"type": "str", "required": True, "description": "N."}},
            }
        }
    )
    assert rows == [
        "| `pools` | list of dict | — | Pools. |",
        "| `pools[].name` | str | **required** | N. |",
    ]
