"""The service catalogue: every validation rule and every derivation.

Expected values are written from the catalogue contract (docs/catalogue.md), not copied from
the code's output.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
import yaml

from ansible_collections.spitikos.homelab.plugins.module_utils import _catalogue as cat
from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import (
    CatalogueError,
    build_plan,
    plan_files,
)

HERE = Path(__file__).resolve().parent
ERROR_CASES = yaml.safe_load((HERE / "catalogue_errors.yml").read_text())

BASE = {
    "homelab_domain": "example.com",
    "homelab_edge": "tunnel",
    "homelab_ingress_address": "10.0.0.200",
}
MANAGED = {"app.kubernetes.io/managed-by": "spitikos.homelab"}
NGINX = "nginx.ingress.kubernetes.io/"


def settings(services=(), **overrides):
    data = dict(BASE)
    data["homelab_services"] = [dict(s) for s in services]
    data.update(overrides)
    return data


def plan_of(services=(), inventory=None, **overrides):
    return build_plan(settings(services, **overrides), inventory)


def errors_of(data):
    with pytest.raises(CatalogueError) as info:
        build_plan(data)
    return info.value.errors


def comment(name):
    return f"service {name}; managed by spitikos.homelab"


# ============================================================================ validation


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["id"] for c in ERROR_CASES])
def test_invalid_catalogue_reports_exact_errors(case):
    data = dict(BASE)
    for name in case.get("remove", []):
        del data[name]
    data.update(case.get("settings", {}))
    assert errors_of(data) == case["errors"]


def test_error_cases_are_well_formed():
    ids = [c["id"] for c in ERROR_CASES]
    assert len(ids) == len(set(ids))
    for case in ERROR_CASES:
        assert set(case) <= {"id", "settings", "remove", "errors"}, case["id"]
        assert case["errors"], case["id"]
        assert all(isinstance(e, str) for e in case["errors"]), case["id"]


def test_settings_must_be_a_mapping():
    with pytest.raises(CatalogueError) as info:
        build_plan(["homelab_domain"])
    assert info.value.errors == ["the settings must be a mapping, got a list"]


def test_error_message_lists_every_error():
    with pytest.raises(CatalogueError) as info:
        build_plan({"homelab_edge": "x"})
    text = str(info.value)
    assert text.splitlines() == [
        "the service catalogue has 3 errors:",
        "- homelab_domain is required",
        "- homelab_edge 'x' is not one of: tunnel, router, none",
        "- homelab_ingress_address is required",
    ]


def test_one_error_is_singular():
    with pytest.raises(CatalogueError) as info:
        build_plan(settings(homelab_edge="x"))
    assert str(info.value).splitlines()[0] == "the service catalogue has 1 error:"


def test_every_faulty_service_is_named():
    services = [{"name": f"svc{i}", "host": f"svc{i}.example.com", "port": "bad"} for i in range(5)]
    errors = errors_of(settings(services))
    assert errors == [
        f"homelab_services[{i}] (name 'svc{i}'): port 'bad' must be an integer" for i in range(5)
    ]


def test_blank_optional_values_count_as_unset():
    plan = plan_of(
        [{"name": "web", "host": "web.example.com"}],
        homelab_public_address="",
        homelab_router_default_backend=None,
        homelab_tunnel_id="",
        homelab_oauth2=None,
        homelab_metallb_pools=None,
        homelab_services=None,
    )
    assert plan["services"] == []
    assert plan["settings"]["tunnel"]["id"] is None


# ============================================================================ normalisation


def test_service_defaults_and_normalisation():
    plan = plan_of([{"name": "web", "host": "  WEB.Example.COM. "}])
    assert plan["services"] == [
        {
            "name": "web",
            "host": "web.example.com",
            "expose": "lan",
            "protocol": "http",
            "auth": "none",
            "namespace": "default",
            "service": "web",
            "port": 80,
            "origin": None,
            "via_ingress": True,
            "ingress_class": "nginx",
            "ingress_address": "10.0.0.200",
            "tls_secret": "web-tls",
        }
    ]


@pytest.mark.parametrize(
    ("protocol", "port"),
    [("http", 80), ("https", 443), ("passthrough", 443)],
)
def test_default_port_per_protocol(protocol, port):
    plan = plan_of([{"name": "x", "host": "x.example.com", "protocol": protocol}])
    assert plan["services"][0]["port"] == port


def test_origin_service_has_no_kubernetes_fields():
    plan = plan_of(
        [
            {
                "name": "ssh",
                "host": "ssh.example.com",
                "expose": "public",
                "protocol": "ssh",
                "origin": "ssh://127.0.0.1:22",
            }
        ]
    )
    svc = plan["services"][0]
    assert (svc["namespace"], svc["service"], svc["port"], svc["via_ingress"]) == (
        None,
        None,
        None,
        False,
    )
    assert svc["origin"] == "ssh://127.0.0.1:22"


def test_apex_host_is_inside_the_zone():
    plan = plan_of([{"name": "root", "host": "example.com", "expose": "public"}])
    assert [r["name"] for r in plan["dns_records"]] == ["example.com"]


def test_topology_defaults():
    plan = build_plan({"homelab_domain": "Example.COM.", "homelab_ingress_address": "10.0.0.200"})
    assert plan["settings"] == {
        "domain": "example.com",
        "edge": "tunnel",
        "ingress_controller": "ingress-nginx",
        "ingress_class": "nginx",
        "load_balancer": "servicelb",
        "ingress_address": "10.0.0.200",
        "public_address": None,
        "router_default_backend": None,
        "tunnel": {"name": "homelab", "id": None, "mode": "local", "protocol": "http2"},
        "dns_lan_records": True,
        "dns_ttl": 1,
        "cert_manager_issuer": "letsencrypt-production",
        "oauth2": None,
    }
    assert plan["version"] == 1
    assert plan["warnings"] == []


def test_traefik_default_class():
    plan = plan_of(homelab_ingress_controller="traefik")
    assert plan["ingress_classes"] == [{"name": "traefik", "address": "10.0.0.200", "pool": None}]


def test_ipv6_ingress_address_is_normalised():
    plan = plan_of(homelab_ingress_address="FD00:0::C8")
    assert plan["settings"]["ingress_address"] == "fd00::c8"


def test_tunnel_id_is_normalised():
    plan = plan_of(homelab_tunnel_id="6FF42AE2-765D-4ADF-8112-31C55C1551EF")
    assert plan["tunnel"]["id"] == "6ff42ae2-765d-4adf-8112-31c55c1551ef"


# ============================================================================ ingress-nginx


def test_nginx_ingress_for_public_grpc():
    plan = plan_of(
        [
            {
                "name": "api",
                "host": "api.example.com",
                "expose": "public",
                "protocol": "grpc",
                "namespace": "api",
                "port": 50051,
            }
        ]
    )
    assert plan["k8s_objects"] == [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": "api",
                "namespace": "api",
                "labels": MANAGED,
                "annotations": {
                    "cert-manager.io/cluster-issuer": "letsencrypt-production",
                    NGINX + "backend-protocol": "GRPC",
                },
            },
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["api.example.com"], "secretName": "api-tls"}],
                "rules": [
                    {
                        "host": "api.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "api", "port": {"number": 50051}}
                                    },
                                }
                            ]
                        },
                    }
                ],
            },
        }
    ]


def test_nginx_https_backend():
    plan = plan_of(
        [{"name": "docs", "host": "docs.example.com", "protocol": "https", "service": "docs-tls"}],
        homelab_cert_manager_issuer="letsencrypt-staging",
    )
    (ingress,) = plan["k8s_objects"]
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt-staging",
        NGINX + "backend-protocol": "HTTPS",
    }
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"] == {
        "service": {"name": "docs-tls", "port": {"number": 443}}
    }


def test_nginx_passthrough_has_no_tls_and_no_certificate():
    plan = plan_of(
        [{"name": "nas", "host": "nas.example.com", "protocol": "passthrough", "port": 5001}]
    )
    (ingress,) = plan["k8s_objects"]
    assert ingress["metadata"]["annotations"] == {
        NGINX + "ssl-passthrough": "true",
        NGINX + "backend-protocol": "HTTPS",
    }
    assert "tls" not in ingress["spec"]
    assert plan["services"][0]["tls_secret"] is None
    assert plan["ingress_features"] == {"ssl_passthrough": True, "grpc": False, "oauth2": False}


def test_nginx_oauth2_annotations():
    plan = plan_of(
        [{"name": "wiki", "host": "wiki.example.com", "auth": "oauth2", "namespace": "wiki"}],
        homelab_oauth2={
            "url": "https://auth.example.com/",
            "namespace": "sso",
            "service": "proxy",
            "port": 8080,
        },
    )
    (ingress,) = plan["k8s_objects"]
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt-production",
        NGINX + "auth-url": "http://proxy.sso.svc.cluster.local:8080/oauth2/auth",
        NGINX + "auth-signin": (
            "https://auth.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri"
        ),
        NGINX + "auth-response-headers": "X-Auth-Request-User,X-Auth-Request-Email",
    }
    assert plan["settings"]["oauth2"] == {
        "host": "auth.example.com",
        "namespace": "sso",
        "port": 8080,
        "service": "proxy",
        "url": "https://auth.example.com",
    }
    assert plan["ingress_features"]["oauth2"] is True


def test_oauth2_defaults():
    plan = plan_of(homelab_oauth2={"url": "https://auth.example.com"})
    oauth2 = plan["settings"]["oauth2"]
    assert (oauth2["namespace"], oauth2["service"], oauth2["port"]) == (
        "oauth2-proxy",
        "oauth2-proxy",
        4180,
    )


def test_nginx_custom_class():
    plan = plan_of([{"name": "web", "host": "web.example.com"}], homelab_ingress_class="public")
    assert plan["k8s_objects"][0]["spec"]["ingressClassName"] == "public"


def test_tcp_and_ssh_make_no_kubernetes_objects():
    plan = plan_of(
        [
            {"name": "db", "host": "db.example.com", "expose": "public", "protocol": "tcp",
             "origin": "tcp://10.0.0.5:5432"},
        ]
    )  # fmt: skip
    assert plan["k8s_objects"] == []


def test_objects_are_ordered_by_namespace_kind_and_name():
    plan = plan_of(
        [
            {"name": "b", "host": "b.example.com", "namespace": "zeta"},
            {"name": "c", "host": "c.example.com", "namespace": "alpha"},
            {"name": "a", "host": "a.example.com", "namespace": "zeta"},
        ]
    )
    keys = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in plan["k8s_objects"]]
    assert keys == [("alpha", "c"), ("zeta", "a"), ("zeta", "b")]


# ============================================================================ traefik


def traefik_plan(services, **overrides):
    return plan_of(services, homelab_ingress_controller="traefik", **overrides)


def test_traefik_http_route_and_certificate():
    plan = traefik_plan([{"name": "blog", "host": "blog.example.com", "port": 8080}])
    assert plan["k8s_objects"] == [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "blog", "namespace": "default", "labels": MANAGED},
            "spec": {
                "secretName": "blog-tls",
                "dnsNames": ["blog.example.com"],
                "issuerRef": {
                    "group": "cert-manager.io",
                    "kind": "ClusterIssuer",
                    "name": "letsencrypt-production",
                },
            },
        },
        {
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "IngressRoute",
            "metadata": {
                "name": "blog",
                "namespace": "default",
                "labels": MANAGED,
                "annotations": {"kubernetes.io/ingress.class": "traefik"},
            },
            "spec": {
                "entryPoints": ["websecure"],
                "routes": [
                    {
                        "kind": "Rule",
                        "match": "Host(`blog.example.com`)",
                        "services": [{"name": "blog", "port": 8080}],
                    }
                ],
                "tls": {"secretName": "blog-tls"},
            },
        },
    ]


def test_traefik_grpc_uses_h2c():
    plan = traefik_plan(
        [{"name": "api", "host": "api.example.com", "protocol": "grpc", "port": 50051}]
    )
    route = next(o for o in plan["k8s_objects"] if o["kind"] == "IngressRoute")
    assert route["spec"]["routes"][0]["services"] == [
        {"name": "api", "port": 50051, "scheme": "h2c"}
    ]


def test_traefik_https_uses_an_insecure_transport_per_namespace():
    plan = traefik_plan(
        [
            {"name": "a", "host": "a.example.com", "protocol": "https", "namespace": "x"},
            {"name": "b", "host": "b.example.com", "protocol": "https", "namespace": "x"},
        ]
    )
    transports = [o for o in plan["k8s_objects"] if o["kind"] == "ServersTransport"]
    assert transports == [
        {
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "ServersTransport",
            "metadata": {
                "name": "homelab-insecure-skip-verify",
                "namespace": "x",
                "labels": MANAGED,
            },
            "spec": {"insecureSkipVerify": True},
        }
    ]
    route = next(o for o in plan["k8s_objects"] if o["kind"] == "IngressRoute")
    assert route["spec"]["routes"][0]["services"] == [
        {
            "name": "a",
            "port": 443,
            "scheme": "https",
            "serversTransport": "homelab-insecure-skip-verify",
        }
    ]


def test_traefik_passthrough_is_a_tcp_route_without_certificate():
    plan = traefik_plan(
        [{"name": "nas", "host": "nas.example.com", "protocol": "passthrough", "port": 5001}]
    )
    assert plan["k8s_objects"] == [
        {
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "IngressRouteTCP",
            "metadata": {
                "name": "nas",
                "namespace": "default",
                "labels": MANAGED,
                "annotations": {"kubernetes.io/ingress.class": "traefik"},
            },
            "spec": {
                "entryPoints": ["websecure"],
                "routes": [
                    {
                        "match": "HostSNI(`nas.example.com`)",
                        "services": [{"name": "nas", "port": 5001}],
                    }
                ],
                "tls": {"passthrough": True},
            },
        }
    ]


def test_traefik_oauth2_middleware():
    plan = traefik_plan(
        [{"name": "wiki", "host": "wiki.example.com", "auth": "oauth2", "namespace": "wiki"}],
        homelab_oauth2={"url": "https://auth.example.com"},
    )
    kinds = [o["kind"] for o in plan["k8s_objects"]]
    assert kinds == ["Middleware", "Certificate", "IngressRoute"]
    middleware = plan["k8s_objects"][0]
    assert middleware == {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": {"name": "homelab-oauth2", "namespace": "wiki", "labels": MANAGED},
        "spec": {
            "forwardAuth": {
                "address": "http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/",
                "authResponseHeaders": ["X-Auth-Request-User", "X-Auth-Request-Email"],
            }
        },
    }
    route = plan["k8s_objects"][2]
    assert route["spec"]["routes"][0]["middlewares"] == [{"name": "homelab-oauth2"}]


# ============================================================================ tunnel


HOME = [
    {"name": "api", "host": "api.example.com", "expose": "public", "protocol": "grpc",
     "namespace": "api", "port": 50051},
    {"name": "www", "host": "www.example.com", "expose": "public"},
    {"name": "ssh", "host": "ssh.example.com", "expose": "public", "protocol": "ssh",
     "origin": "ssh://127.0.0.1:22"},
    {"name": "mqtt", "host": "mqtt.example.com", "expose": "public", "protocol": "tcp",
     "origin": "tcp://10.0.0.30:8883"},
    {"name": "grafana", "host": "grafana.example.com", "namespace": "monitoring", "port": 3000},
    {"name": "nas", "host": "nas.example.com", "protocol": "passthrough"},
]  # fmt: skip


def test_tunnel_rules():
    plan = plan_of(HOME, homelab_tunnel_name="home")
    assert plan["tunnel"] == {
        "name": "home",
        "id": None,
        "mode": "local",
        "protocol": "http2",
        "cname_target": "<tunnel-id>.cfargotunnel.com",
        "ingress": [
            {
                "hostname": "api.example.com",
                "service": "https://10.0.0.200:443",
                "originRequest": {
                    "noTLSVerify": True,
                    "originServerName": "api.example.com",
                    "http2Origin": True,
                },
            },
            {"hostname": "mqtt.example.com", "service": "tcp://10.0.0.30:8883"},
            {"hostname": "ssh.example.com", "service": "ssh://127.0.0.1:22"},
            {
                "hostname": "www.example.com",
                "service": "https://10.0.0.200:443",
                "originRequest": {"noTLSVerify": True, "originServerName": "www.example.com"},
            },
            {"service": "http_status:404"},
        ],
    }


def test_tunnel_with_known_id_and_remote_mode():
    plan = plan_of(
        HOME[:1],
        homelab_tunnel_id="6ff42ae2-765d-4adf-8112-31c55c1551ef",
        homelab_tunnel_mode="remote",
    )
    assert plan["tunnel"]["cname_target"] == "6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com"
    assert plan["tunnel"]["mode"] == "remote"
    assert plan["dns_records"][0]["content"] == (
        "6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com"
    )


def test_tunnel_with_ipv6_ingress_address():
    plan = plan_of(HOME[1:2], homelab_ingress_address="fd00::c8")
    assert plan["tunnel"]["ingress"][0]["service"] == "https://[fd00::c8]:443"


def test_tunnel_without_public_services_has_only_the_catch_all():
    plan = plan_of([{"name": "web", "host": "web.example.com"}])
    assert plan["tunnel"]["ingress"] == [{"service": "http_status:404"}]


@pytest.mark.parametrize("edge", ["router", "none"])
def test_no_tunnel_outside_the_tunnel_edge(edge):
    assert plan_of([], homelab_edge=edge)["tunnel"] is None


def test_grpc_over_quic_is_fine_on_the_lan():
    plan = plan_of(
        [{"name": "api", "host": "api.example.com", "protocol": "grpc", "port": 50051}],
        homelab_tunnel_protocol="quic",
    )
    assert plan["warnings"] == []


def test_grpc_with_auto_protocol_warns():
    plan = plan_of(HOME[:1], homelab_tunnel_protocol="auto")
    assert plan["warnings"] == [
        "homelab_tunnel_protocol 'auto' may pick QUIC, which breaks gRPC through the tunnel "
        "(services: api); 'http2' is recommended"
    ]


# ============================================================================ DNS records


def test_dns_records_in_the_tunnel_edge():
    plan = plan_of(HOME)
    cname = "<tunnel-id>.cfargotunnel.com"
    assert plan["dns_records"] == [
        {"name": "api.example.com", "type": "CNAME", "content": cname, "proxied": True,
         "ttl": 1, "comment": comment("api")},
        {"name": "grafana.example.com", "type": "A", "content": "10.0.0.200", "proxied": False,
         "ttl": 1, "comment": comment("grafana")},
        {"name": "mqtt.example.com", "type": "CNAME", "content": cname, "proxied": True,
         "ttl": 1, "comment": comment("mqtt")},
        {"name": "nas.example.com", "type": "A", "content": "10.0.0.200", "proxied": False,
         "ttl": 1, "comment": comment("nas")},
        {"name": "ssh.example.com", "type": "CNAME", "content": cname, "proxied": True,
         "ttl": 1, "comment": comment("ssh")},
        {"name": "www.example.com", "type": "CNAME", "content": cname, "proxied": True,
         "ttl": 1, "comment": comment("www")},
    ]  # fmt: skip


def test_lan_records_can_be_turned_off():
    plan = plan_of(HOME, homelab_dns_lan_records=False)
    assert {r["type"] for r in plan["dns_records"]} == {"CNAME"}
    assert [r["name"] for r in plan["dns_records"]] == [
        "api.example.com",
        "mqtt.example.com",
        "ssh.example.com",
        "www.example.com",
    ]


def test_lan_records_follow_ttl_and_address_family():
    plan = plan_of(
        [{"name": "web", "host": "web.example.com"}, HOME[1]],
        homelab_ingress_address="fd00::c8",
        homelab_dns_ttl=300,
    )
    assert [(r["name"], r["type"], r["content"], r["ttl"]) for r in plan["dns_records"]] == [
        ("web.example.com", "AAAA", "fd00::c8", 300),
        ("www.example.com", "CNAME", "<tunnel-id>.cfargotunnel.com", 1),
    ]


def test_dns_records_in_the_router_edge():
    plan = plan_of(
        [
            {"name": "web", "host": "web.example.com", "expose": "public"},
            {"name": "vault", "host": "vault.example.com", "expose": "public",
             "protocol": "passthrough"},
            {"name": "wiki", "host": "wiki.example.com"},
        ],
        homelab_edge="router",
        homelab_public_address="203.0.113.7",
    )  # fmt: skip
    assert plan["dns_records"] == [
        {"name": "vault.example.com", "type": "A", "content": "203.0.113.7", "proxied": False,
         "ttl": 1, "comment": comment("vault")},
        {"name": "web.example.com", "type": "A", "content": "203.0.113.7", "proxied": False,
         "ttl": 1, "comment": comment("web")},
    ]  # fmt: skip
    assert plan["warnings"] == []


def test_router_edge_with_a_dyndns_name():
    plan = plan_of(
        [{"name": "web", "host": "web.example.com", "expose": "public"}],
        homelab_edge="router",
        homelab_public_address="Home.DynDNS.example.net.",
    )
    assert [(r["type"], r["content"]) for r in plan["dns_records"]] == [
        ("CNAME", "home.dyndns.example.net")
    ]


def test_router_edge_with_ipv6_public_address():
    plan = plan_of(
        [{"name": "web", "host": "web.example.com", "expose": "public"}],
        homelab_edge="router",
        homelab_public_address="2001:db8::7",
    )
    assert [(r["type"], r["content"]) for r in plan["dns_records"]] == [("AAAA", "2001:db8::7")]


def test_router_edge_without_public_address_plans_no_records_and_warns():
    plan = plan_of(
        [{"name": "web", "host": "web.example.com", "expose": "public"}], homelab_edge="router"
    )
    assert plan["dns_records"] == []
    assert plan["warnings"] == [
        "homelab_public_address is not set: no public DNS records are planned for the router "
        "edge; point the public hosts at the home's address yourself"
    ]


def test_no_dns_records_without_edge():
    plan = plan_of([{"name": "web", "host": "web.example.com"}], homelab_edge="none")
    assert plan["dns_records"] == []


@pytest.mark.parametrize(
    ("edge", "variable", "value"),
    [
        ("tunnel", "homelab_public_address", "203.0.113.7"),
        ("none", "homelab_router_default_backend", "192.168.0.2:443"),
    ],
)
def test_router_settings_outside_the_router_edge_are_ignored_with_a_warning(edge, variable, value):
    plan = plan_of([], homelab_edge=edge, **{variable: value})
    assert plan["warnings"] == [
        f"{variable} is only used with homelab_edge 'router' (homelab_edge is '{edge}'): ignored"
    ]
    assert plan["settings"]["public_address"] is None
    assert plan["settings"]["router_default_backend"] is None


def test_dns_comment_and_ownership():
    assert cat.OWNERSHIP_MARKER == "managed by spitikos.homelab"
    assert cat.dns_comment("api") == "service api; managed by spitikos.homelab"
    assert cat.is_owned_comment("service api; managed by spitikos.homelab")
    assert cat.is_owned_comment("managed by spitikos.homelab")
    assert not cat.is_owned_comment("managed by hand")
    assert not cat.is_owned_comment(None)


# ============================================================================ router


def test_router_sni_map_with_default_backend():
    plan = plan_of(
        [
            {"name": "web", "host": "web.example.com", "expose": "public"},
            {"name": "api", "host": "api.example.com", "expose": "public", "protocol": "grpc",
             "port": 50051},
            {"name": "wiki", "host": "wiki.example.com"},
        ],
        homelab_edge="router",
        homelab_router_default_backend="192.168.0.2:443",
    )  # fmt: skip
    assert plan["router"] == {
        "mode": "haproxy",
        "listen_port": 443,
        "backends": [
            {"name": "k8s_ingress", "address": "10.0.0.200", "port": 443,
             "server": "10.0.0.200:443"},
            {"name": "default_backend", "address": "192.168.0.2", "port": 443,
             "server": "192.168.0.2:443"},
        ],
        "sni_map": [
            {"host": "api.example.com", "backend": "k8s_ingress", "server": "10.0.0.200:443"},
            {"host": "web.example.com", "backend": "k8s_ingress", "server": "10.0.0.200:443"},
        ],
        "default_backend": "default_backend",
        "unknown_sni": "default_backend",
    }  # fmt: skip


def test_router_rejects_unknown_names_without_default_backend():
    plan = plan_of(
        [{"name": "web", "host": "web.example.com", "expose": "public"}], homelab_edge="router"
    )
    assert plan["router"]["default_backend"] is None
    assert plan["router"]["unknown_sni"] == "reject"
    assert [b["name"] for b in plan["router"]["backends"]] == ["k8s_ingress"]


def test_router_ipv6_default_backend():
    plan = plan_of([], homelab_edge="router", homelab_router_default_backend="[FD00::2]:8443")
    default = plan["router"]["backends"][1]
    assert default == {
        "name": "default_backend",
        "address": "fd00::2",
        "port": 8443,
        "server": "[fd00::2]:8443",
    }


@pytest.mark.parametrize("edge", ["tunnel", "none"])
def test_no_router_outside_the_router_edge(edge):
    assert plan_of([], homelab_edge=edge)["router"] is None


# ============================================================================ LAN DNS, MetalLB


def test_lan_dns_has_every_host_served_by_the_ingress_controller():
    plan = plan_of(HOME)
    assert plan["lan_dns"] == [
        {"host": "api.example.com", "address": "10.0.0.200", "service": "api"},
        {"host": "grafana.example.com", "address": "10.0.0.200", "service": "grafana"},
        {"host": "nas.example.com", "address": "10.0.0.200", "service": "nas"},
        {"host": "www.example.com", "address": "10.0.0.200", "service": "www"},
    ]


TWO_POOLS = {
    "homelab_load_balancer": "metallb",
    "homelab_metallb_pools": {
        "external": {"addresses": ["10.0.0.200/32"]},
        "internal": {"addresses": ["10.0.0.210-10.0.0.219"], "ingress_address": "10.0.0.210"},
    },
}


def test_two_pools_give_two_ingress_classes():
    plan = plan_of(
        [
            {"name": "web", "host": "web.example.com", "expose": "public"},
            {"name": "wiki", "host": "wiki.example.com"},
        ],
        homelab_edge="router",
        **TWO_POOLS,
    )
    assert plan["ingress_classes"] == [
        {"name": "nginx", "address": "10.0.0.200", "pool": "external"},
        {"name": "nginx-internal", "address": "10.0.0.210", "pool": "internal"},
    ]
    assert plan["metallb"] == {
        "pools": [
            {"name": "homelab-external", "role": "external", "addresses": ["10.0.0.200/32"],
             "ingress_class": "nginx", "ingress_address": "10.0.0.200"},
            {"name": "homelab-internal", "role": "internal",
             "addresses": ["10.0.0.210-10.0.0.219"], "ingress_class": "nginx-internal",
             "ingress_address": "10.0.0.210"},
        ]
    }  # fmt: skip
    classes = {o["metadata"]["name"]: o["spec"]["ingressClassName"] for o in plan["k8s_objects"]}
    assert classes == {"web": "nginx", "wiki": "nginx-internal"}
    assert plan["lan_dns"] == [
        {"host": "web.example.com", "address": "10.0.0.200", "service": "web"},
        {"host": "wiki.example.com", "address": "10.0.0.210", "service": "wiki"},
    ]
    assert plan["router"]["sni_map"] == [
        {"host": "web.example.com", "backend": "k8s_ingress", "server": "10.0.0.200:443"}
    ]


def test_internal_pool_in_the_tunnel_edge_feeds_grey_records():
    plan = plan_of(
        [
            {"name": "web", "host": "web.example.com", "expose": "public"},
            {"name": "wiki", "host": "wiki.example.com"},
        ],
        **TWO_POOLS,
    )
    assert plan["tunnel"]["ingress"][0]["service"] == "https://10.0.0.200:443"
    grey = [r for r in plan["dns_records"] if r["type"] == "A"]
    assert [(r["name"], r["content"]) for r in grey] == [("wiki.example.com", "10.0.0.210")]


def test_traefik_internal_class_annotation():
    plan = plan_of(
        [{"name": "wiki", "host": "wiki.example.com"}],
        homelab_ingress_controller="traefik",
        homelab_load_balancer="metallb",
        homelab_metallb_pools={
            "external": {"addresses": ["10.0.0.200/32"]},
            "internal": {
                "addresses": ["10.0.0.210/32"],
                "ingress_address": "10.0.0.210",
                "ingress_class": "traefik-lan",
            },
        },
    )
    route = next(o for o in plan["k8s_objects"] if o["kind"] == "IngressRoute")
    assert route["metadata"]["annotations"] == {"kubernetes.io/ingress.class": "traefik-lan"}


def test_single_pool_metallb():
    plan = plan_of(
        homelab_load_balancer="metallb",
        homelab_metallb_pools={"external": {"addresses": ["10.0.0.192/27"]}},
    )
    assert plan["ingress_classes"] == [
        {"name": "nginx", "address": "10.0.0.200", "pool": "external"}
    ]
    assert [p["name"] for p in plan["metallb"]["pools"]] == ["homelab-external"]


def test_no_metallb_with_servicelb():
    assert plan_of()["metallb"] is None


# ============================================================================ k3s, inventory


def test_tls_san_from_settings_and_servers():
    inventory = {
        "groups": {"k3s_servers": ["cp1", "cp2", "cp3"]},
        "hostvars": {
            "cp1": {"ansible_host": "10.0.0.11"},
            "cp2": {"ansible_host": "CP2.lan."},
            "cp3": {},
        },
    }
    plan = plan_of(
        homelab_k3s_api_hostnames=["K3s.Example.com", "10.0.0.10", "10.0.0.11"],
        inventory=inventory,
    )
    assert plan["tls_san"] == ["10.0.0.10", "10.0.0.11", "cp2.lan", "k3s.example.com"]


def test_inventory_groups_keep_their_order():
    inventory = {"groups": {"k3s_servers": ["b", "a"], "cloudflared": ["a"], "other": ["x"]}}
    plan = plan_of(inventory=inventory)
    assert plan["inventory"] == {
        "k3s_servers": ["b", "a"],
        "k3s_agents": [],
        "cloudflared": ["a"],
        "openwrt_routers": [],
    }
    assert plan["warnings"] == []


@pytest.mark.parametrize(
    ("overrides", "groups", "warning"),
    [
        (
            {},
            {"cloudflared": ["pi"]},
            "the k3s_servers group is empty: nothing would run the cluster",
        ),
        (
            {},
            {"k3s_servers": ["pi"]},
            "homelab_edge is 'tunnel' with homelab_tunnel_mode 'local', but the cloudflared "
            "group is empty: no host would run the connector",
        ),
        (
            {"homelab_edge": "router"},
            {"k3s_servers": ["pi"]},
            "homelab_edge is 'router', but the openwrt_routers group is empty: nothing would "
            "route the public hosts",
        ),
    ],
)
def test_inventory_warnings(overrides, groups, warning):
    plan = plan_of(inventory={"groups": groups}, **overrides)
    assert plan["warnings"] == [warning]


def test_remote_tunnel_needs_no_cloudflared_group():
    plan = plan_of(homelab_tunnel_mode="remote", inventory={"groups": {"k3s_servers": ["pi"]}})
    assert plan["warnings"] == []


def test_oauth2_host_missing_from_the_catalogue_warns():
    plan = plan_of(
        [{"name": "wiki", "host": "wiki.example.com", "auth": "oauth2"}],
        homelab_oauth2={"url": "https://auth.example.com"},
    )
    assert plan["warnings"] == [
        "homelab_oauth2.url host 'auth.example.com' is not in homelab_services: add a service "
        "for oauth2-proxy so it gets DNS and routing"
    ]


def test_oauth2_host_outside_the_zone_does_not_warn():
    plan = plan_of(
        [{"name": "wiki", "host": "wiki.example.com", "auth": "oauth2"}],
        homelab_oauth2={"url": "https://sso.example.org"},
    )
    assert plan["warnings"] == []


# ============================================================================ plan files


INVENTORY = {
    "groups": {
        "k3s_servers": ["pi1", "pi2"],
        "cloudflared": ["pi1"],
        "openwrt_routers": ["gw", "ap"],
    }
}


def test_plan_files_layout_in_the_tunnel_edge():
    plan = plan_of(HOME, inventory=INVENTORY, homelab_tunnel_name="home")
    files = plan_files(plan)
    assert list(files) == [
        "cloudflare/dns_records.json",
        "cloudflare/tunnel.json",
        "hosts/ap/uci/dhcp.json",
        "hosts/gw/uci/dhcp.json",
        "hosts/pi1/var/lib/rancher/k3s/server/manifests/homelab-ingress.yaml",
    ]
    assert files["cloudflare/tunnel.json"] == (
        "json",
        {"name": "home", "mode": "local", "ingress": plan["tunnel"]["ingress"]},
    )
    assert files["cloudflare/dns_records.json"] == ("json", plan["dns_records"])
    fmt, docs = files["hosts/pi1/var/lib/rancher/k3s/server/manifests/homelab-ingress.yaml"]
    assert fmt == "yaml"
    # Ordered by namespace (api, default, monitoring), then kind and name.
    assert [d["metadata"]["name"] for d in docs] == ["api", "nas", "www", "grafana"]
    assert files["hosts/gw/uci/dhcp.json"] == (
        "json",
        {
            "homelab_api": {".type": "domain", "name": "api.example.com", "ip": "10.0.0.200"},
            "homelab_grafana": {
                ".type": "domain",
                "name": "grafana.example.com",
                "ip": "10.0.0.200",
            },
            "homelab_nas": {".type": "domain", "name": "nas.example.com", "ip": "10.0.0.200"},
            "homelab_www": {".type": "domain", "name": "www.example.com", "ip": "10.0.0.200"},
        },
    )


def test_plan_files_without_tunnel_objects_or_router():
    plan = plan_of(
        [
            {"name": "ssh", "host": "ssh.example.com", "expose": "public", "protocol": "ssh",
             "origin": "ssh://127.0.0.1:22"}
        ],
        inventory={"groups": {"k3s_servers": ["pi"]}},
    )  # fmt: skip
    assert list(plan_files(plan)) == ["cloudflare/dns_records.json", "cloudflare/tunnel.json"]


def test_plan_files_router_edge_has_no_tunnel_file():
    plan = plan_of(
        [{"name": "my-app", "host": "app.example.com"}],
        homelab_edge="router",
        inventory=INVENTORY,
    )
    files = plan_files(plan)
    assert "cloudflare/tunnel.json" not in files
    assert files["hosts/gw/uci/dhcp.json"][1] == {
        "homelab_my_app": {".type": "domain", "name": "app.example.com", "ip": "10.0.0.200"}
    }


# ============================================================================ determinism


def test_plan_is_json_serialisable_and_deterministic():
    first = plan_of(HOME, inventory=INVENTORY)
    second = plan_of(copy.deepcopy(HOME), inventory=copy.deepcopy(INVENTORY))
    assert json.dumps(first) == json.dumps(second)
    assert json.loads(json.dumps(first)) == first


def test_derived_layers_do_not_depend_on_catalogue_order():
    shuffled = list(HOME)
    random.Random(7).shuffle(shuffled)
    a, b = plan_of(HOME), plan_of(shuffled)
    for key in ("k8s_objects", "tunnel", "dns_records", "lan_dns"):
        assert a[key] == b[key], key


def test_input_is_not_modified():
    data = settings(HOME)
    before = copy.deepcopy(data)
    build_plan(data)
    assert data == before


# ============================================================================ properties


def random_catalogue(rng, count):
    """A valid random catalogue and topology."""
    edge = rng.choice(["tunnel", "router", "none"])
    controller = rng.choice(["ingress-nginx", "traefik"])
    data = settings(homelab_edge=edge, homelab_ingress_controller=controller)
    data["homelab_tunnel_protocol"] = rng.choice(["http2", "auto"])
    data["homelab_dns_lan_records"] = rng.choice([True, False])
    if edge == "router" and rng.random() < 0.7:
        data["homelab_public_address"] = rng.choice(["203.0.113.7", "home.example.net"])
    if rng.random() < 0.5:
        data["homelab_load_balancer"] = "metallb"
        pools = {"external": {"addresses": ["10.0.0.200/32"]}}
        if rng.random() < 0.5:
            pools["internal"] = {
                "addresses": ["10.0.0.210-10.0.0.219"],
                "ingress_address": "10.0.0.210",
            }
        data["homelab_metallb_pools"] = pools
    if rng.random() < 0.5:
        data["homelab_oauth2"] = {"url": "https://auth.example.com"}
    services = []
    for i in range(count):
        protocols = ["http", "https", "grpc", "passthrough"]
        if edge == "tunnel":
            protocols += ["tcp", "ssh"]
        protocol = rng.choice(protocols)
        expose = "lan" if edge == "none" else rng.choice(["public", "lan"])
        if protocol in ("tcp", "ssh"):
            expose = "public"
        if protocol == "passthrough" and edge == "tunnel":
            expose = "lan"
        host = f"s{i}.{rng.choice(['', 'apps.', 'lab.'])}example.com"
        if rng.random() < 0.2:
            host = host.upper() + "."
        svc = {"name": f"svc-{i}", "host": host, "expose": expose, "protocol": protocol}
        if protocol in ("tcp", "ssh"):
            svc["origin"] = f"{protocol}://10.0.1.{i % 250 + 1}:{rng.randint(1, 65535)}"
        else:
            svc["namespace"] = rng.choice(["default", "apps", "media"])
            if protocol == "grpc" or rng.random() < 0.5:
                svc["port"] = rng.randint(1, 65535)
            if protocol != "passthrough" and "homelab_oauth2" in data and rng.random() < 0.3:
                svc["auth"] = "oauth2"
        services.append(svc)
    data["homelab_services"] = services
    return data


CATALOGUES = [random_catalogue(random.Random(seed), random.Random(seed).randint(0, 40))
              for seed in range(150)]  # fmt: skip


def norm(host):
    return host.lower().rstrip(".")


@pytest.mark.parametrize("data", CATALOGUES)
def test_properties_of_derived_layers(data):
    plan = build_plan(data)
    services = data["homelab_services"]
    public = {norm(s["host"]) for s in services if s["expose"] == "public"}
    via_ingress = {norm(s["host"]) for s in services if s["protocol"] not in ("tcp", "ssh")}
    edge = data["homelab_edge"]

    if edge == "tunnel":
        rules = plan["tunnel"]["ingress"]
        # The catch-all is last, and it is the only rule without a hostname.
        assert rules[-1] == {"service": "http_status:404"}
        hostnames = [r["hostname"] for r in rules[:-1]]
        assert all("hostname" in r for r in rules[:-1])
        # Every public host in exactly one rule, and nothing else.
        assert sorted(hostnames) == sorted(public)
        assert len(hostnames) == len(set(hostnames))
    else:
        assert plan["tunnel"] is None

    if edge == "router":
        sni = [e["host"] for e in plan["router"]["sni_map"]]
        assert sorted(sni) == sorted(public & via_ingress)
        assert len(sni) == len(set(sni))
    else:
        assert plan["router"] is None

    # DNS: never a wildcard, every name inside the zone, one type per name.
    types = {}
    for record in plan["dns_records"]:
        assert "*" not in record["name"]
        assert record["name"] == "example.com" or record["name"].endswith(".example.com")
        assert types.setdefault(record["name"], record["type"]) == record["type"]
        assert cat.is_owned_comment(record["comment"])
        if record["proxied"]:
            assert record["ttl"] == 1
    names = [r["name"] for r in plan["dns_records"]]
    assert len(names) == len(set(names))
    if edge == "none":
        assert names == []

    # LAN DNS: every host the ingress controller serves, once.
    lan = [e["host"] for e in plan["lan_dns"]]
    assert sorted(lan) == sorted(via_ingress)

    # One routing object per ingress-served service, matching its host.
    routed = []
    for obj in plan["k8s_objects"]:
        if obj["kind"] == "Ingress":
            routed.append(obj["spec"]["rules"][0]["host"])
        elif obj["kind"] == "IngressRoute":
            routed.append(obj["spec"]["routes"][0]["match"][len("Host(`") : -2])
        elif obj["kind"] == "IngressRouteTCP":
            routed.append(obj["spec"]["routes"][0]["match"][len("HostSNI(`") : -2])
    assert sorted(routed) == sorted(via_ingress)

    json.dumps(plan)


FAULTS = [
    ("host", "other.org"),
    ("port", "eighty"),
    ("expose", "everywhere"),
    ("protocol", "udp"),
    ("name", "Not_A_Label"),
    ("typo", 1),
    ("auth", "ldap"),
]


@pytest.mark.parametrize("seed", range(40))
def test_every_broken_service_is_reported(seed):
    rng = random.Random(1000 + seed)
    data = random_catalogue(rng, 30)
    services = data["homelab_services"]
    broken = rng.sample(range(len(services)), rng.randint(1, 5))
    for index in broken:
        key, value = rng.choice(FAULTS)
        services[index][key] = value
    errors = errors_of(data)
    for index in broken:
        assert any(e.startswith(f"homelab_services[{index}]") for e in errors), index
    reported = {e.split("]")[0] for e in errors if e.startswith("homelab_services[")}
    assert reported == {f"homelab_services[{i}" for i in broken}


def test_an_internationalised_host_in_its_ascii_form_is_kept_as_written():
    plan = plan_of([{"name": "books", "host": "xn--bcher-kva.example.com", "port": 80}])
    assert [s["host"] for s in plan["services"]] == ["xn--bcher-kva.example.com"]
    # The same name on a second derivation: nothing would be rewritten on the next run.
    again = plan_of([{"name": "books", "host": "xn--bcher-kva.example.com", "port": 80}])
    assert again["dns_records"] == plan["dns_records"]
