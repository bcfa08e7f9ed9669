"""The opt-in tunnel wildcard (homelab_tunnel_wildcard): one more ingress rule,
``*.<homelab_domain>`` to the ingress controller, after every explicit rule.

Rules are matched the way cloudflared matches them (ingress/ingress.go, ``matchHost``, and
ingress/rule.go, ``Rule.Matches``): top to bottom, the first match wins; a rule without a
hostname or with ``*`` matches every host; ``*.example.com`` matches every name ending in
``.example.com`` (one label or more, never the apex itself); host names compare without case.
Expected values are written from docs/catalogue.md and docs/cloudflared.md.
"""

from __future__ import annotations

import random

import pytest
from random_catalogues import random_tunnel_catalogue

from ansible_collections.spitikos.homelab.plugins.module_utils import _cloudflared
from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import (
    SETTINGS,
    CatalogueError,
    build_plan,
)

BASE = {
    "homelab_domain": "example.com",
    "homelab_edge": "tunnel",
    "homelab_ingress_address": "10.0.0.200",
}
HOME = [
    {"name": "api", "host": "api.example.com", "expose": "public", "protocol": "grpc",
     "namespace": "api", "port": 50051},
    {"name": "www", "host": "www.example.com", "expose": "public"},
    {"name": "ssh", "host": "ssh.example.com", "expose": "public", "protocol": "ssh",
     "origin": "ssh://127.0.0.1:22"},
    {"name": "mqtt", "host": "mqtt.example.com", "expose": "public", "protocol": "tcp",
     "origin": "tcp://10.0.0.30:8883"},
    {"name": "grafana", "host": "grafana.example.com", "namespace": "monitoring", "port": 3000},
]  # fmt: skip
WILDCARD = {
    "hostname": "*.example.com",
    "service": "https://10.0.0.200:443",
    "originRequest": {"noTLSVerify": True, "matchSNItoHost": True},
}
CATCH_ALL = {"service": "http_status:404"}


def plan_of(services=(), **overrides):
    return build_plan({**BASE, "homelab_services": [dict(s) for s in services], **overrides})


def errors_of(**overrides):
    with pytest.raises(CatalogueError) as info:
        build_plan({**BASE, **overrides})
    return info.value.errors


def match_host(rule_host, request_host):
    """cloudflared's matchHost, for a request host without port."""
    rule_host, request_host = rule_host.lower(), request_host.lower()
    if rule_host == request_host:
        return True
    if rule_host.startswith("*."):
        return request_host.endswith(rule_host[1:])
    return False


def first_match(rules, host):
    """Index of the rule cloudflared uses for ``host`` (path '/')."""
    for index, rule in enumerate(rules):
        hostname = rule.get("hostname", "")
        if (hostname in ("", "*") or match_host(hostname, host)) and not rule.get("path"):
            return index
    return len(rules) - 1


# ============================================================================ the matcher itself


@pytest.mark.parametrize(
    ("rule", "host", "expected"),
    [
        ("*.example.com", "new.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "NEW.Example.COM", True),
        ("*.Example.com", "new.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "badexample.com", False),
        ("*.example.com", "new.example.org", False),
        ("ssh.example.com", "ssh.example.com", True),
        ("ssh.example.com", "x.ssh.example.com", False),
    ],
)
def test_match_host_follows_cloudflared(rule, host, expected):
    assert match_host(rule, host) is expected


# ============================================================================ derivation


def test_off_by_default():
    assert SETTINGS["homelab_tunnel_wildcard"] is False
    rules = plan_of(HOME)["tunnel"]["ingress"]
    assert all("*" not in r.get("hostname", "") for r in rules)
    assert plan_of(HOME, homelab_tunnel_wildcard=False) == plan_of(HOME)
    assert plan_of(HOME, homelab_tunnel_wildcard=None) == plan_of(HOME)


def test_wildcard_comes_after_every_explicit_rule_and_before_the_catch_all():
    without = plan_of(HOME)["tunnel"]["ingress"]
    rules = plan_of(HOME, homelab_tunnel_wildcard=True)["tunnel"]["ingress"]
    assert rules == [*without[:-1], WILDCARD, CATCH_ALL]
    assert [r.get("hostname") for r in rules] == [
        "api.example.com",
        "mqtt.example.com",
        "ssh.example.com",
        "www.example.com",
        "*.example.com",
        None,
    ]


def test_wildcard_without_public_services():
    rules = plan_of([HOME[4]], homelab_tunnel_wildcard=True)["tunnel"]["ingress"]
    assert rules == [WILDCARD, CATCH_ALL]


def test_wildcard_follows_the_normalised_domain_and_address():
    plan = plan_of(
        homelab_domain="Home.Example.NET.",
        homelab_ingress_address="FD00:0::C8",
        homelab_tunnel_wildcard=True,
    )
    assert plan["tunnel"]["ingress"][0] == {
        "hostname": "*.home.example.net",
        "service": "https://[fd00::c8]:443",
        "originRequest": {"noTLSVerify": True, "matchSNItoHost": True},
    }


def test_wildcard_uses_the_external_class_with_two_pools():
    plan = plan_of(
        HOME,
        homelab_load_balancer="metallb",
        homelab_metallb_pools={
            "external": {"addresses": ["10.0.0.200/32"]},
            "internal": {"addresses": ["10.0.0.210-10.0.0.219"], "ingress_address": "10.0.0.210"},
        },
        homelab_tunnel_wildcard=True,
    )
    assert plan["tunnel"]["ingress"][-2] == WILDCARD


def test_wildcard_rule_is_shaped_like_the_http_rules():
    rules = plan_of(HOME, homelab_tunnel_wildcard=True)["tunnel"]["ingress"]
    www = next(r for r in rules if r.get("hostname") == "www.example.com")
    wildcard = rules[-2]
    assert wildcard["service"] == www["service"]
    assert wildcard["originRequest"]["noTLSVerify"] is www["originRequest"]["noTLSVerify"] is True
    # no fixed server name: the SNI follows each request's host instead
    assert "originServerName" not in wildcard["originRequest"]
    assert "http2Origin" not in wildcard["originRequest"]


def test_dns_records_stay_explicit():
    with_wildcard = plan_of(HOME, homelab_tunnel_wildcard=True)
    assert with_wildcard["dns_records"] == plan_of(HOME)["dns_records"]
    assert all("*" not in r["name"] for r in with_wildcard["dns_records"])


def test_cloudflared_accepts_the_rules():
    rules = plan_of(HOME, homelab_tunnel_wildcard=True)["tunnel"]["ingress"]
    assert _cloudflared.ingress_problems(rules) == []
    assert _cloudflared.validate_ingress(rules) is rules


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_both_tunnel_modes(mode):
    plan = plan_of(HOME, homelab_tunnel_mode=mode, homelab_tunnel_wildcard=True)
    assert plan["tunnel"]["mode"] == mode
    assert plan["tunnel"]["ingress"][-2] == WILDCARD


# ============================================================================ validation


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", "homelab_tunnel_wildcard 'yes' must be true or false"),
        ("true", "homelab_tunnel_wildcard 'true' must be true or false"),
        (1, "homelab_tunnel_wildcard 1 must be true or false"),
        (0, "homelab_tunnel_wildcard 0 must be true or false"),
        ("*.example.com", "homelab_tunnel_wildcard '*.example.com' must be true or false"),
        ([True], "homelab_tunnel_wildcard a list must be true or false"),
    ],
)
def test_invalid_values_report_exact_errors(value, expected):
    assert errors_of(homelab_tunnel_wildcard=value) == [expected]


@pytest.mark.parametrize(
    ("edge", "extra"),
    [("router", {"homelab_public_address": "203.0.113.7"}), ("none", {})],
)
def test_ignored_with_a_warning_outside_the_tunnel_edge(edge, extra):
    plan = plan_of(
        [{"name": "web", "host": "web.example.com"}],
        homelab_edge=edge,
        homelab_tunnel_wildcard=True,
        **extra,
    )
    assert plan["tunnel"] is None
    assert plan["warnings"] == [
        f"homelab_tunnel_wildcard is only used with homelab_edge 'tunnel' "
        f"(homelab_edge is '{edge}'): ignored"
    ]
    assert all("*" not in r["name"] for r in plan["dns_records"])


@pytest.mark.parametrize("edge", ["router", "none"])
def test_false_outside_the_tunnel_edge_says_nothing(edge):
    extra = {"homelab_public_address": "203.0.113.7"} if edge == "router" else {}
    plan = plan_of(homelab_edge=edge, homelab_tunnel_wildcard=False, **extra)
    assert plan["warnings"] == []


# ============================================================================ properties


CATALOGUES = [random_tunnel_catalogue(random.Random(seed), BASE) for seed in range(120)]


@pytest.mark.parametrize("data", CATALOGUES)
def test_every_host_reaches_its_own_rule_first(data):
    plan = build_plan(data)
    rules = plan["tunnel"]["ingress"]
    assert rules[-2:] == [WILDCARD, CATCH_ALL]
    # the wildcard comes after every explicit rule
    assert [i for i, r in enumerate(rules) if "*" in r.get("hostname", "")] == [len(rules) - 2]
    for svc in data["homelab_services"]:
        if svc["expose"] != "public":
            continue
        host = svc["host"].lower().rstrip(".")
        index = first_match(rules, host)
        assert rules[index].get("hostname") == host, (host, rules[index])
        if svc["protocol"] in ("tcp", "ssh"):
            # never shadowed by the wildcard, which would send it to the ingress controller
            assert rules[index]["service"] == svc["origin"], host
        # the same host in other spellings, as requests may carry it
        assert first_match(rules, svc["host"].rstrip(".").upper()) == index


@pytest.mark.parametrize("data", CATALOGUES)
def test_unknown_names_go_to_the_wildcard_or_the_catch_all(data):
    rules = build_plan(data)["tunnel"]["ingress"]
    explicit = {r["hostname"] for r in rules[:-2]}
    for host in ("new.example.com", "deep.new.example.com", "x-99.lab.example.com"):
        if host not in explicit:
            assert first_match(rules, host) == len(rules) - 2, host
    if "example.com" not in explicit:
        assert first_match(rules, "example.com") == len(rules) - 1
    for host in ("example.org", "badexample.com", "new.example.com.evil.net"):
        assert first_match(rules, host) == len(rules) - 1, host


@pytest.mark.parametrize("data", CATALOGUES)
def test_never_a_wildcard_dns_record(data):
    plan = build_plan(data)
    for record in plan["dns_records"]:
        assert "*" not in record["name"]
        assert record["name"] == "example.com" or record["name"].endswith(".example.com")
    public = {
        s["host"].lower().rstrip(".") for s in data["homelab_services"] if s["expose"] == "public"
    }
    cnames = {r["name"] for r in plan["dns_records"] if r["type"] == "CNAME"}
    assert cnames == public
    assert (
        plan["dns_records"] == build_plan({**data, "homelab_tunnel_wildcard": False})["dns_records"]
    )


@pytest.mark.parametrize("data", CATALOGUES[:40])
def test_cloudflared_accepts_every_derived_rule_list(data):
    assert _cloudflared.ingress_problems(build_plan(data)["tunnel"]["ingress"]) == []
