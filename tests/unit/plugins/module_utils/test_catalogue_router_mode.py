"""The router edge's two modes: HAProxy SNI routing, or a plain port forward to the ingress.

Expected values are written from the contract (docs/catalogue.md, docs/router.md): with
``homelab_router_mode: port_forward`` the router plan holds uci firewall ``redirect`` sections
(DNAT from the WAN to ``homelab_ingress_address``), written as ``hosts/<router>/uci/firewall.json``.
"""

from __future__ import annotations

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import (
    CatalogueError,
    build_plan,
    plan_files,
)

BASE = {
    "homelab_domain": "example.com",
    "homelab_edge": "router",
    "homelab_router_mode": "port_forward",
    "homelab_ingress_address": "10.0.0.200",
}
WEB = {"name": "web", "host": "web.example.com", "expose": "public"}
API = {"name": "api", "host": "api.example.com", "expose": "public", "protocol": "grpc",
       "port": 50051}  # fmt: skip
VAULT = {"name": "vault", "host": "vault.example.com", "expose": "public",
         "protocol": "passthrough", "port": 8200}  # fmt: skip
WIKI = {"name": "wiki", "host": "wiki.example.com", "port": 3000}
PRINTER = {"name": "printer", "host": "printer.example.com", "protocol": "https", "port": 631}
POOLS = {
    "external": {"addresses": ["10.0.0.200/32"]},
    "internal": {"addresses": ["10.0.0.210-10.0.0.219"], "ingress_address": "10.0.0.210"},
}
INVENTORY = {"groups": {"k3s_servers": ["pi"], "openwrt_routers": ["gw", "gw2"]}}


def settings(services=(WEB,), **overrides):
    data = dict(BASE, homelab_services=[dict(s) for s in services])
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def redirect(scheme, port, address="10.0.0.200"):
    return {
        "section": f"homelab_forward_{scheme}",
        "name": f"homelab {scheme} to the ingress",
        "target": "DNAT",
        "src": "wan",
        "src_dport": port,
        "dest": "lan",
        "dest_ip": address,
        "dest_port": port,
        "proto": "tcp",
    }


def uci_redirect(scheme, port, address="10.0.0.200"):
    return {
        ".type": "redirect",
        "name": f"homelab {scheme} to the ingress",
        "target": "DNAT",
        "src": "wan",
        "src_dport": str(port),
        "dest": "lan",
        "dest_ip": address,
        "dest_port": str(port),
        "proto": "tcp",
    }


# ============================================================================ derivation

DERIVATIONS = [
    pytest.param(
        settings(),
        {"mode": "port_forward", "redirects": [redirect("https", 443)]},
        id="https-only-by-default",
    ),
    pytest.param(
        settings((WEB, API, VAULT), homelab_router_forward_http=True),
        {"mode": "port_forward", "redirects": [redirect("https", 443), redirect("http", 80)]},
        id="http-too",
    ),
    pytest.param(
        settings(homelab_router_forward_http=False, homelab_public_address="203.0.113.7"),
        {"mode": "port_forward", "redirects": [redirect("https", 443)]},
        id="http-explicitly-off",
    ),
    pytest.param(
        # LAN services on a second MetalLB address stay off the forwarded one.
        settings(
            (WEB, WIKI, PRINTER),
            homelab_load_balancer="metallb",
            homelab_metallb_pools=POOLS,
        ),
        {"mode": "port_forward", "redirects": [redirect("https", 443)]},
        id="metallb-internal-pool-for-lan",
    ),
    pytest.param(
        settings((), homelab_ingress_address="192.168.1.5"),
        {"mode": "port_forward", "redirects": [redirect("https", 443, "192.168.1.5")]},
        id="no-services-still-forwards",
    ),
    pytest.param(
        settings((WEB, WIKI), homelab_router_mode=None),
        "haproxy",
        id="haproxy-is-the-default",
    ),
    pytest.param(
        settings((WEB,), homelab_router_mode="haproxy", homelab_router_forward_http=False),
        "haproxy",
        id="haproxy-explicit",
    ),
    pytest.param(
        settings((WEB,), homelab_edge="tunnel", homelab_router_mode="haproxy"),
        None,
        id="tunnel-edge-has-no-router",
    ),
    pytest.param(
        settings((WIKI,), homelab_edge="none", homelab_router_mode=None),
        None,
        id="none-edge-has-no-router",
    ),
]


@pytest.mark.parametrize(("data", "expected"), DERIVATIONS)
def test_router_plan_by_mode(data, expected):
    router = build_plan(data)["router"]
    if expected == "haproxy":
        assert router["mode"] == "haproxy"
        assert "redirects" not in router
        assert [e["host"] for e in router["sni_map"]] == ["web.example.com"]
    else:
        assert router == expected


def test_port_forward_keeps_lan_dns_and_public_records():
    plan = build_plan(
        settings(
            (WEB, WIKI),
            homelab_load_balancer="metallb",
            homelab_metallb_pools=POOLS,
            homelab_public_address="203.0.113.7",
        )
    )
    assert [(e["host"], e["address"]) for e in plan["lan_dns"]] == [
        ("web.example.com", "10.0.0.200"),
        ("wiki.example.com", "10.0.0.210"),
    ]
    assert [(r["name"], r["type"], r["content"]) for r in plan["dns_records"]] == [
        ("web.example.com", "A", "203.0.113.7"),
    ]
    assert plan["warnings"] == []


PLAN_FILES = [
    pytest.param(
        settings(),
        {"homelab_forward_https": uci_redirect("https", 443)},
        id="https",
    ),
    pytest.param(
        settings(homelab_router_forward_http=True, homelab_ingress_address="192.168.1.5"),
        {
            "homelab_forward_https": uci_redirect("https", 443, "192.168.1.5"),
            "homelab_forward_http": uci_redirect("http", 80, "192.168.1.5"),
        },
        id="https-and-http",
    ),
    pytest.param(settings(homelab_router_mode="haproxy"), None, id="haproxy-no-firewall-file"),
    pytest.param(settings(homelab_edge="tunnel", homelab_router_mode=None), None, id="tunnel"),
]


@pytest.mark.parametrize(("data", "expected"), PLAN_FILES)
def test_plan_files_firewall_json_per_router(data, expected):
    files = plan_files(build_plan(data, INVENTORY))
    for router in ("gw", "gw2"):
        assert f"hosts/{router}/uci/dhcp.json" in files
        if expected is None:
            assert f"hosts/{router}/uci/firewall.json" not in files
        else:
            assert files[f"hosts/{router}/uci/firewall.json"] == ("json", expected)


def test_plan_files_without_routers_write_no_firewall_file():
    files = plan_files(build_plan(settings(), {"groups": {"k3s_servers": ["pi"]}}))
    assert not [path for path in files if path.endswith("firewall.json")]


# ============================================================================ validation

LAN_EXPOSED = (
    "homelab_services[{index}] (name '{name}'): expose 'lan' would be reachable from the "
    "Internet: homelab_router_mode 'port_forward' forwards port 443 to its ingress address "
    "10.0.0.200; serve LAN services from a MetalLB internal pool "
    "(homelab_metallb_pools.internal) or use homelab_router_mode 'haproxy'"
)
DEFAULT_BACKEND = (
    "homelab_router_default_backend cannot be used with homelab_router_mode 'port_forward': a "
    "port forward does not read TLS names, so every connection goes to the ingress address; "
    "unset it or use homelab_router_mode 'haproxy'"
)
HTTP_ONLY_FORWARD = (
    "homelab_router_forward_http is only used with homelab_router_mode 'port_forward' "
    "(homelab_router_mode is 'haproxy'): HAProxy listens on 443 only"
)

ERRORS = [
    pytest.param(
        settings(homelab_router_mode="nat"),
        ["homelab_router_mode 'nat' is not one of: haproxy, port_forward"],
        id="unknown-mode",
    ),
    pytest.param(
        settings(homelab_router_mode=["port_forward"]),
        ["homelab_router_mode a list is not one of: haproxy, port_forward"],
        id="mode-not-a-string",
    ),
    pytest.param(
        settings(homelab_edge="tunnel"),
        [
            "homelab_router_mode 'port_forward' needs homelab_edge 'router' "
            "(homelab_edge is 'tunnel')"
        ],
        id="port-forward-in-tunnel-edge",
    ),
    pytest.param(
        settings((WIKI,), homelab_edge="none"),
        ["homelab_router_mode 'port_forward' needs homelab_edge 'router' (homelab_edge is 'none')"],
        id="port-forward-in-none-edge",
    ),
    pytest.param(
        settings(homelab_router_default_backend="192.168.0.2:443"),
        [DEFAULT_BACKEND],
        id="default-backend",
    ),
    pytest.param(
        settings(homelab_router_forward_http="yes"),
        ["homelab_router_forward_http 'yes' must be true or false"],
        id="forward-http-not-a-boolean",
    ),
    pytest.param(
        settings(homelab_router_forward_http=1),
        ["homelab_router_forward_http 1 must be true or false"],
        id="forward-http-an-integer",
    ),
    pytest.param(
        settings(homelab_router_mode="haproxy", homelab_router_forward_http=True),
        [HTTP_ONLY_FORWARD],
        id="forward-http-with-haproxy",
    ),
    pytest.param(
        settings(homelab_edge="tunnel", homelab_router_mode=None, homelab_router_forward_http=True),
        [HTTP_ONLY_FORWARD],
        id="forward-http-in-tunnel-edge",
    ),
    pytest.param(
        settings(homelab_ingress_address="fd00::c8"),
        [
            "homelab_router_mode 'port_forward' needs an IPv4 homelab_ingress_address "
            "(got 'fd00::c8'): OpenWrt forwards ports of the IPv4 WAN address"
        ],
        id="ipv6-ingress-address",
    ),
    pytest.param(
        settings((WEB, WIKI, VAULT, PRINTER)),
        [
            LAN_EXPOSED.format(index=1, name="wiki"),
            LAN_EXPOSED.format(index=3, name="printer"),
        ],
        id="lan-services-on-the-forwarded-address",
    ),
    pytest.param(
        settings(
            (WIKI,),
            homelab_load_balancer="metallb",
            homelab_metallb_pools={"external": {"addresses": ["10.0.0.200/32"]}},
        ),
        [LAN_EXPOSED.format(index=0, name="wiki")],
        id="metallb-without-internal-pool",
    ),
    pytest.param(
        settings(
            (WEB, WIKI),
            homelab_router_default_backend="192.168.0.2:443",
            homelab_router_forward_http="no",
            homelab_domain="example..com",
        ),
        [
            "homelab_domain 'example..com' is not a DNS zone name (like example.com)",
            "homelab_router_forward_http 'no' must be true or false",
            DEFAULT_BACKEND,
            LAN_EXPOSED.format(index=1, name="wiki"),
        ],
        id="every-error-at-once",
    ),
]


@pytest.mark.parametrize(("data", "expected"), ERRORS)
def test_invalid_router_mode_reports_exact_errors(data, expected):
    with pytest.raises(CatalogueError) as info:
        build_plan(data)
    assert info.value.errors == expected
