"""cloudflare_tunnel and cloudflare_tunnel_info, run by ansible-playbook against the emulator."""

from __future__ import annotations

import base64
import json
import stat

TUNNELS = "/accounts/{account_id}/cfd_tunnel"
CONFIG = "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations"
TOKEN = "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/token"
SECRET = base64.b64encode(bytes(range(32))).decode()

INGRESS = [
    {
        "hostname": "api.example.com",
        "service": "https://10.0.0.200:443",
        "origin_request": {"noTLSVerify": True, "http2Origin": True},
    },
    {"hostname": "ssh.example.com", "service": "ssh://127.0.0.1:22"},
    {"service": "http_status:404"},
]
API_INGRESS = [
    {
        "hostname": "api.example.com",
        "service": "https://10.0.0.200:443",
        "originRequest": {"noTLSVerify": True, "http2Origin": True},
    },
    {"hostname": "ssh.example.com", "service": "ssh://127.0.0.1:22"},
    {"service": "http_status:404"},
]


def tunnel(ansible, emulator, check=False, diff=False, **args):
    args = {"account_id": emulator.account_id, "name": "homelab", **args}
    return ansible.module("cloudflare_tunnel", args, check=check, diff=diff)


def live(emulator):
    return [t for t in emulator.tunnels.values() if not t.get("deleted_at")]


def test_bad_input_is_refused_before_anything_changes(ansible, emulator):
    result = tunnel(
        ansible,
        emulator,
        mode="remote",
        ingress=[
            {"hostname": "api.example.com", "service": "10.0.0.200:443"},
            {"service": "http_status:404"},
            {"hostname": "late.example.com", "service": "https://10.0.0.200"},
        ],
    )
    assert result["failed"]
    assert result["problems"] == [
        'ingress rule #1 of 3 {"hostname": "api.example.com", "service": "10.0.0.200:443"}: '
        "service '10.0.0.200:443' is not a URL with a scheme and a host, nor one of unix:PATH, "
        "unix+tls:PATH, http_status:CODE, hello_world, socks-proxy, bastion",
        'ingress rule #2 of 3 {"service": "http_status:404"}: this rule matches every request, '
        "so the rules after it would never be used; the catch-all must come last",
        'ingress rule #3 of 3 {"hostname": "late.example.com", "service": "https://10.0.0.200"}: '
        "the last rule must be the catch-all, matching every request (no hostname and no path), "
        "such as {service: 'http_status:404'}",
    ]
    result = tunnel(ansible, emulator, tunnel_secret="c2hvcnQ=")
    assert result["failed"]
    assert result["msg"] == (
        "Invalid options for tunnel homelab: tunnel_secret must decode to "
        "at least 32 bytes (it has 5)"
    )
    result = tunnel(ansible, emulator, tunnel_secret=SECRET, rotate_secret=True)
    assert result["failed"]
    assert "mutually exclusive" in result["msg"]
    assert emulator.calls() == 0
    assert emulator.tunnels == {}


def test_remote_tunnel_rhythm(ansible, emulator, zone):
    # check mode: would create, writes nothing, returns no secret
    result = tunnel(ansible, emulator, check=True, diff=True, mode="remote", ingress=INGRESS)
    assert result["changed"] is True
    assert result["tunnel"]["id"] is None
    assert "token" not in result
    assert result["diff"]["after"]["ingress"] == API_INGRESS
    assert emulator.tunnels == {}

    # create
    result = tunnel(ansible, emulator, mode="remote", ingress=INGRESS)
    assert result["changed"] is True
    (created,) = live(emulator)
    tunnel_id = created["id"]
    assert created["remote_config"] is True
    assert result["tunnel"]["id"] == tunnel_id
    assert result["cname_target"] == f"{tunnel_id}.cfargotunnel.com"
    assert emulator.configs[tunnel_id]["config"]["ingress"] == API_INGRESS
    token = json.loads(base64.b64decode(result["token"]))
    assert token == {
        "a": emulator.account_id,
        "t": tunnel_id,
        "s": emulator.tunnel_secret(tunnel_id),
    }

    # check mode on the existing tunnel: the token is read (a connector's check run needs it)
    result = tunnel(ansible, emulator, check=True, mode="remote", ingress=INGRESS)
    assert result["changed"] is False
    assert json.loads(base64.b64decode(result["token"])) == token

    # unchanged re-run: list, configuration read, token read; no write
    emulator.reset_calls()
    result = tunnel(ansible, emulator, mode="remote", ingress=INGRESS)
    assert result["changed"] is False
    assert emulator.call_summary() == {f"GET {TUNNELS}": 1, f"GET {CONFIG}": 1, f"GET {TOKEN}": 1}
    assert emulator.configs[tunnel_id]["version"] == 1

    # ingress unset: the configuration is left alone
    result = tunnel(ansible, emulator, mode="remote")
    assert result["changed"] is False
    assert result["configuration"]["ingress"] == API_INGRESS

    # a real difference is PUT once, with diff
    changed = [dict(INGRESS[0], service="https://10.0.0.201:443"), *INGRESS[1:]]
    result = tunnel(ansible, emulator, diff=True, mode="remote", ingress=changed)
    assert result["changed"] is True
    assert result["diff"]["before"]["ingress"][0]["service"] == "https://10.0.0.200:443"
    assert result["diff"]["after"]["ingress"][0]["service"] == "https://10.0.0.201:443"
    assert emulator.configs[tunnel_id]["version"] == 2
    assert emulator.calls("PUT", CONFIG) == 1
    assert len(live(emulator)) == 1, "adopted, not created again"

    # absent is refused while a DNS record points at the tunnel
    ansible.module(
        "cloudflare_dns_records",
        {
            "zone": "example.com",
            "records": [
                {
                    "name": "api.example.com",
                    "type": "CNAME",
                    "content": f"{tunnel_id}.cfargotunnel.com",
                    "proxied": True,
                }
            ],
        },
    )
    result = tunnel(ansible, emulator, state="absent")
    assert result["failed"]
    assert result["msg"] == (
        f"Tunnel homelab ({tunnel_id}) was not deleted: DNS records still point at "
        f"{tunnel_id}.cfargotunnel.com: api.example.com CNAME (zone example.com). "
        "Remove them first."
    )
    assert len(live(emulator)) == 1

    # once the records are gone: check mode, then delete, then nothing to do
    ansible.module(
        "cloudflare_dns_records", {"zone": "example.com", "records": [], "policy": "sync"}
    )
    result = tunnel(ansible, emulator, check=True, state="absent", dns_zones=["example.com"])
    assert result["changed"] is True
    assert len(live(emulator)) == 1
    result = tunnel(ansible, emulator, state="absent", dns_zones=["example.com"])
    assert result["changed"] is True
    assert live(emulator) == []
    result = tunnel(ansible, emulator, state="absent")
    assert result["changed"] is False


def test_local_tunnel_credentials(ansible, emulator, tmp_path):
    creds_file = tmp_path / "creds" / "homelab.json"
    creds_file.parent.mkdir()
    result = tunnel(ansible, emulator, check=True, credentials_file=str(creds_file))
    assert result["changed"] is True
    assert not creds_file.exists()

    result = tunnel(ansible, emulator, credentials_file=str(creds_file))
    assert result["changed"] is True
    (created,) = live(emulator)
    assert created["remote_config"] is False
    creds = result["credentials"]
    assert creds == {
        "AccountTag": emulator.account_id,
        "TunnelID": created["id"],
        "TunnelSecret": emulator.tunnel_secret(created["id"]),
    }
    assert json.loads(creds_file.read_text()) == creds
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600

    # adopted: the credentials come back from the file, nothing changes
    emulator.reset_calls()
    result = tunnel(ansible, emulator, credentials_file=str(creds_file))
    assert result["changed"] is False
    assert result["credentials"] == creds
    assert emulator.call_summary() == {f"GET {TUNNELS}": 1}

    # check mode hands them out too (read, not made up): a connector's check run needs them
    result = tunnel(ansible, emulator, check=True, credentials_file=str(creds_file))
    assert result["changed"] is False
    assert result["credentials"] == creds

    # adopted without any way to the secret: a clear error
    result = tunnel(ansible, emulator)
    assert result["failed"]
    assert "Cloudflare does not hand out the secret of an existing tunnel" in result["msg"]

    # a file for another tunnel is refused
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(creds, TunnelID="00000000-0000-0000-0000-000000000000")))
    result = tunnel(ansible, emulator, credentials_file=str(other))
    assert result["failed"]
    assert (
        "belongs to tunnel 00000000-0000-0000-0000-000000000000, not to tunnel homelab"
        in result["msg"]
    )

    # rotation sets a new secret and rewrites the file
    result = tunnel(ansible, emulator, rotate_secret=True, credentials_file=str(creds_file))
    assert result["changed"] is True
    assert result["credentials"]["TunnelSecret"] != creds["TunnelSecret"]
    assert result["credentials"]["TunnelSecret"] == emulator.tunnel_secret(created["id"])
    assert json.loads(creds_file.read_text()) == result["credentials"]
    assert len(live(emulator)) == 1


def test_local_tunnel_with_a_given_secret_is_idempotent(ansible, emulator, tmp_path):
    creds_file = tmp_path / "homelab.json"
    result = tunnel(ansible, emulator, tunnel_secret=SECRET, credentials_file=str(creds_file))
    assert result["changed"] is True
    tunnel_id = result["tunnel"]["id"]
    assert emulator.tunnel_secret(tunnel_id) == SECRET
    # the file holds the real secret; in the result Ansible masks the no_log option's value
    assert json.loads(creds_file.read_text()) == {
        "AccountTag": emulator.account_id,
        "TunnelID": tunnel_id,
        "TunnelSecret": SECRET,
    }
    assert result["credentials"]["TunnelSecret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    result = tunnel(ansible, emulator, tunnel_secret=SECRET, credentials_file=str(creds_file))
    assert result["changed"] is False
    result = tunnel(ansible, emulator, tunnel_secret=SECRET)
    assert result["changed"] is False


def test_mode_mismatch_and_deleted_namesakes(ansible, emulator):
    old = emulator.add_tunnel("homelab")
    emulator.tunnels[old["id"]]["deleted_at"] = "2024-01-01T00:00:00Z"
    emulator.add_tunnel("homelab", secret=SECRET)
    result = tunnel(ansible, emulator, mode="remote")
    assert result["failed"]
    assert "is managed locally, not remotely" in result["msg"]
    result = tunnel(ansible, emulator, tunnel_secret=SECRET)
    assert result["changed"] is False, "the deleted namesake is ignored"
    assert emulator.log[0]["query"]["is_deleted"] == ["false"]


def test_delete_with_active_connections_fails_clearly(ansible, emulator):
    created = emulator.add_tunnel("homelab", remote=True)
    emulator.add_connection(created["id"])
    result = tunnel(ansible, emulator, state="absent")
    assert result["failed"]
    assert result["msg"] == (
        "Failed to delete tunnel homelab: HTTP 400: Cannot delete tunnel "
        "because it has active connections. (code 1022)"
    )


def test_rate_limited_create_is_retried(ansible, emulator):
    emulator.inject_fault(status=429, times=1, method="POST", template=TUNNELS, retry_after=1)
    result = tunnel(ansible, emulator, mode="remote", ingress=INGRESS)
    assert result["changed"] is True
    assert emulator.calls("POST", TUNNELS) == 2
    assert len(live(emulator)) == 1


def test_secrets_never_appear_in_verbose_output(ansible, emulator, api_token, tmp_path):
    target = tmp_path / "out"
    tasks = [
        {
            "name": "Remote tunnel",
            "no_log": True,
            "register": "remote",
            "spitikos.homelab.cloudflare_tunnel": {
                "account_id": emulator.account_id,
                "name": "homelab",
                "mode": "remote",
                "ingress": INGRESS,
                "api_token": api_token,
            },
        },
        {
            "name": "Local tunnel",
            "no_log": True,
            "register": "local",
            "spitikos.homelab.cloudflare_tunnel": {
                "account_id": emulator.account_id,
                "name": "homelab-local",
                "tunnel_secret": SECRET,
                "credentials_file": f"{target}.json",
                "api_token": api_token,
            },
        },
        {
            "name": "Hand the token to the connector",
            "no_log": True,
            "ansible.builtin.copy": {
                "content": "{{ remote.token }}",
                "dest": f"{target}.token",
                "mode": "0600",
            },
        },
        {
            "name": "Show what is not secret",
            "ansible.builtin.debug": {"msg": "{{ remote.tunnel.id }} {{ remote.cname_target }}"},
        },
        {
            "name": "Read the tunnels back",
            "spitikos.homelab.cloudflare_tunnel_info": {
                "account_id": emulator.account_id,
                "include_details": True,
                "api_token": api_token,
            },
        },
    ]
    rc, _results, output = ansible.playbook(
        tasks, diff=True, verbosity=3, env={"CLOUDFLARE_API_TOKEN": None}
    )
    assert rc == 0, output
    remote_id = next(t["id"] for t in live(emulator) if t["name"] == "homelab")
    assert f"{remote_id}.cfargotunnel.com" in output
    token = (tmp_path / "out.token").read_text()
    assert json.loads(base64.b64decode(token))["t"] == remote_id
    assert json.loads((tmp_path / "out.json").read_text())["TunnelSecret"] == SECRET
    for secret in (api_token, token, SECRET, emulator.tunnel_secret(remote_id)):
        assert secret not in output


def test_info_module(ansible, emulator):
    remote = emulator.add_tunnel("homelab", remote=True)
    emulator.add_tunnel("other")
    emulator.add_connection(remote["id"])
    tunnel(ansible, emulator, mode="remote", ingress=INGRESS)
    result = ansible.module("cloudflare_tunnel_info", {"account_id": emulator.account_id})
    assert [(t["name"], t["mode"]) for t in result["tunnels"]] == [
        ("homelab", "remote"),
        ("other", "local"),
    ]
    result = ansible.module(
        "cloudflare_tunnel_info",
        {"account_id": emulator.account_id, "name": "homelab", "include_details": True},
    )
    (info,) = result["tunnels"]
    assert info["status"] == "healthy"
    assert info["cname_target"] == f"{remote['id']}.cfargotunnel.com"
    assert info["configuration"]["ingress"] == API_INGRESS
    assert len(info["connections"]) == 1
    assert "token" not in info


def test_rules_in_cloudflared_keys_are_taken_as_they_are(ansible, emulator):
    # The catalogue plan writes cloudflared's own key (originRequest); the alias takes it as is.
    result = tunnel(ansible, emulator, mode="remote", ingress=API_INGRESS)
    assert result["changed"] is True
    (created,) = live(emulator)
    assert emulator.configs[created["id"]]["config"]["ingress"] == API_INGRESS
    assert tunnel(ansible, emulator, mode="remote", ingress=INGRESS)["changed"] is False
