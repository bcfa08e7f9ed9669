"""What openwrt_uci relies on, judged by OpenWrt's real uci (built from source by scripts/oracles).

The module writes ``uci batch`` lines (``_uci.batch_lines``) and reads ``uci -X show`` back
(``_uci.parse_show``) on the controller. Here the real uci runs the lines and prints the result,
so the quoting, lists, anonymous sections and the commands' exit codes are uci's, not ours.
"""

from __future__ import annotations

import subprocess

import oracles
import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils._uci import (
    batch_lines,
    normalize_sections,
    parse_show,
    plan_changes,
    render_show,
)

DHCP = """
config dnsmasq
\toption domainneeded '1'
\tlist server '/lan/'

config domain
\toption name 'printer.lan'
\toption ip '192.0.2.50'

config domain 'nas'
\toption name 'nas.lan'
\toption ip '192.0.2.51'
"""


@pytest.fixture
def uci(tmp_path):
    binary = oracles.require("uci")
    confdir = tmp_path / "config"
    confdir.mkdir()
    (confdir / "dhcp").write_text(DHCP)

    def run(*args, stdin=None, check=True):
        # -t, not -P: -P also makes `commit` do nothing.
        proc = subprocess.run(
            [binary, "-c", str(confdir), "-t", str(tmp_path / "save"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    run.confdir = confdir
    return run


def apply(uci, desired, **kwargs):
    """Plan against what uci shows, send the batch, commit; returns the batch lines."""
    current = parse_show(uci("-X", "show", "dhcp").stdout, "dhcp")
    operations = plan_changes(current, normalize_sections(desired), **kwargs)[0]
    lines = batch_lines("dhcp", operations)
    proc = uci("batch", stdin="".join(line + "\n" for line in lines))
    assert proc.stderr == ""
    uci("commit", "dhcp")
    return lines


TRICKY = [
    "it's",
    'say "hi"',
    "two  spaces",
    "back\\slash",
    "hash # inside",
    "'",
    "ünïcode",
    "tab\there",
    "=equals=",
    "trailing space ",
]


@pytest.mark.parametrize("value", TRICKY)
def test_values_come_back_as_they_were_sent(uci, value):
    desired = [{"name": "homelab_x", "type": "domain", "options": {"name": value, "ip": "1"}}]
    apply(uci, desired)
    assert uci("get", "dhcp.homelab_x.name").stdout == value + "\n"
    section = next(
        s for s in parse_show(uci("-X", "show", "dhcp").stdout, "dhcp") if s.name == "homelab_x"
    )
    assert section.options["name"] == value
    # And the next run sees nothing to do.
    current = parse_show(uci("-X", "show", "dhcp").stdout, "dhcp")
    assert plan_changes(current, normalize_sections(desired))[0] == []


def test_lists_with_tricky_items_round_trip(uci):
    items = ["a b", "it's", "plain", ""]
    desired = [{"name": "homelab_l", "type": "domain", "options": {"alias": items}}]
    apply(uci, desired)
    shown = parse_show(uci("-X", "show", "dhcp").stdout, "dhcp")
    assert next(s for s in shown if s.name == "homelab_l").options["alias"] == items
    assert plan_changes(shown, normalize_sections(desired))[0] == []
    # Replacing the list: delete, then add_list each item; uci keeps the order.
    apply(uci, [{"name": "homelab_l", "type": "domain", "options": {"alias": ["z", "y"]}}])
    assert uci("show", "dhcp.homelab_l.alias").stdout == "dhcp.homelab_l.alias='z' 'y'\n"


def test_show_quotes_every_value_and_names_anonymous_sections(uci):
    shown = uci("-X", "show", "dhcp").stdout.splitlines()
    # The section line carries the type unquoted, options are always quoted, anonymous sections
    # get uci's generated cfgNNXXXX name with -X and @type[n] without.
    assert "dhcp.nas=domain" in shown
    assert "dhcp.nas.ip='192.0.2.51'" in shown
    assert "dhcp.cfg01411c.server='/lan/'" in shown
    extended = uci("show", "dhcp").stdout
    assert "dhcp.@domain[0].name='printer.lan'\n" in extended
    sections = parse_show("\n".join(shown), "dhcp")
    assert [(s.name, s.anonymous) for s in sections] == [
        ("cfg01411c", True),
        (sections[1].name, True),
        ("nas", False),
    ]
    # Our diff view prints what uci show (extended) prints.
    assert render_show("dhcp", sections) == extended


def test_an_anonymous_section_is_added_and_found_again(uci):
    desired = [
        {"type": "domain", "match": ["name"], "options": {"name": "cam.lan", "ip": "192.0.2.9"}}
    ]
    lines = apply(uci, desired)
    assert lines[0] == "add dhcp domain"
    assert lines[1] == "set dhcp.@domain[-1].homelab_owner='spitikos.homelab'"
    assert uci("get", "dhcp.@domain[-1].name").stdout == "cam.lan\n"
    current = parse_show(uci("-X", "show", "dhcp").stdout, "dhcp")
    assert plan_changes(current, normalize_sections(desired))[0] == []
    # Purging removes the marked section only; hand-made ones stay.
    apply(uci, [], purge=True)
    assert "cam.lan" not in (uci.confdir / "dhcp").read_text()
    assert "printer.lan" in (uci.confdir / "dhcp").read_text()
    assert "nas.lan" in (uci.confdir / "dhcp").read_text()


def test_an_empty_value_removes_the_option_as_uci_does(uci):
    # uci set with an empty value deletes the option: the plan says so instead of asking for
    # an empty option it can never read back.
    apply(uci, [{"name": "nas", "type": "domain", "options": {"ip": ""}}])
    assert uci("get", "dhcp.nas.ip", check=False).returncode == 1
    current = parse_show(uci("-X", "show", "dhcp").stdout, "dhcp")
    desired = normalize_sections([{"name": "nas", "type": "domain", "options": {"ip": ""}}])
    assert plan_changes(current, desired)[0] == []


@pytest.mark.parametrize(
    "line",
    [
        "set dhcp.missing.ip='1'",
        "delete dhcp.missing",
        "set dhcp.@domain[9].ip='1'",
        "frobnicate",
    ],
)
def test_batch_reports_a_failed_line_on_stderr_and_still_exits_0(uci, line):
    # This is why the module reads the result back instead of trusting the exit code.
    proc = uci("batch", stdin=line + "\n", check=False)
    assert proc.returncode == 0
    assert proc.stderr.strip()


def test_changes_then_revert(uci):
    printer = uci("-X", "show", "dhcp.@domain[0]").stdout.splitlines()[0].split("=")[0]
    uci("set", "dhcp.nas.ip=192.0.2.99")
    uci("add_list", "dhcp.nas.alias=it's")
    uci("delete", "dhcp.@domain[0]")
    assert uci("changes", "dhcp").stdout.splitlines() == [
        "dhcp.nas.ip='192.0.2.99'",
        "dhcp.nas.alias+='it'\\''s'",
        f"-{printer}",
    ]
    uci("revert", "dhcp")
    assert uci("changes", "dhcp").stdout == ""
    assert (uci.confdir / "dhcp").read_text() == DHCP


def test_anonymous_sections_past_the_255th_are_still_anonymous(uci):
    # uci names them cfg%02x%04x: from the 256th section on, the counter takes three digits.
    (uci.confdir / "dhcp").write_text("config domain\n\toption ip '1'\n" * 300)
    shown = uci("-X", "show", "dhcp").stdout
    sections = parse_show(shown, "dhcp")
    assert len(sections) == 300
    assert all(s.anonymous for s in sections)
    assert render_show("dhcp", sections) == uci("show", "dhcp").stdout
