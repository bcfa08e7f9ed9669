"""The test router's uci stand-in (tests/router/rootfs/usr/sbin/uci) against the uci docs.

The examples come from https://openwrt.org/docs/guide-user/base-system/uci (file syntax, the
httpd, firewall, system and network examples) and from the usage text and output formats of
uci's cli.c (show, get, changes, export). The stand-in runs under /bin/sh and awk, as it does on
the router container, with -c and -P pointing at a temporary directory.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

UCI = Path(__file__).resolve().parents[2] / "router" / "rootfs" / "usr" / "sbin" / "uci"


@pytest.fixture
def uci(tmp_path):
    confdir = tmp_path / "config"
    confdir.mkdir()

    def run(*args, stdin=None, check=True):
        proc = subprocess.run(
            ["/bin/sh", str(UCI), "-c", str(confdir), "-P", str(tmp_path / "save"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    run.confdir = confdir
    run.write = lambda name, text: (confdir / name).write_text(textwrap.dedent(text))
    run.read = lambda name: (confdir / name).read_text()
    return run


# ---------------------------------------------------------------------------- file syntax

DOC_EXAMPLE = """\
package 'example'

config 'example' 'test'
        option   'string'      'some value'
        option   'boolean'     '1'
        list     'collection'  'first item'
        list     'collection'  'second item'
"""


def test_the_documented_example_file(uci):
    uci.write("example", DOC_EXAMPLE)
    assert uci("show", "example").stdout == (
        "example.test=example\n"
        "example.test.string='some value'\n"
        "example.test.boolean='1'\n"
        "example.test.collection='first item' 'second item'\n"
    )
    assert uci("get", "example.test.collection").stdout == "'first item' 'second item'\n"
    assert uci("get", "example.test").stdout == "example\n"


@pytest.mark.parametrize(
    "line",
    [
        "option example value",
        "option 'example' value",
        'option example "value"',
        "option \"example\" 'value'",
        "option 'example' \"value\"",
    ],
)
def test_documented_quoting_variants_are_equal(uci, line):
    uci.write("example", f"config example 'test'\n\t{line}\n")
    assert uci("get", "example.test.example").stdout == "value\n"


@pytest.mark.parametrize(
    "line",
    [
        "option 'example\" \"value'",  # quotes do not match
        "option example some value with space",  # a value with spaces needs quotes
    ],
)
def test_documented_syntax_errors_are_refused(uci, line):
    uci.write("example", f"config example 'test'\n\t{line}\n")
    proc = uci("show", "example", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("uci: Parse error")


# ---------------------------------------------------------------------------- the httpd example


def test_httpd_example_show_get_set_commit(uci):
    uci.write(
        "httpd", "package 'httpd'\nconfig 'httpd'\n\toption 'port' '80'\n\toption 'home' '/www'\n"
    )
    assert uci("show", "httpd").stdout == (
        "httpd.@httpd[0]=httpd\nhttpd.@httpd[0].port='80'\nhttpd.@httpd[0].home='/www'\n"
    )
    assert uci("get", "httpd.@httpd[0].port").stdout == "80\n"
    uci("set", "httpd.@httpd[0].port=8080")
    # Staged, not written: show sees the change, the file does not.
    assert uci("get", "httpd.@httpd[0].port").stdout == "8080\n"
    assert "'80'" in uci.read("httpd")
    uci("commit", "httpd")
    assert uci.read("httpd") == ("\nconfig httpd\n\toption port '8080'\n\toption home '/www'\n\n")
    assert uci("changes").stdout == ""


def test_export_names_anonymous_sections_unless_told_not_to(uci):
    uci.write("httpd", "config httpd\n\toption port '80'\n")
    named = uci("export", "httpd").stdout
    assert named.startswith("package httpd\n\nconfig httpd 'cfg01")
    assert uci("-N", "export", "httpd").stdout == (
        "package httpd\n\nconfig httpd\n\toption port '80'\n\n"
    )


# ---------------------------------------------------------------------------- anonymous sections


def test_firewall_rule_added_the_documented_way(uci):
    uci.write(
        "firewall",
        "config defaults\n\toption input 'ACCEPT'\n\n"
        "config rule\n\toption name 'Allow-DHCP-Renew'\n",
    )
    name = uci("add", "firewall", "rule").stdout.strip()
    # cfg, the section's place in the file (3rd), four hex digits of a hash of the type.
    assert name.startswith("cfg03")
    assert len(name) == 9
    uci("set", "firewall.@rule[-1].name=Allow-SSH")
    uci("set", "firewall.@rule[-1].src=wan")
    uci("set", "firewall.@rule[-1].dest_port=22")
    uci("set", "firewall.@rule[-1].target=ACCEPT")
    assert uci("get", f"firewall.{name}.src").stdout == "wan\n"
    assert uci("get", "firewall.@rule[1].name").stdout == "Allow-SSH\n"
    assert uci("get", "firewall.@rule[0].name").stdout == "Allow-DHCP-Renew\n"
    shown = uci("-X", "show", "firewall").stdout.splitlines()
    assert f"firewall.{name}=rule" in shown
    assert f"firewall.{name}.dest_port='22'" in shown
    assert "firewall.@rule[1].target='ACCEPT'" in uci("show", "firewall").stdout.splitlines()
    uci("commit", "firewall")
    # Committed anonymous sections carry no name in the file.
    assert uci.read("firewall").count("config rule\n") == 2


def test_extended_index_out_of_range_is_not_found(uci):
    uci.write("system", "config system\n\toption hostname 'OpenWrt'\n")
    assert uci("get", "system.@system[0].hostname").stdout == "OpenWrt\n"
    assert uci("get", "system.@system[-1].hostname").stdout == "OpenWrt\n"
    proc = uci("get", "system.@system[1].hostname", check=False)
    assert proc.returncode == 1
    assert proc.stderr == "uci: Entry not found\n"


# ---------------------------------------------------------------------------- lists


def test_ntp_servers_with_add_list_and_del_list(uci):
    uci.write(
        "system",
        """\
        config timeserver 'ntp'
        \tlist server '0.openwrt.pool.ntp.org'
        \tlist server '1.openwrt.pool.ntp.org'
        """,
    )
    uci("del_list", "system.ntp.server=0.openwrt.pool.ntp.org")
    uci("add_list", "system.ntp.server=ntp.example.com")
    assert uci("show", "system.ntp.server").stdout == (
        "system.ntp.server='1.openwrt.pool.ntp.org' 'ntp.example.com'\n"
    )
    assert uci("-d", ",", "get", "system.ntp.server").stdout == (
        "1.openwrt.pool.ntp.org,ntp.example.com\n"
    )
    assert uci("changes", "system").stdout == (
        "system.ntp.server-='0.openwrt.pool.ntp.org'\nsystem.ntp.server+='ntp.example.com'\n"
    )
    uci("delete", "system.ntp.server=0")
    assert uci("get", "system.ntp.server").stdout == "ntp.example.com\n"
    uci("commit", "system")
    assert "\tlist server 'ntp.example.com'\n" in uci.read("system")


def test_add_list_turns_an_option_into_a_list(uci):
    uci.write("dhcp", "config dnsmasq\n\toption server '1.1.1.1'\n")
    uci("add_list", "dhcp.@dnsmasq[0].server=9.9.9.9")
    uci("commit", "dhcp")
    assert "list server '1.1.1.1'\n\tlist server '9.9.9.9'" in uci.read("dhcp")


# ---------------------------------------------------------------------------- changes and revert


def test_changes_and_revert(uci):
    uci.write(
        "network",
        "config interface 'lan'\n\toption ipaddr '192.168.1.1'\n\toption proto 'static'\n",
    )
    uci("set", "network.lan.ipaddr=192.168.2.1")
    uci("delete", "network.lan.proto")
    uci("set", "network.guest=interface")
    assert uci("changes").stdout == (
        "network.lan.ipaddr='192.168.2.1'\n-network.lan.proto\nnetwork.guest='interface'\n"
    )
    uci("revert", "network")
    assert uci("changes").stdout == ""
    assert uci("get", "network.lan.ipaddr").stdout == "192.168.1.1\n"
    assert uci("get", "network.guest", check=False).returncode == 1


def test_set_to_an_empty_value_deletes_the_option(uci):
    uci.write("network", "config interface 'lan'\n\toption ipaddr '192.168.1.1'\n")
    uci("set", "network.lan.ipaddr=")
    assert uci("show", "network").stdout == "network.lan=interface\n"


def test_delete_and_rename(uci):
    uci.write(
        "dhcp", "config domain 'a'\n\toption name 'a.lan'\n\nconfig domain\n\toption name 'b.lan'\n"
    )
    uci("rename", "dhcp.@domain[1]=b")
    uci("rename", "dhcp.a.name=hostname")
    uci("delete", "dhcp.b")
    uci("commit", "dhcp")
    assert uci.read("dhcp") == "\nconfig domain 'a'\n\toption hostname 'a.lan'\n\n"


# ---------------------------------------------------------------------------- values, errors, -q


def test_quotes_survive_show_get_and_commit(uci):
    uci.write("example", "config example 'test'\n")
    uci("set", 'example.test.text=it\'s "quoted"')
    assert uci("show", "example.test.text").stdout == "example.test.text='it'\\''s \"quoted\"'\n"
    assert uci("get", "example.test.text").stdout == 'it\'s "quoted"\n'
    uci("commit", "example")
    assert uci.read("example") == "\nconfig example 'test'\n\toption text 'it'\\''s \"quoted\"'\n\n"
    assert uci("get", "example.test.text").stdout == 'it\'s "quoted"\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("get", "nothere.x"), "uci: Entry not found\n"),
        (("get", "network.wan"), "uci: Entry not found\n"),
        (("set", "network.wan.proto=dhcp"), "uci: Entry not found\n"),
        (("set", "network.lan=bad type!"), "uci: Invalid argument\n"),
        (("show", "network.lan.nothing"), "uci: Entry not found\n"),
    ],
)
def test_errors_exit_1_and_quiet_mode_hides_them(uci, args, message):
    uci.write("network", "config interface 'lan'\n")
    proc = uci(*args, check=False)
    assert (proc.returncode, proc.stderr) == (1, message)
    quiet = uci("-q", *args, check=False)
    assert (quiet.returncode, quiet.stderr) == (1, "")


def test_unknown_command_prints_usage(uci):
    proc = uci("frobnicate", check=False)
    assert proc.returncode == 255
    assert "Usage: uci [<options>] <command> [<arguments>]" in proc.stderr


def test_show_without_arguments_shows_every_config(uci):
    uci.write("a", "config x 'one'\n")
    uci.write("b", "config y 'two'\n")
    assert uci("show").stdout == "a.one=x\nb.two=y\n"


# ---------------------------------------------------------------------------- batch


def test_batch_runs_every_line_and_keeps_going_after_errors(uci):
    uci.write("dhcp", "config dnsmasq\n\toption domainneeded '1'\n")
    script = textwrap.dedent(
        """\
        set dhcp.homelab_api=domain
        set dhcp.homelab_api.name='api.example.com'
        set dhcp.homelab_api.ip='10.0.0.11'
        set dhcp.missing.ip='10.0.0.12'
        add dhcp domain
        set dhcp.@domain[-1].name="printer.lan"
        frobnicate
        commit dhcp
        exit
        set dhcp.homelab_api.ip='10.9.9.9'
        """
    )
    proc = uci("batch", stdin=script)
    assert proc.returncode == 0
    assert proc.stderr == "uci: Entry not found\nUnknown command\n"
    assert uci("changes").stdout == ""
    assert uci.read("dhcp") == (
        "\nconfig dnsmasq\n\toption domainneeded '1'\n"
        "\nconfig domain 'homelab_api'\n\toption name 'api.example.com'\n\toption ip '10.0.0.11'\n"
        "\nconfig domain\n\toption name 'printer.lan'\n\n"
    )


def test_batch_from_a_file(uci, tmp_path):
    uci.write("dhcp", "config dnsmasq\n")
    commands = tmp_path / "commands"
    commands.write_text("set dhcp.@dnsmasq[0].rebind_protection='0'\n")
    uci("-f", str(commands), "batch")
    assert uci("changes", "dhcp").stdout.endswith(".rebind_protection='0'\n")
