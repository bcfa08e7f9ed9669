"""The homelab_catalogue action plugin: variables in, plan (or every error) out."""

from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.template import Templar

from ansible_collections.spitikos.homelab.plugins.action.homelab_catalogue import ActionModule

try:  # ansible-core 2.19+ templates only strings marked as trusted (as inventory files are)
    from ansible.template import trust_as_template
except ImportError:  # older ansible-core templates every string

    def trust_as_template(value):
        return value


MANIFEST = "hosts/pi1/var/lib/rancher/k3s/server/manifests/homelab-ingress.yaml"


def run_action(args=None, task_vars=None, check_mode=False):
    task = MagicMock()
    task.args = dict(args or {})
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = False
    task.action = "spitikos.homelab.homelab_catalogue"
    task_vars = dict(task_vars or {})
    loader = DataLoader()
    templar = Templar(loader=loader, variables=task_vars)
    action = ActionModule(task, MagicMock(), PlayContext(), loader, templar, MagicMock())
    return action.run(task_vars=task_vars)


def inventory_vars(**extra):
    data = {
        "homelab_domain": "example.com",
        "homelab_ingress_address": "10.0.0.200",
        "homelab_services": [
            {"name": "web", "host": "web.example.com", "expose": "public"},
            {"name": "wiki", "host": "wiki.example.com"},
        ],
        "groups": {
            "all": ["pi1", "gw"],
            "k3s_servers": ["pi1"],
            "cloudflared": ["pi1"],
            "openwrt_routers": ["gw"],
        },
        "hostvars": {"pi1": {"ansible_host": "10.0.0.11"}, "gw": {"ansible_host": "10.0.0.1"}},
    }
    data.update(extra)
    return data


def test_returns_the_plan_from_the_host_variables():
    result = run_action(task_vars=inventory_vars())
    assert result["changed"] is False
    assert not result.get("failed")
    plan = result["homelab_plan"]
    assert [s["name"] for s in plan["services"]] == ["web", "wiki"]
    assert plan["inventory"]["k3s_servers"] == ["pi1"]
    assert plan["tls_san"] == ["10.0.0.11"]
    assert "homelab_plan_files" not in result
    assert "warnings" not in result


def test_check_mode_returns_the_same_plan():
    normal = run_action(task_vars=inventory_vars())
    check = run_action(task_vars=inventory_vars(), check_mode=True)
    assert check["homelab_plan"] == normal["homelab_plan"]
    assert check["changed"] is False


def test_settings_override_the_variables():
    result = run_action(
        {"settings": {"homelab_edge": "router", "homelab_public_address": "203.0.113.7"}},
        inventory_vars(),
    )
    plan = result["homelab_plan"]
    assert plan["settings"]["edge"] == "router"
    assert plan["dns_records"] == [
        {
            "name": "web.example.com",
            "type": "A",
            "content": "203.0.113.7",
            "proxied": False,
            "ttl": 1,
            "comment": "service web; managed by spitikos.homelab",
        }
    ]


def test_unknown_setting_fails():
    result = run_action({"settings": {"homelab_edg": "router"}}, inventory_vars())
    assert result["failed"] is True
    assert result["msg"].startswith("unknown setting(s) homelab_edg; known: ")


def test_unknown_option_fails():
    with pytest.raises(AnsibleActionFail, match="Invalid options"):
        run_action({"edge": "router"}, inventory_vars())


def test_invalid_catalogue_fails_with_every_error():
    task_vars = inventory_vars(
        homelab_edge="none",
        homelab_services=[
            {"name": "web", "host": "web.example.org", "expose": "public"},
            {"name": "wiki", "host": "wiki.example.com", "port": 0},
        ],
    )
    result = run_action({"files": True}, task_vars)
    assert result["failed"] is True
    assert result["errors"] == [
        "homelab_services[0] (name 'web'): host 'web.example.org' is not inside homelab_domain "
        "'example.com'",
        "homelab_services[0] (name 'web'): expose 'public' needs homelab_edge 'tunnel' or "
        "'router', but homelab_edge is 'none'",
        "homelab_services[1] (name 'wiki'): port 0 is out of range 1-65535",
    ]
    assert result["msg"].splitlines()[0] == "the service catalogue has 3 errors:"
    for error in result["errors"]:
        assert f"- {error}" in result["msg"]
    assert "homelab_plan" not in result
    assert "homelab_plan_files" not in result


def test_warnings_are_task_warnings():
    result = run_action(task_vars=inventory_vars(homelab_edge="router"))
    assert result["warnings"] == result["homelab_plan"]["warnings"]
    assert result["warnings"][0].startswith("homelab_public_address is not set")


def test_templated_variables_are_resolved():
    task_vars = inventory_vars(
        zone="example.net",
        homelab_domain=trust_as_template("{{ zone }}"),
        homelab_services=[{"name": "web", "host": trust_as_template("web.{{ zone }}")}],
    )
    plan = run_action(task_vars=task_vars)["homelab_plan"]
    assert plan["settings"]["domain"] == "example.net"
    assert plan["services"][0]["host"] == "web.example.net"


def test_vars_host_reads_another_hosts_variables():
    task_vars = {
        "groups": {"k3s_servers": ["pi1"]},
        "hostvars": {
            "pi1": {
                "homelab_domain": "example.com",
                "homelab_ingress_address": "10.0.0.200",
                "homelab_edge": "none",
            }
        },
    }
    plan = run_action({"vars_host": "pi1"}, task_vars)["homelab_plan"]
    assert plan["settings"]["edge"] == "none"


def test_vars_host_must_exist():
    with pytest.raises(AnsibleActionFail, match="vars_host 'nope' is not a host"):
        run_action({"vars_host": "nope"}, inventory_vars())


def test_plan_files_are_rendered():
    result = run_action({"files": True}, inventory_vars())
    files = result["homelab_plan_files"]
    assert sorted(files) == [
        "cloudflare/dns_records.json",
        "cloudflare/tunnel.json",
        "hosts/gw/uci/dhcp.json",
        MANIFEST,
    ]
    for text in files.values():
        assert text.endswith("\n")
    records = json.loads(files["cloudflare/dns_records.json"])
    assert records == result["homelab_plan"]["dns_records"]
    # JSON files are written with sorted keys and two-space indents.
    assert files["cloudflare/dns_records.json"] == json.dumps(records, indent=2, sort_keys=True) + (
        "\n"
    )
    tunnel = json.loads(files["cloudflare/tunnel.json"])
    assert tunnel == {
        "name": "homelab",
        "mode": "local",
        "ingress": [
            {
                "hostname": "web.example.com",
                "service": "https://10.0.0.200:443",
                "originRequest": {"noTLSVerify": True, "originServerName": "web.example.com"},
            },
            {"service": "http_status:404"},
        ],
    }
    assert json.loads(files["hosts/gw/uci/dhcp.json"]) == {
        "homelab_web": {".type": "domain", "name": "web.example.com", "ip": "10.0.0.200"},
        "homelab_wiki": {".type": "domain", "name": "wiki.example.com", "ip": "10.0.0.200"},
    }
    manifest = files[MANIFEST]
    assert manifest.startswith("# Managed by spitikos.homelab")
    docs = list(yaml.safe_load_all(manifest))
    assert docs == result["homelab_plan"]["k8s_objects"]
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Ingress", "web"),
        ("Ingress", "wiki"),
    ]


def test_rendering_is_stable():
    first = run_action({"files": True}, inventory_vars())["homelab_plan_files"]
    second = run_action({"files": True}, inventory_vars())["homelab_plan_files"]
    assert first == second
