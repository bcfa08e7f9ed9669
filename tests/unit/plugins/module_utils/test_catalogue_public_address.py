"""homelab_public_address: auto (a dynamic public IPv4) in the catalogue and its DNS records."""

from __future__ import annotations

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import (
    PUBLIC_ADDRESS_AUTO,
    PUBLIC_ADDRESS_PLACEHOLDER,
    build_plan,
    plan_files,
)

SERVICES = [
    {"name": "web", "host": "web.example.com", "expose": "public"},
    {"name": "api", "host": "api.example.com", "expose": "public", "protocol": "grpc", "port": 1},
    {"name": "wiki", "host": "wiki.example.com"},
]


def plan_of(**overrides):
    settings = {
        "homelab_domain": "example.com",
        "homelab_edge": "router",
        "homelab_ingress_address": "10.0.0.200",
        "homelab_services": SERVICES,
    }
    settings.update(overrides)
    return build_plan(settings)


def test_constants():
    assert PUBLIC_ADDRESS_AUTO == "auto"
    assert PUBLIC_ADDRESS_PLACEHOLDER == "<public-address>"


@pytest.mark.parametrize("value", ["auto", "AUTO", " Auto "])
def test_auto_plans_public_a_records_with_the_placeholder(value):
    plan = plan_of(homelab_public_address=value, homelab_dns_ttl=60)
    assert plan["settings"]["public_address"] == "auto"
    assert plan["dns_records"] == [
        {
            "name": host,
            "type": "A",
            "content": "<public-address>",
            "proxied": False,
            "ttl": 60,
            "comment": f"service {name}; managed by spitikos.homelab",
        }
        for name, host in (("api", "api.example.com"), ("web", "web.example.com"))
    ]
    assert plan["warnings"] == []
    files = plan_files(plan)
    assert files["cloudflare/dns_records.json"] == ("json", plan["dns_records"])


@pytest.mark.parametrize(
    ("value", "rtype", "content"),
    [
        ("81.2.69.160", "A", "81.2.69.160"),
        ("2001:db8::7", "AAAA", "2001:db8::7"),
        ("home.dyndns.example.net", "CNAME", "home.dyndns.example.net"),
        ("auto", "A", "<public-address>"),
    ],
)
def test_each_kind_of_public_address(value, rtype, content):
    plan = plan_of(homelab_public_address=value)
    assert {(r["type"], r["content"]) for r in plan["dns_records"]} == {(rtype, content)}


@pytest.mark.parametrize("edge", ["tunnel", "none"])
def test_auto_outside_the_router_edge_is_ignored_with_a_warning(edge):
    services = SERVICES if edge == "tunnel" else SERVICES[2:]
    plan = plan_of(homelab_edge=edge, homelab_public_address="auto", homelab_services=services)
    assert plan["settings"]["public_address"] is None
    assert plan["warnings"] == [
        f"homelab_public_address is only used with homelab_edge 'router' (homelab_edge is "
        f"'{edge}'): ignored"
    ]
    assert all(r["content"] != PUBLIC_ADDRESS_PLACEHOLDER for r in plan["dns_records"])
