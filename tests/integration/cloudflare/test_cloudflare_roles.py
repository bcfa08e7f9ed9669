"""The cloudflare_tunnel and cloudflare_dns roles, run by ansible-playbook against the emulator:
what they must never print, and how they fail. Their molecule scenarios check the converged
state; these runs check the output."""

from __future__ import annotations

import base64
import json

SECRET = base64.b64encode(bytes(range(100, 132))).decode()
BATCH = "/zones/{zone_id}/dns_records/batch"
SERVICES = [
    {
        "name": "api",
        "host": "api.example.com",
        "expose": "public",
        "protocol": "grpc",
        "namespace": "api",
        "port": 50051,
    },
    {"name": "grafana", "host": "grafana.example.com", "namespace": "monitoring", "port": 3000},
]


def catalogue(emulator, **extra):
    return {
        "homelab_domain": "example.com",
        "homelab_edge": "tunnel",
        "homelab_ingress_address": "10.0.0.200",
        "homelab_services": SERVICES,
        "homelab_cloudflare_account_id": emulator.account_id,
        **extra,
    }


def roles(variables, *names, after=()):
    """A block that runs the named roles (and then `after`) with the given variables."""
    tasks = [
        {
            "name": f"Run {name}",
            "ansible.builtin.include_role": {"name": f"spitikos.homelab.{name}"},
        }
        for name in names
    ]
    return [{"name": "The roles", "vars": variables, "block": tasks + list(after)}]


def keep_facts(path):
    """A stand-in connector: writes the tunnel facts to a file, as the connector role will."""
    return {
        "name": "Hand the tunnel to the connector",
        "no_log": True,
        "ansible.builtin.copy": {
            "content": (
                "{{ {'id': cloudflare_tunnel_id, 'token': cloudflare_tunnel_token,"
                " 'credentials': cloudflare_tunnel_credentials} | to_json }}"
            ),
            "dest": str(path),
            "mode": "0600",
        },
    }


def test_roles_never_print_a_secret(ansible, emulator, zone, api_token, tmp_path):
    remote = catalogue(
        emulator,
        homelab_tunnel_name="remote",
        homelab_tunnel_mode="remote",
        vault_cloudflare_api_token=api_token,
    )
    local = catalogue(
        emulator,
        homelab_tunnel_name="local",
        homelab_tunnel_mode="local",
        vault_cloudflare_api_token=api_token,
        vault_cloudflare_tunnel_secret=SECRET,
    )
    tasks = [
        *roles(
            remote,
            "cloudflare_tunnel",
            "cloudflare_dns",
            after=[keep_facts(tmp_path / "remote.json")],
        ),
        *roles(local, "cloudflare_tunnel", after=[keep_facts(tmp_path / "local.json")]),
    ]
    # the token comes from the vault variable only
    rc, _results, output = ansible.playbook(
        tasks, diff=True, verbosity=3, env={"CLOUDFLARE_API_TOKEN": None}
    )
    assert rc == 0, output

    by_name = {t["name"]: t for t in emulator.tunnels.values()}
    remote_facts = json.loads((tmp_path / "remote.json").read_text())
    local_facts = json.loads((tmp_path / "local.json").read_text())
    assert remote_facts["id"] == by_name["remote"]["id"]
    assert json.loads(base64.b64decode(remote_facts["token"]))["t"] == by_name["remote"]["id"]
    # the secret given as a no_log option comes back masked; the role hands out the real one
    assert local_facts["credentials"] == {
        "AccountTag": emulator.account_id,
        "TunnelID": by_name["local"]["id"],
        "TunnelSecret": SECRET,
    }
    # the run did its work and said so, diff included...
    records = {r["name"]: r for r in emulator.zone_records(zone["id"])}
    assert records["api.example.com"]["content"] == f"{by_name['remote']['id']}.cfargotunnel.com"
    assert "api.example.com" in output
    assert f"{by_name['remote']['id']}.cfargotunnel.com" in output
    # ...without a secret in sight
    for secret in (
        api_token,
        SECRET,
        remote_facts["token"],
        emulator.tunnel_secret(by_name["remote"]["id"]),
    ):
        assert secret not in output


def test_tunnel_role_failures_stay_readable(ansible, emulator, api_token):
    variables = catalogue(
        emulator, homelab_tunnel_mode="remote", homelab_cloudflare_account_id="0" * 32
    )
    rc, _results, output = ansible.playbook(
        roles(variables, "cloudflare_tunnel"), verbosity=3, env={}
    )
    assert rc != 0
    assert "Authentication error" in output
    assert "Report why the tunnel could not be created or adopted" in output
    assert api_token not in output
    assert emulator.tunnels == {}


def test_tunnel_role_needs_an_account_and_a_tunnel_edge(ansible, emulator):
    rc, _results, output = ansible.playbook(
        roles(catalogue(emulator, homelab_cloudflare_account_id=""), "cloudflare_tunnel")
    )
    assert rc != 0
    assert "The tunnel needs the Cloudflare account id" in output
    rc, _results, output = ansible.playbook(
        roles(
            catalogue(emulator, homelab_edge="router", homelab_public_address="203.0.113.7"),
            "cloudflare_tunnel",
        )
    )
    assert rc != 0
    assert "homelab_edge is 'router': the catalogue plans no Cloudflare Tunnel" in output
    assert emulator.calls() == 0


def test_dns_role_needs_the_tunnel_id_except_in_check_mode(ansible, emulator, zone):
    variables = catalogue(emulator)
    rc, _results, output = ansible.playbook(roles(variables, "cloudflare_dns"))
    assert rc != 0
    assert "whose id is not known: run the cloudflare_tunnel role" in output
    assert emulator.calls() == 0

    # check mode shows the placeholder and changes nothing
    rc, results, output = ansible.playbook(roles(variables, "cloudflare_dns"), check=True)
    assert rc == 0, output
    (dns,) = (r for r in results if "changes" in r)
    assert dns["changed"] is True
    assert "api.example.com CNAME <tunnel-id>.cfargotunnel.com" in dns["changes"]["created"]
    assert emulator.calls(template=BATCH) == 0
    assert emulator.zone_records(zone["id"]) == []

    # an id from the inventory takes the placeholder's place
    tunnel_id = "6ff42ae2-765d-4adf-8112-31c55c1551ef"
    rc, results, output = ansible.playbook(
        roles(dict(variables, homelab_tunnel_id=tunnel_id), "cloudflare_dns")
    )
    assert rc == 0, output
    records = {r["name"]: r for r in emulator.zone_records(zone["id"])}
    assert records["api.example.com"]["content"] == f"{tunnel_id}.cfargotunnel.com"
    assert records["api.example.com"]["proxied"] is True
    assert records["grafana.example.com"]["content"] == "10.0.0.200"
    assert records["grafana.example.com"]["proxied"] is False


def test_dns_role_with_nothing_to_manage_does_not_call_the_api(ansible, emulator):
    variables = catalogue(emulator, homelab_edge="none", homelab_services=SERVICES[1:])
    rc, _results, output = ansible.playbook(
        roles(variables, "cloudflare_dns"), env={"CLOUDFLARE_API_TOKEN": None}
    )
    assert rc == 0, output
    assert emulator.calls() == 0


def test_check_mode_on_a_fresh_account_changes_nothing(ansible, emulator, zone):
    variables = catalogue(emulator, homelab_tunnel_mode="remote")
    rc, results, output = ansible.playbook(
        roles(variables, "cloudflare_tunnel", "cloudflare_dns"), check=True
    )
    assert rc == 0, output
    # the tunnel task is no_log; the role says what it found, or that it would create one
    (shown,) = (r["msg"] for r in results if str(r.get("msg", "")).startswith("Tunnel "))
    assert shown.startswith("Tunnel homelab (to be created), remote mode")
    assert "<tunnel-id>.cfargotunnel.com" in shown
    (dns,) = (r for r in results if "changes" in r)
    assert "api.example.com CNAME <tunnel-id>.cfargotunnel.com" in dns["changes"]["created"]
    assert emulator.tunnels == {}
    assert emulator.zone_records(zone["id"]) == []
