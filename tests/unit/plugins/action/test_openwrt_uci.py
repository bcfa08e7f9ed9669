"""openwrt_uci against OpenWrt's real uci (built from source by scripts/oracles), in the rhythm
bad input → check mode → create → unchanged → diff → delete, plus the failure paths (nothing
committed, changes reverted).
"""

from __future__ import annotations

import subprocess

import oracles
import pytest

from ansible_collections.spitikos.homelab.plugins.action.openwrt_uci import ActionModule

DHCP = """
config dnsmasq
\toption domainneeded '1'

config domain
\toption name 'printer.lan'
\toption ip '192.168.1.5'

config domain 'homelab_old'
\toption name 'old.example.com'
\toption ip '10.0.0.11'
"""

SECTIONS = [
    {
        "name": "homelab_api",
        "type": "domain",
        "options": {"name": "api.example.com", "ip": "10.0.0.11"},
        "replace": True,
    }
]
ARGS = {"config": "dhcp", "sections": SECTIONS, "purge": True, "purge_types": ["domain"]}


@pytest.fixture(autouse=True)
def _real_uci():
    oracles.require("uci")


@pytest.fixture
def dhcp(router):
    path = router.root / "etc" / "config" / "dhcp"
    path.write_text(DHCP)
    return path


def test_bad_input_fails_before_touching_the_router(run_router_action, router, dhcp):
    result = run_router_action(
        ActionModule, {"config": "dhcp", "sections": [{"name": "bad-name", "type": "domain"}]}
    )
    assert result["failed"]
    assert "a section name holds only letters" in result["msg"]
    assert router.commands == []


def test_check_mode_predicts_and_changes_nothing(run_router_action, router, dhcp):
    result = run_router_action(ActionModule, ARGS, check_mode=True, diff=True)
    assert result["changed"]
    assert result["commands"] == [
        "delete dhcp.homelab_old",
        "set dhcp.homelab_api='domain'",
        "set dhcp.homelab_api.name='api.example.com'",
        "set dhcp.homelab_api.ip='10.0.0.11'",
    ]
    assert "dhcp.homelab_old=domain\n" in result["diff"]["before"]
    assert "dhcp.homelab_api.ip='10.0.0.11'\n" in result["diff"]["after"]
    assert "dhcp.@domain[0].name='printer.lan'\n" in result["diff"]["after"]
    assert dhcp.read_text() == DHCP
    assert not any("batch" in c or "commit" in c for c in router.commands)


def test_create_then_unchanged_then_delete(run_router_action, router, dhcp):
    first = run_router_action(ActionModule, ARGS)
    assert first.get("changed"), first
    assert dhcp.read_text() == (
        "\nconfig dnsmasq\n\toption domainneeded '1'\n"
        "\nconfig domain\n\toption name 'printer.lan'\n\toption ip '192.168.1.5'\n"
        "\nconfig domain 'homelab_api'\n\toption name 'api.example.com'\n"
        "\toption ip '10.0.0.11'\n\n"
    )
    assert sum("uci commit dhcp" in c for c in router.commands) == 1
    router.commands.clear()
    again = run_router_action(ActionModule, ARGS, diff=True)
    assert again["changed"] is False
    assert "diff" not in again
    assert not any("batch" in c or "commit" in c for c in router.commands)
    gone = run_router_action(ActionModule, dict(ARGS, sections=[]))
    assert gone["commands"] == ["delete dhcp.homelab_api"]
    assert "homelab" not in dhcp.read_text()
    assert "printer.lan" in dhcp.read_text()


def test_anonymous_sections_by_match(run_router_action, dhcp):
    args = {
        "config": "dhcp",
        "sections": [
            {"type": "domain", "match": ["name"], "options": {"name": "nas.lan", "ip": "10.0.0.5"}}
        ],
    }
    first = run_router_action(ActionModule, args)
    assert first["changed"]
    assert "\toption homelab_owner 'spitikos.homelab'\n\toption name 'nas.lan'" in dhcp.read_text()
    assert run_router_action(ActionModule, args)["changed"] is False
    purged = run_router_action(ActionModule, {"config": "dhcp", "purge": True})
    assert len(purged["commands"]) == 2  # the marked section and homelab_old
    assert "nas.lan" not in dhcp.read_text()
    assert "printer.lan" in dhcp.read_text()


def test_refuses_to_commit_changes_staged_by_someone_else(run_router_action, router, dhcp):
    subprocess.run([router.uci, "set", "dhcp.@dnsmasq[0].rebind_protection=0"], check=True)
    result = run_router_action(ActionModule, ARGS)
    assert result["failed"]
    assert "uncommitted changes" in result["msg"]
    assert result["pending"] == ["dhcp.cfg01411c.rebind_protection='0'"]
    assert dhcp.read_text() == DHCP


def test_a_failed_commit_reverts_the_staged_changes(run_router_action, router, dhcp):
    result = run_router_action(ActionModule, ARGS, fail_on="uci commit")
    assert result["failed"]
    assert result["msg"] == "uci commit dhcp failed"
    assert router.commands[-1] == "uci -q revert dhcp"
    assert dhcp.read_text() == DHCP
    # uci revert empties the delta file rather than removing it: nothing is staged.
    staged = subprocess.run(
        [router.uci, "changes", "dhcp"], capture_output=True, text=True, check=False
    )
    assert (staged.returncode, staged.stdout) == (0, "")


def test_a_batch_that_misses_the_target_is_reverted(run_router_action, router, dhcp):
    # uci batch exits 0 even when a line fails; here the batch itself cannot run.
    args = dict(ARGS, sections=[{"name": "homelab_x", "type": "domain", "options": {"ip": "1"}}])
    result = run_router_action(ActionModule, args, fail_on="uci batch")
    assert result["failed"]
    assert "the staged changes were reverted" in result["msg"]
    assert router.commands[-1] == "uci -q revert dhcp"
    assert dhcp.read_text() == DHCP


def test_a_missing_config_is_reported(run_router_action, router):
    result = run_router_action(ActionModule, {"config": "nothere"})
    assert result["failed"]
    assert result["msg"] == (
        "uci configuration 'nothere' does not exist on the router (/etc/config/nothere)"
    )


def test_a_batch_that_silently_did_nothing_is_caught(run_router_action, router, dhcp):
    # uci batch exits 0 even when its lines fail: the module reads the result back.
    result = run_router_action(
        ActionModule, ARGS, replies={"uci batch": {"rc": 0, "stdout": "", "stderr": ""}}
    )
    assert result["failed"]
    assert "did not give the desired sections" in result["msg"]
    assert result["remaining"][0] == "delete dhcp.homelab_old"
    assert dhcp.read_text() == DHCP


def test_named_sections_in_the_plan_form(run_router_action, dhcp):
    plan = {"homelab_api": {".type": "domain", "name": "api.example.com", "ip": "10.0.0.11"}}
    args = {"config": "dhcp", "named": plan, "purge": True, "purge_types": ["domain"]}
    assert (
        run_router_action(ActionModule, args, check_mode=True)["commands"]
        == (run_router_action(ActionModule, ARGS, check_mode=True)["commands"])
    )
    broken = run_router_action(ActionModule, {"config": "dhcp", "named": {"x": {"ip": "1"}}})
    assert broken["msg"] == "named section 'x' has no '.type'"


def test_an_empty_value_removes_the_option_and_stays_unchanged(run_router_action, router, dhcp):
    # uci set with an empty value deletes the option; the module must not ask for an empty one.
    args = {
        "config": "dhcp",
        "sections": [{"name": "homelab_old", "type": "domain", "options": {"ip": ""}}],
    }
    first = run_router_action(ActionModule, args)
    assert first.get("changed"), first
    assert first["commands"] == ["delete dhcp.homelab_old.ip"]
    assert "10.0.0.11" not in dhcp.read_text()
    assert run_router_action(ActionModule, args)["changed"] is False


def test_a_large_batch_goes_on_stdin_and_every_command_stays_short(run_router_action, router, dhcp):
    # Dropbear, OpenWrt's SSH server, refuses commands longer than 9000 bytes (MAX_CMD_LEN):
    # the batch of a thousand names travels on the command's standard input instead.
    sections = [
        {
            "name": f"homelab_svc{i:04d}",
            "type": "domain",
            "options": {"name": f"svc{i:04d}.example.com", "ip": "10.0.0.11"},
            "replace": True,
        }
        for i in range(1000)
    ]
    result = run_router_action(ActionModule, dict(ARGS, sections=sections))
    assert result["changed"], result
    assert max(len(command) for command in router.commands) < 9000
    show = subprocess.run(
        [str(router.uci), "show", "dhcp"], capture_output=True, text=True, check=True
    ).stdout
    assert show.count("=domain\n") == 1001  # the thousand, and the hand-made printer.lan
    assert "dhcp.homelab_svc0999.name='svc0999.example.com'" in show
