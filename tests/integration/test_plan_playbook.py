"""playbooks/plan.yml on every example inventory: the files written and what they say.

The expectations are written by hand from the example inventories and the catalogue contract
(docs/catalogue.md, docs/plan.md).
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import oracles
import pytest
import yaml
from plan_inventory import write_inventory

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = "var/lib/rancher/k3s/server/manifests/homelab-ingress.yaml"
MARKER = "managed by spitikos.homelab"
ADDONS_DIR = "var/lib/rancher/k3s/server/manifests"
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane:NoSchedule"
CERT_MANAGER = ("cert-manager", "cert-manager-cloudflare-token", "cert-manager-issuers")


def addons(host, *names):
    """The plan paths of the cluster_addons manifests ``homelab-<name>.yaml`` on ``host``."""
    return [f"hosts/{host}/{ADDONS_DIR}/homelab-{name}.yaml" for name in names]


def connector(host, *etc_files):
    """The plan paths of the cloudflared role's host-mode files on ``host``."""
    return [
        *(f"hosts/{host}/etc/cloudflared/{name}" for name in etc_files),
        f"hosts/{host}/etc/systemd/system/cloudflared.service",
        f"hosts/{host}/etc/systemd/system/cloudflared.service.d/override.conf",
    ]


def k3s_server(host):
    """The plan paths of the k3s_server role's files on ``host`` (no environment file)."""
    return [
        f"hosts/{host}/etc/rancher/k3s/config.yaml",
        f"hosts/{host}/etc/systemd/system/k3s.service",
    ]


def k3s_agent(host):
    """The plan paths of the k3s_agent role's files on ``host`` (no environment file)."""
    return [
        f"hosts/{host}/etc/rancher/k3s/config.yaml",
        f"hosts/{host}/etc/systemd/system/k3s-agent.service",
    ]


def read_k3s_config(out, host):
    text = (out / f"hosts/{host}/etc/rancher/k3s/config.yaml").read_text()
    assert text.startswith("# ")
    assert "token" not in text
    return yaml.safe_load(text)


def comment(name):
    return f"service {name}; {MARKER}"


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def read_json(path):
    text = path.read_text()
    data = json.loads(text)
    # Deterministic writing: sorted keys, two-space indents, one trailing newline.
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n", path
    return data


def read_manifest(path):
    text = path.read_text()
    assert text.startswith("# Managed by spitikos.homelab")
    assert text.endswith("\n")
    return list(yaml.safe_load_all(text))


@pytest.fixture(scope="module")
def plan(run_playbook, tmp_path_factory):
    """Run the plan once per example inventory; returns {inventory: plan directory}."""
    done = {}

    def get(inventory):
        if inventory not in done:
            out = tmp_path_factory.mktemp("plan") / "out"
            result = run_playbook("playbooks/plan.yml", "-i", inventory, "-e", f"plan_dir={out}")
            assert result.returncode == 0, result.stdout + result.stderr
            done[inventory] = (out, result.stdout)
        return done[inventory]

    return get


# ============================================================================ inventories/home


def test_home_files(plan):
    out, stdout = plan("inventories/home")
    assert files_under(out) == sorted(
        [
            "cloudflare/dns_records.json",
            "cloudflare/tunnel.json",
            "hosts/gw/uci/dhcp.json",
            f"hosts/pi1/{MANIFESTS}",
            *addons("pi1", *CERT_MANAGER, "ingress-nginx"),
            *connector("pi1", "config.yml", "credentials.json"),
            *k3s_server("pi1"),
            *k3s_agent("pi2"),
            *k3s_agent("pi3"),
        ]
    )
    assert "[WARNING]" not in stdout


def test_home_tunnel(plan):
    out = plan("inventories/home")[0]
    origin = "https://10.0.0.11:443"
    assert read_json(out / "cloudflare/tunnel.json") == {
        "name": "home",
        "mode": "local",
        "ingress": [
            {
                "hostname": "api.example.com",
                "service": origin,
                "originRequest": {
                    "noTLSVerify": True,
                    "http2Origin": True,
                    "originServerName": "api.example.com",
                },
            },
            {"hostname": "mqtt.example.com", "service": "tcp://10.0.0.30:8883"},
            {"hostname": "ssh.example.com", "service": "ssh://127.0.0.1:22"},
            {
                "hostname": "www.example.com",
                "service": origin,
                "originRequest": {"noTLSVerify": True, "originServerName": "www.example.com"},
            },
            {"service": "http_status:404"},
        ],
    }


def test_home_dns_records(plan):
    out = plan("inventories/home")[0]
    tunnel = "<tunnel-id>.cfargotunnel.com"
    assert read_json(out / "cloudflare/dns_records.json") == [
        {"name": "api.example.com", "type": "CNAME", "content": tunnel, "proxied": True,
         "ttl": 1, "comment": comment("api")},
        {"name": "grafana.example.com", "type": "A", "content": "10.0.0.11", "proxied": False,
         "ttl": 1, "comment": comment("grafana")},
        {"name": "home.example.com", "type": "A", "content": "10.0.0.11", "proxied": False,
         "ttl": 1, "comment": comment("home")},
        {"name": "mqtt.example.com", "type": "CNAME", "content": tunnel, "proxied": True,
         "ttl": 1, "comment": comment("mqtt")},
        {"name": "ssh.example.com", "type": "CNAME", "content": tunnel, "proxied": True,
         "ttl": 1, "comment": comment("ssh")},
        {"name": "www.example.com", "type": "CNAME", "content": tunnel, "proxied": True,
         "ttl": 1, "comment": comment("www")},
    ]  # fmt: skip


def test_home_lan_dns(plan):
    out = plan("inventories/home")[0]
    assert read_json(out / "hosts/gw/uci/dhcp.json") == {
        "homelab_api": {".type": "domain", "name": "api.example.com", "ip": "10.0.0.11"},
        "homelab_grafana": {".type": "domain", "name": "grafana.example.com", "ip": "10.0.0.11"},
        "homelab_home": {".type": "domain", "name": "home.example.com", "ip": "10.0.0.11"},
        "homelab_www": {".type": "domain", "name": "www.example.com", "ip": "10.0.0.11"},
    }


def test_home_k3s_server_config(plan):
    # One server and two agents: no cluster-init, no server key; the control-plane taint because
    # there are agents; traefik disabled for ingress-nginx. tls-san: homelab_k3s_api_hostnames,
    # the servers' addresses, and the server's own name (the inventory name, as no facts are
    # gathered offline) and ansible_host.
    out = plan("inventories/home")[0]
    assert read_k3s_config(out, "pi1") == {
        "write-kubeconfig-mode": "0600",
        "node-name": "pi1",
        "tls-san": ["10.0.0.11", "k3s.example.com", "pi1"],
        "disable": ["traefik"],
        "node-taint": [CONTROL_PLANE_TAINT],
    }
    unit = (out / "hosts/pi1/etc/systemd/system/k3s.service").read_text()
    assert "Type=notify\n" in unit
    assert "ExecStart=/usr/local/bin/k3s server\n" in unit
    assert "EnvironmentFile=-/etc/systemd/system/k3s.service.env\n" in unit


def test_home_k3s_agent_config(plan):
    # Agents join the first server at its ansible_host; the token is only in the environment
    # file, which the plan leaves out.
    out = plan("inventories/home")[0]
    for host in ("pi2", "pi3"):
        assert read_k3s_config(out, host) == {
            "server": "https://10.0.0.11:6443",
            "node-name": host,
        }
        unit = (out / f"hosts/{host}/etc/systemd/system/k3s-agent.service").read_text()
        assert "Type=exec\n" in unit
        assert "ExecStart=/usr/local/bin/k3s agent\n" in unit
        assert not (out / f"hosts/{host}/etc/systemd/system/k3s-agent.service.env").exists()
    assert not (out / "hosts/pi1/etc/systemd/system/k3s.service.env").exists()


def test_home_ingresses(plan):
    out = plan("inventories/home")[0]
    docs = read_manifest(out / f"hosts/pi1/{MANIFESTS}")
    summary = [
        (
            d["kind"],
            d["metadata"]["namespace"],
            d["metadata"]["name"],
            d["spec"]["rules"][0]["host"],
            d["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"],
        )
        for d in docs
    ]
    assert summary == [
        ("Ingress", "api", "api", "api.example.com", {"name": "api", "port": {"number": 50051}}),
        ("Ingress", "home-assistant", "home", "home.example.com",
         {"name": "home-assistant", "port": {"number": 8123}}),
        ("Ingress", "monitoring", "grafana", "grafana.example.com",
         {"name": "grafana", "port": {"number": 3000}}),
        ("Ingress", "web", "www", "www.example.com", {"name": "www", "port": {"number": 80}}),
    ]  # fmt: skip
    api = docs[0]
    assert api["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt-production",
        "nginx.ingress.kubernetes.io/backend-protocol": "GRPC",
    }
    assert api["spec"]["tls"] == [{"hosts": ["api.example.com"], "secretName": "api-tls"}]
    assert {d["spec"]["ingressClassName"] for d in docs} == {"nginx"}


HOME_EXEC_START = (
    "ExecStart=/usr/local/bin/cloudflared --no-autoupdate --config /etc/cloudflared/config.yml "
    "--metrics 127.0.0.1:2000 --protocol http2 tunnel run"
)


def test_home_connector_config_holds_the_tunnel_rules(plan):
    out = plan("inventories/home")[0]
    text = (out / "hosts/pi1/etc/cloudflared/config.yml").read_text()
    config = yaml.safe_load(text)
    # No tunnel id in the inventory: the plan shows the placeholder the role replaces.
    assert config == {
        "tunnel": "<tunnel-id>",
        "credentials-file": "/etc/cloudflared/credentials.json",
        "ingress": read_json(out / "cloudflare/tunnel.json")["ingress"],
    }
    assert [rule.get("hostname") for rule in config["ingress"]] == [
        "api.example.com",
        "mqtt.example.com",
        "ssh.example.com",
        "www.example.com",
        None,
    ]
    assert config["ingress"][0]["originRequest"]["http2Origin"] is True
    # The secret never appears in the plan, only its placeholder.
    assert json.loads((out / "hosts/pi1/etc/cloudflared/credentials.json").read_text()) == {
        "AccountTag": "<account-tag>",
        "TunnelID": "<tunnel-id>",
        "TunnelSecret": "<tunnel-secret>",
    }


def test_home_connector_drop_in_pins_http2(plan):
    out = plan("inventories/home")[0]
    drop_in = (out / "hosts/pi1/etc/systemd/system/cloudflared.service.d/override.conf").read_text()
    lines = [line for line in drop_in.splitlines() if not line.startswith("#")]
    assert lines == ["[Service]", "ExecStart=", HOME_EXEC_START]
    unit = (out / "hosts/pi1/etc/systemd/system/cloudflared.service").read_text()
    assert "\nType=notify\nUser=cloudflared\nGroup=cloudflared\n" in unit
    assert "\nWantedBy=multi-user.target\n" in unit


def test_plan_is_deterministic(run_playbook, plan, tmp_path):
    first = plan("inventories/home")[0]
    again = tmp_path / "again"
    result = run_playbook("playbooks/plan.yml", "-i", "inventories/home", "-e", f"plan_dir={again}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert files_under(first) == files_under(again)
    for name in files_under(first):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name


# ============================================================================ tunnel-passthrough


def test_tunnel_passthrough(plan):
    out, stdout = plan("inventories/examples/tunnel-passthrough")
    assert files_under(out) == sorted(
        [
            "cloudflare/dns_records.json",
            "cloudflare/tunnel.json",
            f"hosts/node1/{MANIFESTS}",
            "hosts/router/uci/dhcp.json",
            *addons("node1", *CERT_MANAGER, "traefik"),
            *connector("node1", "cloudflared.env"),
            *k3s_server("node1"),
            *k3s_agent("node2"),
        ]
    )
    assert "[WARNING]" not in stdout
    origin_request = {"noTLSVerify": True}
    assert read_json(out / "cloudflare/tunnel.json") == {
        "name": "homelab",
        "mode": "remote",
        "ingress": [
            {
                "hostname": "blog.example.com",
                "service": "https://10.0.0.21:443",
                "originRequest": {**origin_request, "originServerName": "blog.example.com"},
            },
            {
                "hostname": "docs.example.com",
                "service": "https://10.0.0.21:443",
                "originRequest": {**origin_request, "originServerName": "docs.example.com"},
            },
            # homelab_tunnel_wildcard: after every explicit rule, before the catch-all
            {
                "hostname": "*.example.com",
                "service": "https://10.0.0.21:443",
                "originRequest": {**origin_request, "matchSNItoHost": True},
            },
            {"service": "http_status:404"},
        ],
    }
    # Remote configuration: the connector gets the token (a placeholder here), no config.yml.
    node1 = out / "hosts/node1/etc"
    assert (
        (node1 / "cloudflared/cloudflared.env")
        .read_text()
        .endswith("\nTUNNEL_TOKEN=<tunnel-token>\n")
    )
    drop_in = (node1 / "systemd/system/cloudflared.service.d/override.conf").read_text()
    assert [line for line in drop_in.splitlines() if not line.startswith("#")] == [
        "[Service]",
        "EnvironmentFile=/etc/cloudflared/cloudflared.env",
        "ExecStart=",
        "ExecStart=/usr/local/bin/cloudflared --no-autoupdate --metrics 127.0.0.1:2000 "
        "--protocol http2 tunnel run",
    ]
    target = "6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com"
    records = read_json(out / "cloudflare/dns_records.json")
    assert [(r["name"], r["type"], r["content"], r["proxied"]) for r in records] == [
        ("blog.example.com", "CNAME", target, True),
        ("docs.example.com", "CNAME", target, True),
        ("nas.example.com", "A", "10.0.0.21", False),
        ("photos.example.com", "A", "10.0.0.21", False),
    ]
    docs = read_manifest(out / f"hosts/node1/{MANIFESTS}")
    assert [(d["metadata"]["namespace"], d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("blog", "Certificate", "blog"),
        ("blog", "IngressRoute", "blog"),
        ("docs", "ServersTransport", "homelab-insecure-skip-verify"),
        ("docs", "Certificate", "docs"),
        ("docs", "IngressRoute", "docs"),
        ("photos", "Certificate", "photos"),
        ("photos", "IngressRoute", "photos"),
        ("storage", "IngressRouteTCP", "nas"),
    ]
    nas = docs[-1]
    assert nas["spec"]["routes"] == [
        {"match": "HostSNI(`nas.example.com`)", "services": [{"name": "nas-gateway", "port": 5001}]}
    ]
    assert nas["spec"]["tls"] == {"passthrough": True}
    dhcp = read_json(out / "hosts/router/uci/dhcp.json")
    assert {s["name"]: s["ip"] for s in dhcp.values()} == {
        "blog.example.com": "10.0.0.21",
        "docs.example.com": "10.0.0.21",
        "nas.example.com": "10.0.0.21",
        "photos.example.com": "10.0.0.21",
    }


# ============================================================================ router-metallb


ROUTER_METALLB_HAPROXY = """\
# Ansible managed
# TLS routing by SNI for the home lab: TLS is never terminated here, HAProxy reads the name the
# client asks for in its ClientHello and passes the whole connection on. Made from homelab_services
# by spitikos.homelab; local edits are overwritten.
global
    maxconn 2048
    user nobody
    group nogroup

defaults
    mode tcp
    option dontlognull
    timeout connect 5s
    timeout client 1m
    timeout server 1m
    timeout tunnel 1h
    default-server inter 5s fall 3 rise 2

frontend homelab_tls
    bind *:443
    tcp-request inspect-delay 5s
    acl sni_api.example.com req_ssl_sni -i api.example.com
    acl sni_auth.example.com req_ssl_sni -i auth.example.com
    acl sni_dashboard.example.com req_ssl_sni -i dashboard.example.com
    acl sni_vault.example.com req_ssl_sni -i vault.example.com
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend k8s_ingress if sni_api.example.com
    use_backend k8s_ingress if sni_auth.example.com
    use_backend k8s_ingress if sni_dashboard.example.com
    use_backend k8s_ingress if sni_vault.example.com
    default_backend default_backend

backend k8s_ingress
    server k8s_ingress 10.0.0.200:443 check

backend default_backend
    server default_backend 10.0.0.2:443 check
"""


def test_router_metallb(plan):
    out, stdout = plan("inventories/examples/router-metallb")
    assert files_under(out) == sorted(
        [
            "cloudflare/dns_records.json",
            f"hosts/cp1/{MANIFESTS}",
            "hosts/gw/etc/haproxy.cfg",
            "hosts/gw/uci/dhcp.json",
            *addons("cp1", *CERT_MANAGER, "ingress-nginx", "metallb", "metallb-pools"),
            *addons("cp1", "oauth2-proxy", "oauth2-proxy-credentials"),
            *k3s_server("cp1"),
            *k3s_server("cp2"),
            *k3s_server("cp3"),
            *k3s_agent("worker1"),
        ]
    )
    assert "[WARNING]" not in stdout
    records = read_json(out / "cloudflare/dns_records.json")
    assert records == [
        {"name": f"{n}.example.com", "type": "A", "content": "203.0.113.7", "proxied": False,
         "ttl": 1, "comment": comment(n)}
        for n in ("api", "auth", "dashboard", "vault")
    ]  # fmt: skip
    dhcp = read_json(out / "hosts/gw/uci/dhcp.json")
    assert {s["name"]: s["ip"] for s in dhcp.values()} == {
        "api.example.com": "10.0.0.200",
        "auth.example.com": "10.0.0.200",
        "dashboard.example.com": "10.0.0.200",
        "vault.example.com": "10.0.0.200",
        "printer.example.com": "10.0.0.210",
        "wiki.example.com": "10.0.0.210",
    }
    docs = {d["metadata"]["name"]: d for d in read_manifest(out / f"hosts/cp1/{MANIFESTS}")}
    assert {n: d["spec"]["ingressClassName"] for n, d in docs.items()} == {
        "api": "nginx",
        "auth": "nginx",
        "dashboard": "nginx",
        "vault": "nginx",
        "printer": "nginx-internal",
        "wiki": "nginx-internal",
    }
    nginx = "nginx.ingress.kubernetes.io/"
    for name in ("dashboard", "wiki"):
        annotations = docs[name]["metadata"]["annotations"]
        assert annotations[nginx + "auth-url"] == (
            "http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth"
        )
        assert annotations[nginx + "auth-signin"] == (
            "https://auth.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri"
        )
    assert docs["vault"]["metadata"]["annotations"] == {
        nginx + "ssl-passthrough": "true",
        nginx + "backend-protocol": "HTTPS",
    }
    assert docs["printer"]["metadata"]["annotations"][nginx + "backend-protocol"] == "HTTPS"


def test_router_metallb_haproxy(plan):
    out = plan("inventories/examples/router-metallb")[0]
    # Public hosts only (wiki and printer are LAN-only), TLS passthrough included; names the
    # catalogue does not know go to homelab_router_default_backend.
    assert (out / "hosts/gw/etc/haproxy.cfg").read_text() == ROUTER_METALLB_HAPROXY


def test_router_without_default_backend_rejects_unknown_names(run_playbook, tmp_path):
    out = tmp_path / "plan"
    result = run_playbook(
        "playbooks/plan.yml",
        "-i",
        "inventories/examples/router-metallb",
        "-e",
        f"plan_dir={out}",
        "-e",
        "homelab_router_default_backend=",
        "-e",
        '{"openwrt_edge_haproxy_ingress_servers": ["10.0.0.11", "10.0.0.12"]}',
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = (out / "hosts/gw/etc/haproxy.cfg").read_text()
    known = " ".join(f"!sni_{n}.example.com" for n in ("api", "auth", "dashboard", "vault"))
    assert f"    tcp-request content reject if {{ req_ssl_hello_type 1 }} {known}\n" in config
    assert "    tcp-request content reject\n" in config
    assert "backend default_backend" not in config
    assert config.endswith(
        "backend k8s_ingress\n"
        "    # Several nodes serve the ingress: each client keeps reaching the same one.\n"
        "    balance source\n"
        "    stick-table type ip size 100k expire 30m\n"
        "    stick on src\n"
        "    server node1 10.0.0.11:443 check\n"
        "    server node2 10.0.0.12:443 check\n"
    )


def test_debian_router_gets_debian_paths_and_a_dnsmasq_file(run_playbook, tmp_path):
    out = tmp_path / "plan"
    result = run_playbook(
        "playbooks/plan.yml",
        "-i",
        "inventories/examples/router-metallb",
        "-e",
        f"plan_dir={out}",
        "-e",
        "openwrt_edge_platform=debian",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hosts/gw/etc/haproxy/haproxy.cfg" in files_under(out)
    assert "    user haproxy\n" in (out / "hosts/gw/etc/haproxy/haproxy.cfg").read_text()
    lines = (out / "hosts/gw/etc/dnsmasq.d/homelab.conf").read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == [
        "host-record=api.example.com,10.0.0.200",
        "host-record=auth.example.com,10.0.0.200",
        "host-record=dashboard.example.com,10.0.0.200",
        "host-record=printer.example.com,10.0.0.210",
        "host-record=vault.example.com,10.0.0.200",
        "host-record=wiki.example.com,10.0.0.210",
    ]


def test_router_port_forward(plan):
    # homelab_router_mode port_forward: uci firewall redirects from the WAN to the external
    # ingress address (443, and 80 with homelab_router_forward_http), no HAProxy file.
    out, stdout = plan("inventories/examples/router-port-forward")
    router_files = [f for f in files_under(out) if f.startswith("hosts/gw/")]
    assert router_files == ["hosts/gw/uci/dhcp.json", "hosts/gw/uci/firewall.json"]
    assert "[WARNING]" not in stdout

    def redirect(scheme, port):
        return {
            ".type": "redirect",
            "name": f"homelab {scheme} to the ingress",
            "target": "DNAT",
            "src": "wan",
            "src_dport": str(port),
            "dest": "lan",
            "dest_ip": "192.168.1.200",
            "dest_port": str(port),
            "proto": "tcp",
        }

    assert read_json(out / "hosts/gw/uci/firewall.json") == {
        "homelab_forward_https": redirect("https", 443),
        "homelab_forward_http": redirect("http", 80),
    }
    dhcp = read_json(out / "hosts/gw/uci/dhcp.json")
    assert {s["name"]: s["ip"] for s in dhcp.values()} == {
        "api.example.com": "192.168.1.200",
        "www.example.com": "192.168.1.200",
        "nas.example.com": "192.168.1.210",
    }
    # homelab_public_address: auto - the public hosts' A records wait for the address the
    # site reads at run time; offline they show the placeholder.
    records = read_json(out / "cloudflare/dns_records.json")
    assert [(r["name"], r["type"], r["content"], r["proxied"]) for r in records] == [
        ("api.example.com", "A", "<public-address>", False),
        ("www.example.com", "A", "<public-address>", False),
    ]


def test_router_metallb_k3s(plan):
    # Three servers (embedded etcd): cp1 creates the cluster, cp2 and cp3 join it at cp1's
    # ansible_host. MetalLB disables servicelb, ingress-nginx disables traefik; worker1 is an
    # agent, so the servers are tainted.
    out = plan("inventories/examples/router-metallb")[0]
    sans = ["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13", "k3s.example.com"]
    common = {
        "write-kubeconfig-mode": "0600",
        "disable": ["servicelb", "traefik"],
        "node-taint": [CONTROL_PLANE_TAINT],
    }
    assert read_k3s_config(out, "cp1") == {
        **common,
        "node-name": "cp1",
        "cluster-init": True,
        "tls-san": sorted([*sans, "cp1"]),
    }
    for host in ("cp2", "cp3"):
        assert read_k3s_config(out, host) == {
            **common,
            "node-name": host,
            "server": "https://10.0.0.11:6443",
            "tls-san": sorted([*sans, host]),
        }
    assert read_k3s_config(out, "worker1") == {
        "server": "https://10.0.0.11:6443",
        "node-name": "worker1",
    }


# ============================================================================ lan-only


def test_lan_only(plan):
    out, stdout = plan("inventories/examples/lan-only")
    assert files_under(out) == sorted(
        [
            "cloudflare/dns_records.json",
            "hosts/gw/uci/dhcp.json",
            f"hosts/pi/{MANIFESTS}",
            *addons("pi", *CERT_MANAGER, "ingress-nginx", "coredns-custom"),
            *k3s_server("pi"),
        ]
    )
    assert "[WARNING]" not in stdout
    assert read_json(out / "cloudflare/dns_records.json") == []
    # homelab_cluster_dns_upstream: pods ask the router for the zone and the LAN's own names.
    (coredns,) = read_manifest(out / f"hosts/pi/{ADDONS_DIR}/homelab-coredns-custom.yaml")
    assert (coredns["kind"], coredns["metadata"]["name"]) == ("ConfigMap", "coredns-custom")
    assert coredns["metadata"]["namespace"] == "kube-system"
    (block,) = coredns["data"].values()
    assert block.splitlines()[0] == "example.com:53 lan:53 {"
    assert "    forward . 192.168.1.1:53" in block.splitlines()
    assert read_json(out / "hosts/gw/uci/dhcp.json") == {
        "homelab_grafana": {".type": "domain", "name": "grafana.example.com", "ip": "192.168.1.10"},
        "homelab_jellyfin": {".type": "domain", "name": "media.example.com", "ip": "192.168.1.10"},
        "homelab_nas": {".type": "domain", "name": "nas.example.com", "ip": "192.168.1.10"},
    }
    docs = read_manifest(out / f"hosts/pi/{MANIFESTS}")
    assert [d["metadata"]["name"] for d in docs] == ["jellyfin", "grafana", "nas"]


# ============================================================================ cloudflared pod mode


def test_cloudflared_pod_mode_plans_a_deployment_on_the_first_server(run_playbook, tmp_path):
    out = tmp_path / "plan"
    result = run_playbook(
        "playbooks/plan.yml",
        "-i",
        "inventories/examples/tunnel-passthrough",
        "-e",
        f"plan_dir={out}",
        "-e",
        "cloudflared_mode=pod",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    files = files_under(out)
    # Nothing of cloudflared on the host itself.
    assert not [f for f in files if "/etc/" in f and "cloudflared" in f]
    docs = read_manifest_any(out / f"hosts/node1/{ADDONS_DIR}/homelab-cloudflared.yaml")
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Namespace", "cloudflared"),
        ("Secret", "cloudflared-token"),
        ("Deployment", "cloudflared"),
    ]
    assert docs[1]["stringData"] == {"token": "<tunnel-token>"}
    spec = docs[2]["spec"]
    assert spec["replicas"] == 2
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == "docker.io/cloudflare/cloudflared:2026.9.3"
    assert container["args"][-4:] == ["--protocol", "http2", "tunnel", "run"]
    assert container["env"][0]["valueFrom"] == {
        "secretKeyRef": {"name": "cloudflared-token", "key": "token"}
    }
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}


def read_manifest_any(path):
    text = path.read_text()
    assert text.endswith("\n")
    return [d for d in yaml.safe_load_all(text) if d]


# ============================================================================ failures


BROKEN = """\
---
homelab_domain: example.com
homelab_edge: tunnel
homelab_ingress_address: ingress.lan
homelab_tunnel_protocol: quic
homelab_services:
  - name: api
    host: api.example.com
    expose: public
    protocol: grpc
    port: 50051
  - name: api
    host: API.example.com.
  - name: db
    host: db.other.org
    protocol: tcp
    expose: public
  - name: web
    host: "*.example.com"
    prot: http
"""

BROKEN_ERRORS = [
    "homelab_ingress_address 'ingress.lan' is not an IP address",
    "homelab_services[0] (name 'api'): protocol 'grpc' fails through the tunnel over QUIC, "
    "but homelab_tunnel_protocol is 'quic'; use 'http2'",
    "homelab_services[1] (name 'api'): name 'api' is already used by homelab_services[0]",
    "homelab_services[1] (name 'api'): host 'API.example.com.' is the same host as "
    "homelab_services[0] (name 'api') ('api.example.com')",
    "homelab_services[2] (name 'db'): host 'db.other.org' is not inside homelab_domain "
    "'example.com'",
    "homelab_services[2] (name 'db'): field 'origin' is required for protocol 'tcp'",
    "homelab_services[3] (name 'web'): unknown field 'prot' (did you mean 'port'?)",
    "homelab_services[3] (name 'web'): host '*.example.com' is a wildcard; give each service "
    "a concrete host name",
]


def test_broken_catalogue_lists_every_error_and_writes_nothing(run_playbook, tmp_path):
    inventory = write_inventory(tmp_path / "inventory", BROKEN)
    out = tmp_path / "plan"
    result = run_playbook("playbooks/plan.yml", "-i", inventory, "-e", f"plan_dir={out}")
    assert result.returncode != 0
    for error in BROKEN_ERRORS:
        assert error in result.stdout, error
    assert f"the service catalogue has {len(BROKEN_ERRORS)} errors" in result.stdout
    assert not out.exists()


def test_plan_needs_no_reachable_host(run_playbook, tmp_path):
    inventory = write_inventory(
        tmp_path / "inventory",
        "---\nhomelab_domain: example.com\nhomelab_edge: none\nhomelab_ingress_address: "
        "192.0.2.10\nhomelab_services:\n  - name: web\n    host: web.example.com\n",
    )
    out = tmp_path / "plan"
    result = run_playbook("playbooks/plan.yml", "-i", inventory, "-e", f"plan_dir={out}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert files_under(out) == sorted(
        [
            "cloudflare/dns_records.json",
            "hosts/gw/uci/dhcp.json",
            f"hosts/pi/{MANIFESTS}",
            *addons("pi", *CERT_MANAGER, "ingress-nginx"),
            *k3s_server("pi"),
        ]
    )


def test_plan_dir_is_required(run_playbook):
    result = run_playbook("playbooks/plan.yml", "-i", "inventories/home")
    assert result.returncode != 0
    assert "Give the output directory: -e plan_dir=DIR" in result.stdout


# ============================================================================ cluster add-ons


def read_addon(out, host, name):
    return read_manifest(out / f"hosts/{host}/{ADDONS_DIR}/homelab-{name}.yaml")


def chart_values(doc):
    return yaml.safe_load(doc["spec"]["valuesContent"])


def test_router_metallb_addons(plan):
    out = plan("inventories/examples/router-metallb")[0]
    charts = {d["metadata"]["name"]: d for d in read_addon(out, "cp1", "ingress-nginx")}
    assert sorted(charts) == ["ingress-nginx", "ingress-nginx-internal"]
    external = chart_values(charts["ingress-nginx"])["controller"]
    internal = chart_values(charts["ingress-nginx-internal"])["controller"]
    # vault (passthrough) is public: the external controller gets the flag, the internal not.
    assert external["extraArgs"] == {"enable-ssl-passthrough": "true"}
    assert "extraArgs" not in internal
    assert external["ingressClassResource"]["name"] == "nginx"
    assert internal["ingressClassResource"]["name"] == "nginx-internal"
    assert external["service"]["annotations"] == {
        "metallb.io/address-pool": "homelab-external",
        "metallb.io/loadBalancerIPs": "10.0.0.200",
    }
    assert internal["service"]["annotations"] == {
        "metallb.io/address-pool": "homelab-internal",
        "metallb.io/loadBalancerIPs": "10.0.0.210",
    }
    assert charts["ingress-nginx"]["spec"]["version"] == "4.15.1"
    pools = read_addon(out, "cp1", "metallb-pools")
    assert [(d["kind"], d["metadata"]["name"], d["spec"].get("addresses")) for d in pools] == [
        ("IPAddressPool", "homelab-external", ["10.0.0.200/32"]),
        ("IPAddressPool", "homelab-internal", ["10.0.0.210-10.0.0.219"]),
        ("L2Advertisement", "homelab", None),
    ]
    (oauth2,) = read_addon(out, "cp1", "oauth2-proxy")
    assert oauth2["spec"]["targetNamespace"] == "oauth2-proxy"
    args = chart_values(oauth2)["extraArgs"]
    assert (args["reverse-proxy"], args["set-xauthrequest"]) == ("true", "true")
    assert "upstream" not in args  # ingress-nginx asks /oauth2/auth


def test_tunnel_passthrough_addons(plan):
    out = plan("inventories/examples/tunnel-passthrough")[0]
    (config,) = read_addon(out, "node1", "traefik")
    assert (config["kind"], config["metadata"]["name"]) == ("HelmChartConfig", "traefik")
    assert config["metadata"]["namespace"] == "kube-system"
    settings = chart_values(config)
    assert settings["providers"]["kubernetesCRD"]["enabled"] is True
    # TLS on websecure where the bundled chart (38 and later) takes it; the Service is the
    # chart's own LoadBalancer (tests/integration/charts renders it).
    assert settings["ports"] == {"websecure": {"http": {"tls": {"enabled": True}}}}
    assert "service" not in settings


def test_addon_secrets_are_placeholders(plan):
    out = plan("inventories/examples/router-metallb")[0]
    (token,) = read_addon(out, "cp1", "cert-manager-cloudflare-token")
    assert token["stringData"] == {
        "api-token": "<vaulted: cluster_addons_cert_manager_cloudflare_api_token>"
    }
    (credentials,) = read_addon(out, "cp1", "oauth2-proxy-credentials")
    assert set(credentials["stringData"].values()) == {
        "<vaulted: cluster_addons_oauth2_proxy_client_id>",
        "<vaulted: cluster_addons_oauth2_proxy_client_secret>",
        "<vaulted: cluster_addons_oauth2_proxy_cookie_secret>",
    }
    issuers = read_addon(out, "cp1", "cert-manager-issuers")
    assert [d["metadata"]["name"] for d in issuers] == [
        "letsencrypt-production",
        "letsencrypt-staging",
    ]


# ================================================================== expectation files
# Every example inventory's whole plan, kept as one reviewed text file per inventory under
# tests/integration/plan_expected/: any change to any planned file shows up here and in review.
# After an intended change: scripts/update-plan-expectations, then read the diff before committing.
EXPECTED = Path(__file__).parent / "plan_expected"
EXPECTED_INVENTORIES = sorted(
    str(path.relative_to(REPO))
    for path in [REPO / "inventories" / "home", *(REPO / "inventories" / "examples").iterdir()]
    if path.is_dir()
)
FILE_HEADER = "===== "


def plan_text(out):
    """The plan directory as one text: each file's path in a header line, then its text."""
    parts = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        text = path.read_text()
        parts.append(f"{FILE_HEADER}{path.relative_to(out)}\n{text}")
        if not text.endswith("\n"):
            parts.append("\n")
    return "".join(parts)


def test_every_example_inventory_has_an_expectation_file():
    names = {path.name for path in EXPECTED.glob("*.txt")}
    assert names == {inv.replace("/", "_") + ".txt" for inv in EXPECTED_INVENTORIES}


@pytest.mark.parametrize("inventory", EXPECTED_INVENTORIES)
def test_plan_matches_its_expectation_file(plan, inventory):
    out = plan(inventory)[0]
    actual = plan_text(out)
    expected_file = EXPECTED / (inventory.replace("/", "_") + ".txt")
    if os.environ.get("UPDATE_PLAN_EXPECTATIONS") == "1":
        if oracles.in_ci():
            pytest.fail("UPDATE_PLAN_EXPECTATIONS=1 is refused under CI=true: it cannot fail")
        expected_file.parent.mkdir(exist_ok=True)
        expected_file.write_text(actual)
        # A rewritten expectation compared nothing: it is not a pass.
        pytest.skip(f"rewrote {expected_file.relative_to(REPO)}")
    expected = expected_file.read_text()
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            str(expected_file.relative_to(REPO)),
            "plan of " + inventory,
        )
        pytest.fail(
            "the plan differs from its expectation file; if the change is intended, run "
            "scripts/update-plan-expectations and review the diff:\n" + "".join(list(diff)[:200])
        )
