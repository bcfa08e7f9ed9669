"""The cluster DNS upstream: homelab_cluster_dns_upstream, homelab_cluster_dns_zones and the
coredns-custom ConfigMap the catalogue derives from them.

Expected values are written from docs/catalogue.md and docs/addons.md (k3s' CoreDNS imports the
``*.server`` keys of ``kube-system/coredns-custom`` as extra server blocks), not copied from the
code's output.
"""

from __future__ import annotations

import random
import re

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import (
    SETTINGS,
    CatalogueError,
    build_plan,
)

BASE = {
    "homelab_domain": "example.com",
    "homelab_edge": "tunnel",
    "homelab_ingress_address": "10.0.0.200",
    "homelab_services": [{"name": "web", "host": "web.example.com", "expose": "public"}],
}
MANAGED = {"app.kubernetes.io/managed-by": "spitikos.homelab"}


def plan_of(**overrides):
    return build_plan({**BASE, **overrides})


def errors_of(**overrides):
    with pytest.raises(CatalogueError) as info:
        build_plan({**BASE, **overrides})
    return info.value.errors


def server_block(zones, forward):
    head = " ".join(f"{zone}:53" for zone in zones)
    return f"{head} {{\n    errors\n    cache 30\n    forward . {forward}\n}}\n"


def configmap(text):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns-custom", "namespace": "kube-system", "labels": MANAGED},
        "data": {"homelab.server": text},
    }


# ============================================================================ settings


def test_the_variables_are_catalogue_settings_and_unset_by_default():
    assert SETTINGS["homelab_cluster_dns_upstream"] is None
    assert SETTINGS["homelab_cluster_dns_zones"] == []


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"homelab_cluster_dns_upstream": None},
        {"homelab_cluster_dns_upstream": ""},
        {"homelab_cluster_dns_upstream": "  "},
        {"homelab_cluster_dns_zones": []},
        {"homelab_cluster_dns_zones": None},
    ],
    ids=["absent", "null", "empty", "blank", "no-zones", "null-zones"],
)
def test_unset_upstream_changes_nothing(overrides):
    plan = plan_of(**overrides)
    assert plan["coredns"] is None
    assert plan["warnings"] == []


# ============================================================================ derivation


def test_upstream_forwards_the_domain():
    plan = plan_of(homelab_cluster_dns_upstream="192.168.1.1")
    text = server_block(["example.com"], "192.168.1.1:53")
    assert plan["coredns"] == {
        "upstream": "192.168.1.1",
        "zones": ["example.com"],
        "configmap": configmap(text),
    }
    assert text == "example.com:53 {\n    errors\n    cache 30\n    forward . 192.168.1.1:53\n}\n"


def test_extra_zones_are_normalised_and_sorted_after_the_domain():
    plan = plan_of(
        homelab_domain="Example.COM.",
        homelab_cluster_dns_upstream=" 192.168.1.1 ",
        homelab_cluster_dns_zones=["lan", "Home.Arpa.", "168.192.in-addr.arpa"],
    )
    zones = ["example.com", "168.192.in-addr.arpa", "home.arpa", "lan"]
    assert plan["coredns"]["upstream"] == "192.168.1.1"
    assert plan["coredns"]["zones"] == zones
    assert plan["coredns"]["configmap"] == configmap(server_block(zones, "192.168.1.1:53"))


def test_ipv6_upstream_is_normalised_and_bracketed():
    plan = plan_of(homelab_cluster_dns_upstream="FD00:0::1")
    assert plan["coredns"]["upstream"] == "fd00::1"
    text = plan["coredns"]["configmap"]["data"]["homelab.server"]
    assert "    forward . [fd00::1]:53\n" in text


@pytest.mark.parametrize("edge", ["tunnel", "router", "none"])
def test_every_edge_gets_the_same_configmap(edge):
    services = [{"name": "web", "host": "web.example.com"}]
    plan = plan_of(
        homelab_edge=edge,
        homelab_services=services,
        homelab_cluster_dns_upstream="10.0.0.1",
    )
    assert plan["coredns"]["configmap"] == configmap(server_block(["example.com"], "10.0.0.1:53"))


def test_configmap_does_not_depend_on_zone_order():
    zones = ["lan", "home.arpa", "iot.lan", "corp"]
    plans = []
    for seed in range(5):
        shuffled = list(zones)
        random.Random(seed).shuffle(shuffled)
        plans.append(
            plan_of(homelab_cluster_dns_upstream="10.0.0.1", homelab_cluster_dns_zones=shuffled)
        )
    assert all(p["coredns"] == plans[0]["coredns"] for p in plans)


def test_the_rest_of_the_plan_is_unchanged():
    before = plan_of()
    after = plan_of(homelab_cluster_dns_upstream="10.0.0.1", homelab_cluster_dns_zones=["lan"])
    assert {k: v for k, v in after.items() if k != "coredns"} == {
        k: v for k, v in before.items() if k != "coredns"
    }


# A server block as CoreDNS reads it: zones with port 53, then a brace-delimited plugin list.
_BLOCK = re.compile(r"^(?P<zones>(?:[a-z0-9.-]+:53 )+)\{\n(?P<body>(?:    [^\n]+\n)+)\}\n$")


@pytest.mark.parametrize("seed", range(30))
def test_server_block_properties(seed):
    rng = random.Random(seed)
    labels = ["lan", "home", "arpa", "iot", "corp", "internal", "x1"]
    zones = sorted(
        {".".join(rng.sample(labels, rng.randint(1, 3))) for _zone in range(rng.randint(0, 5))}
        - {"arpa"}
    )
    upstream = rng.choice(["192.168.1.1", "10.0.0.1", "fd00::53"])
    plan = plan_of(homelab_cluster_dns_upstream=upstream, homelab_cluster_dns_zones=zones)
    data = plan["coredns"]["configmap"]["data"]
    # k3s imports *.server keys as whole server blocks; a *.override key would land inside the
    # main block, which already forwards everything to the node's resolv.conf.
    assert list(data) == ["homelab.server"]
    match = _BLOCK.match(data["homelab.server"])
    assert match, data["homelab.server"]
    served = match.group("zones").split()
    assert served[0] == "example.com:53"
    assert len(served) == len(set(served)) == len(zones) + 1
    body = match.group("body").splitlines()
    forwards = [line for line in body if line.strip().startswith("forward ")]
    assert len(forwards) == 1
    assert forwards[0].split()[1] == "."
    assert plan["coredns"]["upstream"] in forwards[0]


# ============================================================================ validation

ERRORS = [
    (
        "upstream-a-name",
        {"homelab_cluster_dns_upstream": "router.lan"},
        [
            "homelab_cluster_dns_upstream 'router.lan' is not an IP address "
            "(the LAN resolver, typically the router)"
        ],
    ),
    (
        "upstream-with-port",
        {"homelab_cluster_dns_upstream": "192.168.1.1:53"},
        [
            "homelab_cluster_dns_upstream '192.168.1.1:53' is not an IP address "
            "(the LAN resolver, typically the router)"
        ],
    ),
    (
        "upstream-a-url",
        {"homelab_cluster_dns_upstream": "dns://192.168.1.1"},
        [
            "homelab_cluster_dns_upstream 'dns://192.168.1.1' is not an IP address "
            "(the LAN resolver, typically the router)"
        ],
    ),
    (
        "upstream-a-list",
        {"homelab_cluster_dns_upstream": ["192.168.1.1"]},
        [
            "homelab_cluster_dns_upstream a list is not an IP address "
            "(the LAN resolver, typically the router)"
        ],
    ),
    (
        "upstream-a-number",
        {"homelab_cluster_dns_upstream": 3232235777},
        [
            "homelab_cluster_dns_upstream 3232235777 is not an IP address "
            "(the LAN resolver, typically the router)"
        ],
    ),
    (
        "upstream-a-cidr",
        {"homelab_cluster_dns_upstream": "192.168.1.1/24"},
        [
            "homelab_cluster_dns_upstream '192.168.1.1/24' is not an IP address "
            "(the LAN resolver, typically the router)"
        ],
    ),
    (
        "upstream-loopback",
        {"homelab_cluster_dns_upstream": "127.0.0.53"},
        [
            "homelab_cluster_dns_upstream '127.0.0.53' is a loopback address (inside the CoreDNS "
            "pod that is CoreDNS itself); give the LAN address of the resolver (typically the "
            "router)"
        ],
    ),
    (
        "upstream-ipv6-loopback",
        {"homelab_cluster_dns_upstream": "::1"},
        [
            "homelab_cluster_dns_upstream '::1' is a loopback address (inside the CoreDNS pod "
            "that is CoreDNS itself); give the LAN address of the resolver (typically the router)"
        ],
    ),
    (
        "upstream-unspecified",
        {"homelab_cluster_dns_upstream": "0.0.0.0"},
        [
            "homelab_cluster_dns_upstream '0.0.0.0' is the unspecified address; give the LAN "
            "address of the resolver (typically the router)"
        ],
    ),
    (
        "upstream-link-local",
        {"homelab_cluster_dns_upstream": "fe80::1"},
        [
            "homelab_cluster_dns_upstream 'fe80::1' is a link-local address (pods cannot reach "
            "it); give the LAN address of the resolver (typically the router)"
        ],
    ),
    (
        "upstream-multicast",
        {"homelab_cluster_dns_upstream": "224.0.0.251"},
        [
            "homelab_cluster_dns_upstream '224.0.0.251' is a multicast address; give the LAN "
            "address of the resolver (typically the router)"
        ],
    ),
    (
        "zones-without-upstream",
        {"homelab_cluster_dns_zones": ["lan"]},
        [
            "homelab_cluster_dns_zones needs homelab_cluster_dns_upstream "
            "(the LAN resolver the zones are forwarded to)"
        ],
    ),
    (
        "zones-not-a-list",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": "lan"},
        ["homelab_cluster_dns_zones must be a list, got a string"],
    ),
    (
        "zones-a-mapping",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": {"lan": 1}},
        ["homelab_cluster_dns_zones must be a list, got a mapping"],
    ),
    (
        "zone-not-a-string",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["lan", 7]},
        ["homelab_cluster_dns_zones[1] 7 must be a string"],
    ),
    (
        "zone-root",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["."]},
        [
            "homelab_cluster_dns_zones[0] '.' is the root zone: every name would go to the LAN "
            "resolver (names outside the listed zones already follow the node's resolv.conf)"
        ],
    ),
    (
        "zone-empty",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": [""]},
        ["homelab_cluster_dns_zones[0] '' is not a DNS zone name (like lan or home.arpa)"],
    ),
    (
        "zone-wildcard",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["*.lan"]},
        ["homelab_cluster_dns_zones[0] '*.lan' is not a DNS zone name (like lan or home.arpa)"],
    ),
    (
        "zone-bad-label",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["my_lan"]},
        ["homelab_cluster_dns_zones[0] 'my_lan' is not a DNS zone name (like lan or home.arpa)"],
    ),
    (
        "zone-with-port",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["lan:53"]},
        ["homelab_cluster_dns_zones[0] 'lan:53' is not a DNS zone name (like lan or home.arpa)"],
    ),
    (
        "zone-is-the-domain",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["Example.com"]},
        [
            "homelab_cluster_dns_zones[0] 'Example.com' is inside homelab_domain 'example.com', "
            "which is forwarded already"
        ],
    ),
    (
        "zone-inside-the-domain",
        {
            "homelab_cluster_dns_upstream": "10.0.0.1",
            "homelab_cluster_dns_zones": ["lab.example.com"],
        },
        [
            "homelab_cluster_dns_zones[0] 'lab.example.com' is inside homelab_domain "
            "'example.com', which is forwarded already"
        ],
    ),
    (
        "zone-repeated",
        {
            "homelab_cluster_dns_upstream": "10.0.0.1",
            "homelab_cluster_dns_zones": ["lan", "home.arpa", "LAN."],
        },
        ["homelab_cluster_dns_zones[2] 'LAN.' repeats homelab_cluster_dns_zones[0]"],
    ),
    (
        "zone-cluster-local",
        {
            "homelab_cluster_dns_upstream": "10.0.0.1",
            "homelab_cluster_dns_zones": ["cluster.local"],
        },
        [
            "homelab_cluster_dns_zones[0] 'cluster.local' is CoreDNS' own zone (kubernetes "
            "plugin); forwarding it would hide the cluster's names"
        ],
    ),
    (
        "zone-holds-cluster-local",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["local"]},
        [
            "homelab_cluster_dns_zones[0] 'local' holds cluster.local, CoreDNS' own zone "
            "(kubernetes plugin); forwarding it would hide the cluster's names"
        ],
    ),
    (
        "zone-inside-cluster-local",
        {
            "homelab_cluster_dns_upstream": "10.0.0.1",
            "homelab_cluster_dns_zones": ["svc.cluster.local"],
        },
        [
            "homelab_cluster_dns_zones[0] 'svc.cluster.local' is inside cluster.local, CoreDNS' "
            "own zone (kubernetes plugin); forwarding it would hide the cluster's names"
        ],
    ),
    (
        "zone-in-addr-arpa",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["in-addr.arpa"]},
        [
            "homelab_cluster_dns_zones[0] 'in-addr.arpa' is CoreDNS' own zone (kubernetes "
            "plugin); forwarding it would hide the cluster's names"
        ],
    ),
    (
        "zone-ip6-arpa",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["ip6.arpa"]},
        [
            "homelab_cluster_dns_zones[0] 'ip6.arpa' is CoreDNS' own zone (kubernetes plugin); "
            "forwarding it would hide the cluster's names"
        ],
    ),
    (
        "zone-arpa",
        {"homelab_cluster_dns_upstream": "10.0.0.1", "homelab_cluster_dns_zones": ["arpa"]},
        [
            "homelab_cluster_dns_zones[0] 'arpa' holds in-addr.arpa, CoreDNS' own zone "
            "(kubernetes plugin); forwarding it would hide the cluster's names"
        ],
    ),
    (
        "domain-inside-cluster-local",
        {
            "homelab_domain": "home.cluster.local",
            "homelab_services": [],
            "homelab_cluster_dns_upstream": "10.0.0.1",
        },
        [
            "homelab_cluster_dns_upstream cannot forward homelab_domain 'home.cluster.local': "
            "it is inside cluster.local, CoreDNS' own zone (kubernetes plugin); forwarding it "
            "would hide the cluster's names"
        ],
    ),
    (
        "every-problem-at-once",
        {
            "homelab_cluster_dns_upstream": "127.0.0.1",
            "homelab_cluster_dns_zones": ["lan", None, "lan", "local"],
        },
        [
            "homelab_cluster_dns_upstream '127.0.0.1' is a loopback address (inside the CoreDNS "
            "pod that is CoreDNS itself); give the LAN address of the resolver (typically the "
            "router)",
            "homelab_cluster_dns_zones[1] null must be a string",
            "homelab_cluster_dns_zones[2] 'lan' repeats homelab_cluster_dns_zones[0]",
            "homelab_cluster_dns_zones[3] 'local' holds cluster.local, CoreDNS' own zone "
            "(kubernetes plugin); forwarding it would hide the cluster's names",
        ],
    ),
    (
        "bad-upstream-is-not-also-a-missing-one",
        {"homelab_cluster_dns_upstream": "router", "homelab_cluster_dns_zones": ["lan"]},
        [
            "homelab_cluster_dns_upstream 'router' is not an IP address "
            "(the LAN resolver, typically the router)"
        ],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [case[1:] for case in ERRORS],
    ids=[case[0] for case in ERRORS],
)
def test_invalid_settings_report_exact_errors(overrides, expected):
    assert errors_of(**overrides) == expected


def test_error_cases_have_unique_ids():
    ids = [case[0] for case in ERRORS]
    assert len(ids) == len(set(ids))


def test_errors_join_the_other_catalogue_errors():
    errors = errors_of(homelab_edge="tunel", homelab_cluster_dns_upstream="router")
    assert errors == [
        "homelab_edge 'tunel' is not one of: tunnel, router, none",
        "homelab_cluster_dns_upstream 'router' is not an IP address "
        "(the LAN resolver, typically the router)",
    ]
