"""The uci helpers: parsing `uci show`, planning changes, writing the batch, ownership."""

from __future__ import annotations

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils._uci import (
    MARKER_VALUE,
    Section,
    UciError,
    batch_lines,
    normalize_sections,
    parse_show,
    plan_changes,
    quote,
    render_show,
)

SHOW = """\
dhcp.cfg01411c=dnsmasq
dhcp.cfg01411c.domainneeded='1'
dhcp.cfg01411c.server='1.1.1.1' '9.9.9.9'
dhcp.lan=dhcp
dhcp.lan.interface='lan'
dhcp.cfg03b1f7=domain
dhcp.cfg03b1f7.name='printer.lan'
dhcp.cfg03b1f7.ip='192.168.1.5'
dhcp.homelab_api=domain
dhcp.homelab_api.name='api.example.com'
dhcp.homelab_api.ip='10.0.0.11'
dhcp.homelab_old=domain
dhcp.homelab_old.name='old.example.com'
dhcp.homelab_old.ip='10.0.0.11'
dhcp.cfg06b1f7=domain
dhcp.cfg06b1f7.name='made.example.com'
dhcp.cfg06b1f7.homelab_owner='spitikos.homelab'
"""


def current():
    return parse_show(SHOW, "dhcp")


def desired(*sections):
    return normalize_sections(list(sections))


# --------------------------------------------------------------------------------- parsing


def test_parse_show_keeps_order_types_names_and_lists():
    sections = current()
    assert [(s.name, s.type, s.anonymous) for s in sections] == [
        ("cfg01411c", "dnsmasq", True),
        ("lan", "dhcp", False),
        ("cfg03b1f7", "domain", True),
        ("homelab_api", "domain", False),
        ("homelab_old", "domain", False),
        ("cfg06b1f7", "domain", True),
    ]
    assert sections[0].options == {"domainneeded": "1", "server": ["1.1.1.1", "9.9.9.9"]}


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("'plain'", "plain"),
        ("'it'\\''s'", "it's"),
        ("'a b' 'c'", ["a b", "c"]),
        ("''", ""),
        ("'x=y.z'", "x=y.z"),
        ("'with \"double\"'", 'with "double"'),
    ],
)
def test_parse_show_values(value, parsed):
    sections = parse_show(f"c.s=t\nc.s.o={value}\n", "c")
    assert sections[0].options["o"] == parsed


def test_parse_show_understands_the_extended_syntax():
    sections = parse_show("c.@rule[0]=rule\nc.@rule[0].name='x'\n", "c")
    assert sections[0].anonymous
    assert sections[0].options == {"name": "x"}


@pytest.mark.parametrize(
    "text",
    [
        "other.s=t\n",
        "c.s.o='x'\n",
        "c.s=t\nc.s.o='unterminated\n",
        "c.s=t\nc.s.o.p='x'\n",
        "garbage\n",
    ],
)
def test_parse_show_refuses_what_is_not_uci_output(text):
    with pytest.raises(UciError):
        parse_show(text, "c")


def test_quote_round_trips_through_the_parser():
    for value in ("simple", "it's", "''", "a b", "\\back"):
        assert parse_show(f"c.s=t\nc.s.o={quote(value)}\n", "c")[0].options["o"] == value


# --------------------------------------------------------------------------------- input


def test_normalize_reports_every_problem_at_once():
    with pytest.raises(UciError) as err:
        normalize_sections(
            [
                {"name": "bad-name", "type": "domain"},
                {"type": "domain"},
                {"name": "x", "type": "bad type"},
                {"name": "y", "type": "domain", "match": ["name"]},
                {"type": "domain", "match": ["name"], "options": {}},
                {"name": "z", "type": "domain", "options": {"ip": "a\nb", "bad key": "1"}},
                {"name": "w", "type": "domain", "options": {"homelab_owner": "me"}},
                {"name": "z", "type": "domain"},
            ]
        )
    message = str(err.value)
    for text in (
        "sections[0] (bad-name): a section name holds only letters",
        "sections[1]: give either name or match",
        "sections[2] (x): type 'bad type' is not a uci section type",
        "sections[3] (y): give either name or match",
        "sections[4]: match option 'name' needs a value in options",
        "sections[5] (z).ip: uci values cannot hold line breaks",
        "sections[5] (z): option name 'bad key'",
        "sections[6] (w): option 'homelab_owner' is the ownership marker",
        "sections[7] (z): the same section is listed twice",
    ):
        assert text in message


@pytest.mark.parametrize(
    ("value", "normal"),
    [(True, "1"), (False, "0"), (443, "443"), ("x", "x"), ([1, "b"], ["1", "b"]), ([], None)],
)
def test_normalize_values(value, normal):
    (section,) = desired({"name": "s", "type": "t", "options": {"o": value}})
    assert section["options"]["o"] == normal


# --------------------------------------------------------------------------------- planning

API = {
    "name": "homelab_api",
    "type": "domain",
    "options": {"name": "api.example.com", "ip": "10.0.0.11"},
}


def test_unchanged_sections_plan_nothing():
    operations, after, warnings = plan_changes(current(), desired(API))
    assert operations == []
    assert after == current()
    assert warnings == []


def test_a_new_named_section():
    www = {
        "name": "homelab_www",
        "type": "domain",
        "options": {"name": "www.example.com", "ip": "10.0.0.11"},
    }
    operations, after = plan_changes(current(), desired(API, www))[:2]
    assert batch_lines("dhcp", operations) == [
        "set dhcp.homelab_www='domain'",
        "set dhcp.homelab_www.name='www.example.com'",
        "set dhcp.homelab_www.ip='10.0.0.11'",
    ]
    assert after[-1] == Section(
        "homelab_www", "domain", options={"name": "www.example.com", "ip": "10.0.0.11"}
    )


def test_changed_and_removed_options():
    want = {"name": "homelab_api", "type": "domain", "options": {"ip": "10.0.0.12", "name": None}}
    operations, after = plan_changes(current(), desired(want))[:2]
    assert batch_lines("dhcp", operations) == [
        "set dhcp.homelab_api.ip='10.0.0.12'",
        "delete dhcp.homelab_api.name",
    ]
    assert after[3].options == {"ip": "10.0.0.12"}


def test_replace_removes_unlisted_options():
    want = dict(API, options={"ip": "10.0.0.11"}, replace=True)
    operations = plan_changes(current(), desired(want))[0]
    assert batch_lines("dhcp", operations) == ["delete dhcp.homelab_api.name"]


def test_purge_removes_only_owned_sections():
    operations, after = plan_changes(current(), desired(API), purge=True)[:2]
    assert batch_lines("dhcp", operations) == [
        "delete dhcp.homelab_old",
        "delete dhcp.cfg06b1f7",
    ]
    names = [s.name for s in after]
    assert names == ["cfg01411c", "lan", "cfg03b1f7", "homelab_api"]


def test_purge_types_limits_the_purge():
    extra = parse_show("dhcp.homelab_host=host\ndhcp.homelab_host.mac='aa'\n", "dhcp")
    operations = plan_changes(current() + extra, desired(API), purge=True, purge_types=["host"])[0]
    assert batch_lines("dhcp", operations) == ["delete dhcp.homelab_host"]


def test_purge_with_nothing_desired_empties_what_is_owned():
    operations = plan_changes(current(), [], purge=True, purge_types=["domain"])[0]
    assert batch_lines("dhcp", operations) == [
        "delete dhcp.homelab_api",
        "delete dhcp.homelab_old",
        "delete dhcp.cfg06b1f7",
    ]


def test_state_absent_deletes_owned_and_warns_about_hand_made():
    operations, warnings = plan_changes(
        current(),
        desired(
            {"name": "homelab_old", "type": "domain", "state": "absent"},
            {"name": "lan", "type": "dhcp", "state": "absent"},
            {"name": "homelab_never", "type": "domain", "state": "absent"},
        ),
    )[::2]
    assert batch_lines("dhcp", operations) == ["delete dhcp.homelab_old"]
    assert warnings == ["section lan (dhcp) was not made by this collection; left in place"]


def test_a_new_anonymous_section_carries_the_marker():
    want = {"type": "domain", "match": ["name"], "options": {"name": "nas.lan", "ip": "10.0.0.5"}}
    operations, after = plan_changes(current(), desired(want))[:2]
    assert batch_lines("dhcp", operations) == [
        "add dhcp domain",
        "set dhcp.@domain[-1].homelab_owner='spitikos.homelab'",
        "set dhcp.@domain[-1].name='nas.lan'",
        "set dhcp.@domain[-1].ip='10.0.0.5'",
    ]
    assert after[-1].options == {"homelab_owner": MARKER_VALUE, "name": "nas.lan", "ip": "10.0.0.5"}


def test_a_matched_hand_made_section_is_updated_but_not_adopted():
    want = {
        "type": "domain",
        "match": ["name"],
        "options": {"name": "printer.lan", "ip": "192.168.1.6"},
    }
    operations, after = plan_changes(current(), desired(want), purge=True, purge_types=["dnsmasq"])[
        :2
    ]
    assert batch_lines("dhcp", operations) == ["set dhcp.cfg03b1f7.ip='192.168.1.6'"]
    assert "homelab_owner" not in after[2].options


def test_lists_are_replaced_as_a_whole():
    want = {
        "match": ["domainneeded"],
        "type": "dnsmasq",
        "options": {"domainneeded": "1", "server": ["9.9.9.9"]},
    }
    operations = plan_changes(current(), desired(want))[0]
    assert batch_lines("dhcp", operations) == [
        "delete dhcp.cfg01411c.server",
        "add_list dhcp.cfg01411c.server='9.9.9.9'",
    ]


def test_a_list_of_one_equals_the_single_value_show_prints():
    want = dict(API, options={"name": ["api.example.com"], "ip": "10.0.0.11"})
    assert plan_changes(current(), desired(want))[0] == []


def test_a_changed_type_is_set():
    want = dict(API, type="host")
    operations = plan_changes(current(), desired(want))[0]
    assert batch_lines("dhcp", operations) == ["set dhcp.homelab_api='host'"]


def test_deletions_come_first_then_updates_then_additions():
    www = {"name": "homelab_www", "type": "domain", "options": {"name": "www.example.com"}}
    moved = dict(API, options={"name": "api.example.com", "ip": "10.0.0.99"})
    operations = plan_changes(current(), desired(www, moved), purge=True)[0]
    kinds = [op[0] for op in operations]
    assert kinds == ["delete_section", "delete_section", "set", "section", "set"]


def test_values_are_quoted_for_the_batch():
    want = {"name": "homelab_q", "type": "domain", "options": {"name": "it's"}}
    operations = plan_changes([], desired(want))[0]
    assert batch_lines("dhcp", operations)[-1] == "set dhcp.homelab_q.name='it'\\''s'"


# --------------------------------------------------------------------------------- diff view


def test_render_show_uses_the_extended_syntax_for_anonymous_sections():
    text = render_show("dhcp", current()[:3])
    assert text == (
        "dhcp.@dnsmasq[0]=dnsmasq\n"
        "dhcp.@dnsmasq[0].domainneeded='1'\n"
        "dhcp.@dnsmasq[0].server='1.1.1.1' '9.9.9.9'\n"
        "dhcp.lan=dhcp\n"
        "dhcp.lan.interface='lan'\n"
        "dhcp.@domain[0]=domain\n"
        "dhcp.@domain[0].name='printer.lan'\n"
        "dhcp.@domain[0].ip='192.168.1.5'\n"
    )
