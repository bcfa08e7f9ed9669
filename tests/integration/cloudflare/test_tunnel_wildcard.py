"""homelab_tunnel_wildcard in remote mode: the cloudflare_tunnel and cloudflare_dns roles, run by
ansible-playbook against the emulator, send the wildcard rule in the tunnel configuration and
still publish one explicit record per public host (never a wildcard record)."""

from __future__ import annotations

CONFIG = "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations"
SERVICES = [
    {"name": "www", "host": "www.example.com", "expose": "public", "namespace": "web"},
    {
        "name": "ssh",
        "host": "ssh.example.com",
        "expose": "public",
        "protocol": "ssh",
        "origin": "ssh://127.0.0.1:22",
    },
    {"name": "grafana", "host": "grafana.example.com", "namespace": "monitoring", "port": 3000},
]
RULES = [
    {"hostname": "ssh.example.com", "service": "ssh://127.0.0.1:22"},
    {
        "hostname": "www.example.com",
        "service": "https://10.0.0.200:443",
        "originRequest": {"noTLSVerify": True, "originServerName": "www.example.com"},
    },
    {
        "hostname": "*.example.com",
        "service": "https://10.0.0.200:443",
        "originRequest": {"noTLSVerify": True, "matchSNItoHost": True},
    },
    {"service": "http_status:404"},
]


def run_roles(ansible, emulator, check=False, **extra):
    variables = {
        "homelab_domain": "example.com",
        "homelab_edge": "tunnel",
        "homelab_ingress_address": "10.0.0.200",
        "homelab_services": SERVICES,
        "homelab_tunnel_mode": "remote",
        "homelab_tunnel_wildcard": True,
        "homelab_cloudflare_account_id": emulator.account_id,
        **extra,
    }
    tasks = [
        {
            "name": f"Run {name}",
            "ansible.builtin.include_role": {"name": f"spitikos.homelab.{name}"},
        }
        for name in ("cloudflare_tunnel", "cloudflare_dns")
    ]
    return ansible.playbook([{"name": "The roles", "vars": variables, "block": tasks}], check=check)


def test_remote_configuration_carries_the_wildcard(ansible, emulator, zone):
    rc, _results, output = run_roles(ansible, emulator, check=True)
    assert rc == 0, output
    assert emulator.tunnels == {}

    rc, _results, output = run_roles(ansible, emulator)
    assert rc == 0, output
    (tunnel,) = emulator.tunnels.values()
    config = emulator.configs[tunnel["id"]]
    assert config["config"]["ingress"] == RULES
    assert config["version"] == 1

    records = emulator.zone_records(zone["id"])
    assert sorted((r["name"], r["type"], r["proxied"]) for r in records) == [
        ("grafana.example.com", "A", False),
        ("ssh.example.com", "CNAME", True),
        ("www.example.com", "CNAME", True),
    ]
    assert all("*" not in r["name"] for r in records)

    # A second run sends nothing: the stored configuration, wildcard included, compares equal.
    emulator.reset_calls()
    rc, _results, output = run_roles(ansible, emulator)
    assert rc == 0, output
    assert emulator.calls("PUT", CONFIG) == 0
    assert emulator.configs[tunnel["id"]]["version"] == 1


def test_turning_it_off_removes_the_rule(ansible, emulator, zone):
    rc, _results, output = run_roles(ansible, emulator)
    assert rc == 0, output
    rc, _results, output = run_roles(ansible, emulator, homelab_tunnel_wildcard=False)
    assert rc == 0, output
    (tunnel,) = emulator.tunnels.values()
    config = emulator.configs[tunnel["id"]]
    assert config["config"]["ingress"] == [RULES[0], RULES[1], RULES[3]]
    assert config["version"] == 2
