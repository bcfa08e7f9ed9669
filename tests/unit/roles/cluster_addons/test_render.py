"""The cluster_addons manifests per catalogue feature and ingress controller.

Every rendered document validates against its kind's real schema (unknown fields rejected), and
each feature shows up where a user relies on it. Expectations are written by hand from
docs/catalogue.md and docs/addons.md.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from addons_render import documents, render, validate

CONTROLLERS = ("ingress-nginx", "traefik")
BASE = {
    "homelab_domain": "example.com",
    "homelab_edge": "router",
    "homelab_ingress_address": "10.0.0.200",
    "homelab_services": [],
}
TWO_POOLS = {
    "homelab_load_balancer": "metallb",
    "homelab_metallb_pools": {
        "external": {"addresses": ["10.0.0.200/32"]},
        "internal": {"addresses": ["10.0.0.210-10.0.0.219"], "ingress_address": "10.0.0.210"},
    },
}
OAUTH2 = {"homelab_oauth2": {"url": "https://auth.example.com"}}
SERVICES = {
    "grpc": {"name": "api", "host": "api.example.com", "expose": "public", "protocol": "grpc",
             "namespace": "api", "port": 50051},
    "passthrough": {"name": "nas", "host": "nas.example.com", "expose": "public",
                    "protocol": "passthrough", "namespace": "storage", "port": 5001},
    "oauth2": {"name": "wiki", "host": "wiki.example.com", "expose": "public", "auth": "oauth2",
               "namespace": "wiki", "port": 3000},
    "lan": {"name": "grafana", "host": "grafana.example.com", "namespace": "monitoring",
            "port": 3000},
    "https": {"name": "docs", "host": "docs.example.com", "expose": "public",
              "protocol": "https", "namespace": "docs"},
}  # fmt: skip


def settings(controller, *services, **extra):
    data = copy.deepcopy(BASE)
    data["homelab_ingress_controller"] = controller
    data["homelab_services"] = [copy.deepcopy(SERVICES[s]) for s in services]
    for value in extra.values():
        data.update(copy.deepcopy(value))
    return data


def rendered(data, **kwargs):
    files = render(data, **kwargs)
    docs = {name: documents(text) for name, text in files.items()}
    for name, items in docs.items():
        for doc in items:
            try:
                validate(doc)
            except Exception as exc:  # the schema error, with the file it came from
                pytest.fail(f"{name}: {doc['kind']} {doc['metadata'].get('name')}: {exc}")
    return files, docs


def values(doc):
    return yaml.safe_load(doc["spec"]["valuesContent"])


def kinds(docs):
    return sorted(
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
        for items in docs.values()
        for d in items
    )


def by_kind(docs, kind):
    return [d for items in docs.values() for d in items if d["kind"] == kind]


# --------------------------------------------------------------------------- every combination

CASES = [
    ("grpc",),
    ("passthrough",),
    ("oauth2",),
    ("lan",),
    ("https",),
    ("grpc", "passthrough", "oauth2", "lan", "https"),
]


@pytest.mark.parametrize("controller", CONTROLLERS)
@pytest.mark.parametrize("services", CASES, ids=["+".join(c) for c in CASES])
@pytest.mark.parametrize("pools", [False, True], ids=["servicelb", "metallb-two-pools"])
def test_every_manifest_validates(controller, services, pools):
    extra = {"oauth2": OAUTH2}
    if pools:
        extra["pools"] = TWO_POOLS
    files, _docs = rendered(settings(controller, *services, **extra))
    assert files, "nothing rendered"
    for name, text in files.items():
        assert text.startswith("# Managed by spitikos.homelab"), name


def test_schemas_reject_unknown_fields():
    data = settings("traefik", "grpc")
    docs = {n: documents(t) for n, t in render(data).items()}
    route = by_kind(docs, "IngressRoute")[0]
    route["spec"]["routes"][0]["servcies"] = []
    with pytest.raises(Exception, match="servcies"):
        validate(route)
    chart = by_kind(docs, "HelmChart")[0]
    chart["spec"]["valuesContnet"] = ""
    with pytest.raises(Exception, match="valuesContnet"):
        validate(chart)
    secret = by_kind(docs, "Secret")[0]
    secret["stringdata"] = {}
    with pytest.raises(Exception, match="stringdata"):
        validate(secret)
    issuer = by_kind(docs, "ClusterIssuer")[0]
    issuer["metadata"]["label"] = {}
    with pytest.raises(Exception, match="label"):
        validate(issuer)


# --------------------------------------------------------------------------- per feature


def test_nginx_base_install():
    files, docs = rendered(settings("ingress-nginx", "grpc"))
    assert sorted(files) == [
        "homelab-cert-manager-cloudflare-token.yaml",
        "homelab-cert-manager-issuers.yaml",
        "homelab-cert-manager.yaml",
        "homelab-ingress-nginx.yaml",
        "homelab-ingress.yaml",
    ]
    (chart,) = docs["homelab-ingress-nginx.yaml"]
    assert chart["metadata"] == {
        "name": "ingress-nginx",
        "namespace": "kube-system",
        "labels": {"app.kubernetes.io/managed-by": "spitikos.homelab"},
    }
    assert chart["spec"]["repo"] == "https://kubernetes.github.io/ingress-nginx"
    assert chart["spec"]["version"] == "4.15.1"
    controller = values(chart)["controller"]
    assert controller["service"] == {"type": "LoadBalancer"}
    assert controller["metrics"] == {"enabled": True}
    assert controller["ingressClassResource"]["name"] == "nginx"
    assert "extraArgs" not in controller


def test_nginx_grpc():
    docs = rendered(settings("ingress-nginx", "grpc"))[1]
    (ingress,) = docs["homelab-ingress.yaml"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt-production"


def test_traefik_grpc():
    docs = rendered(settings("traefik", "grpc"))[1]
    (route,) = by_kind(docs, "IngressRoute")
    assert route["spec"]["routes"][0]["services"] == [
        {"name": "api", "port": 50051, "scheme": "h2c"}
    ]
    (config,) = docs["homelab-traefik.yaml"]
    assert (config["kind"], config["metadata"]["name"]) == ("HelmChartConfig", "traefik")
    assert values(config)["providers"]["kubernetesCRD"]["enabled"] is True


@pytest.mark.parametrize("expose", ["public", "lan"])
def test_nginx_passthrough_enables_the_flag(expose):
    data = settings("ingress-nginx", "passthrough", "grpc")
    data["homelab_services"][0]["expose"] = expose
    docs = rendered(data)[1]
    (chart,) = docs["homelab-ingress-nginx.yaml"]
    assert values(chart)["controller"]["extraArgs"] == {"enable-ssl-passthrough": "true"}
    nas = next(d for d in docs["homelab-ingress.yaml"] if d["metadata"]["name"] == "nas")
    assert nas["metadata"]["annotations"]["nginx.ingress.kubernetes.io/ssl-passthrough"] == "true"


def test_nginx_passthrough_flag_only_on_the_class_that_needs_it():
    data = settings("ingress-nginx", "passthrough", "grpc", pools=TWO_POOLS)
    data["homelab_services"][0]["expose"] = "lan"
    docs = rendered(data)[1]
    charts = {
        d["metadata"]["name"]: values(d)["controller"] for d in docs["homelab-ingress-nginx.yaml"]
    }
    assert "extraArgs" not in charts["ingress-nginx"]
    assert charts["ingress-nginx-internal"]["extraArgs"] == {"enable-ssl-passthrough": "true"}


def test_traefik_passthrough():
    docs = rendered(settings("traefik", "passthrough"))[1]
    (route,) = by_kind(docs, "IngressRouteTCP")
    assert route["spec"]["tls"] == {"passthrough": True}
    assert route["spec"]["routes"][0]["match"] == "HostSNI(`nas.example.com`)"
    # No certificate for a passthrough service; nothing special in Traefik's own settings.
    assert by_kind(docs, "Certificate") == []
    (config,) = docs["homelab-traefik.yaml"]
    assert "additionalArguments" not in values(config)


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_oauth2_installs_oauth2_proxy(controller):
    _files, docs = rendered(settings(controller, "oauth2", oauth2=OAUTH2))
    (chart,) = docs["homelab-oauth2-proxy.yaml"]
    assert chart["spec"]["chart"] == "oauth2-proxy"
    assert chart["spec"]["targetNamespace"] == "oauth2-proxy"
    chart_values = values(chart)
    args = chart_values["extraArgs"]
    assert args["reverse-proxy"] == "true"
    assert args["set-xauthrequest"] == "true"
    if controller == "traefik":
        assert args["upstream"] == "static://202"
    else:
        assert "upstream" not in args
    assert chart_values["service"] == {"portNumber": 4180}
    assert chart_values["config"] == {"existingSecret": "oauth2-proxy-credentials"}
    (secret,) = docs["homelab-oauth2-proxy-credentials.yaml"]
    assert sorted(secret["stringData"]) == ["client-id", "client-secret", "cookie-secret"]


def test_nginx_oauth2_annotations():
    docs = rendered(settings("ingress-nginx", "oauth2", oauth2=OAUTH2))[1]
    (ingress,) = docs["homelab-ingress.yaml"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-url"] == (
        "http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth"
    )


def test_traefik_oauth2_middleware():
    docs = rendered(settings("traefik", "oauth2", oauth2=OAUTH2))[1]
    (middleware,) = by_kind(docs, "Middleware")
    assert middleware["spec"]["forwardAuth"]["address"] == (
        "http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/"
    )
    (route,) = by_kind(docs, "IngressRoute")
    assert route["spec"]["routes"][0]["middlewares"] == [{"name": "homelab-oauth2"}]


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_no_oauth2_no_oauth2_proxy(controller):
    files = rendered(settings(controller, "grpc", oauth2=OAUTH2))[0]
    assert "homelab-oauth2-proxy.yaml" not in files
    assert "homelab-oauth2-proxy-credentials.yaml" not in files


def test_nginx_two_classes():
    docs = rendered(settings("ingress-nginx", "grpc", "lan", pools=TWO_POOLS))[1]
    charts = {
        d["metadata"]["name"]: values(d)["controller"] for d in docs["homelab-ingress-nginx.yaml"]
    }
    assert sorted(charts) == ["ingress-nginx", "ingress-nginx-internal"]
    external, internal = charts["ingress-nginx"], charts["ingress-nginx-internal"]
    assert external["ingressClassResource"]["name"] == "nginx"
    assert internal["ingressClassResource"]["name"] == "nginx-internal"
    assert (
        external["ingressClassResource"]["controllerValue"]
        != (internal["ingressClassResource"]["controllerValue"])
    )
    assert external["electionID"] != internal["electionID"]
    assert external["service"]["annotations"] == {
        "metallb.io/address-pool": "homelab-external",
        "metallb.io/loadBalancerIPs": "10.0.0.200",
    }
    assert internal["service"]["annotations"] == {
        "metallb.io/address-pool": "homelab-internal",
        "metallb.io/loadBalancerIPs": "10.0.0.210",
    }
    classes = {
        d["metadata"]["name"]: d["spec"]["ingressClassName"] for d in docs["homelab-ingress.yaml"]
    }
    assert classes == {"api": "nginx", "grafana": "nginx-internal"}


@pytest.mark.parametrize(("ingress_class", "named"), [(None, False), ("edge", True)])
def test_traefik_one_class(ingress_class, named):
    # The routes carry kubernetes.io/ingress.class: <class>. Traefik without a class of its own
    # takes only "traefik" or none, so any other class name is given to it, with the
    # IngressClass of that name.
    data = settings("traefik", "grpc")
    if ingress_class:
        data["homelab_ingress_class"] = ingress_class
    docs = rendered(data)[1]
    (route,) = by_kind(docs, "IngressRoute")
    annotation = route["metadata"]["annotations"]["kubernetes.io/ingress.class"]
    assert annotation == (ingress_class or "traefik")
    (config,) = docs["homelab-traefik.yaml"]
    chart_values = values(config)
    assert chart_values["ports"]["websecure"] == {"http": {"tls": {"enabled": True}}}
    if named:
        assert chart_values["ingressClass"] == {
            "enabled": True,
            "isDefaultClass": True,
            "name": "edge",
        }
        assert chart_values["providers"]["kubernetesCRD"]["ingressClass"] == "edge"
        assert chart_values["providers"]["kubernetesIngress"]["ingressClass"] == "edge"
    else:
        assert "ingressClass" not in chart_values
        assert "ingressClass" not in chart_values["providers"]["kubernetesCRD"]


def test_traefik_two_classes():
    docs = rendered(settings("traefik", "grpc", "lan", pools=TWO_POOLS))[1]
    config, internal = docs["homelab-traefik.yaml"]
    assert (config["kind"], config["metadata"]["name"]) == ("HelmChartConfig", "traefik")
    assert (internal["kind"], internal["metadata"]["name"]) == ("HelmChart", "traefik-internal")
    assert internal["spec"]["version"] == "41.3.0"
    assert values(config)["providers"]["kubernetesCRD"]["ingressClass"] == "traefik"
    assert values(internal)["providers"]["kubernetesCRD"]["ingressClass"] == "traefik-internal"
    assert values(internal)["service"]["annotations"]["metallb.io/loadBalancerIPs"] == "10.0.0.210"
    routes = {
        d["metadata"]["name"]: d["metadata"]["annotations"]["kubernetes.io/ingress.class"]
        for d in by_kind(docs, "IngressRoute")
    }
    assert routes == {"api": "traefik", "grafana": "traefik-internal"}


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_metallb_pools(controller):
    docs = rendered(settings(controller, "grpc", pools=TWO_POOLS))[1]
    (chart,) = docs["homelab-metallb.yaml"]
    assert (chart["spec"]["chart"], chart["spec"]["version"]) == ("metallb", "0.16.1")
    pools = {d["metadata"]["name"]: d["spec"]["addresses"] for d in by_kind(docs, "IPAddressPool")}
    assert pools == {
        "homelab-external": ["10.0.0.200/32"],
        "homelab-internal": ["10.0.0.210-10.0.0.219"],
    }
    (l2,) = by_kind(docs, "L2Advertisement")
    assert l2["spec"]["ipAddressPools"] == ["homelab-external", "homelab-internal"]


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_servicelb_needs_no_metallb(controller):
    files, docs = rendered(settings(controller, "grpc"))
    assert "homelab-metallb.yaml" not in files
    assert "homelab-metallb-pools.yaml" not in files
    for chart in by_kind(docs, "HelmChart") + by_kind(docs, "HelmChartConfig"):
        assert "metallb.io" not in chart["spec"].get("valuesContent", "")


@pytest.mark.parametrize("controller", CONTROLLERS)
@pytest.mark.parametrize("edge", ["none", "tunnel"])
def test_lan_only_services_are_routed_too(controller, edge):
    data = settings(controller, "lan")
    data["homelab_edge"] = edge
    files, docs = rendered(data)
    assert "homelab-ingress.yaml" in files
    if controller == "traefik":
        (route,) = by_kind(docs, "IngressRoute")
        assert route["spec"]["routes"][0]["match"] == "Host(`grafana.example.com`)"
    else:
        (ingress,) = docs["homelab-ingress.yaml"]
        assert ingress["spec"]["rules"][0]["host"] == "grafana.example.com"


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_public_and_lan_services_share_the_one_class_without_pools(controller):
    docs = rendered(settings(controller, "grpc", "lan"))[1]
    if controller == "traefik":
        classes = {
            d["metadata"]["annotations"]["kubernetes.io/ingress.class"]
            for d in by_kind(docs, "IngressRoute")
        }
        assert classes == {"traefik"}
        assert len(docs["homelab-traefik.yaml"]) == 1
    else:
        assert {d["spec"]["ingressClassName"] for d in docs["homelab-ingress.yaml"]} == {"nginx"}
        assert len(docs["homelab-ingress-nginx.yaml"]) == 1


def test_issuers_and_token():
    data = settings("ingress-nginx", "grpc")
    docs = rendered(data, extra={"cluster_addons_cert_manager_acme_email": "ops@example.com"})[1]
    issuers = {d["metadata"]["name"]: d["spec"]["acme"] for d in by_kind(docs, "ClusterIssuer")}
    assert sorted(issuers) == ["letsencrypt-production", "letsencrypt-staging"]
    assert issuers["letsencrypt-staging"]["server"] == (
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    )
    for acme in issuers.values():
        assert acme["email"] == "ops@example.com"
        (solver,) = acme["solvers"]
        assert solver["dns01"]["cloudflare"]["apiTokenSecretRef"] == {
            "name": "cloudflare-api-token",
            "key": "api-token",
        }
        assert solver["selector"] == {"dnsZones": ["example.com"]}
    (secret,) = docs["homelab-cert-manager-cloudflare-token.yaml"]
    assert secret["metadata"]["namespace"] == "cert-manager"
    assert secret["stringData"] == {"api-token": "cf-token-for-tests"}
    (chart,) = docs["homelab-cert-manager.yaml"]
    assert values(chart)["crds"]["enabled"] is True


def test_planning_shows_placeholders_never_secrets():
    files = render(settings("ingress-nginx", "oauth2", oauth2=OAUTH2), planning=True)
    text = "".join(files.values())
    for secret in ("cf-token-for-tests", "client-id-for-tests", "client-secret-for-tests"):
        assert secret not in text
    token = documents(files["homelab-cert-manager-cloudflare-token.yaml"])[0]
    assert token["stringData"]["api-token"] == (
        "<vaulted: cluster_addons_cert_manager_cloudflare_api_token>"
    )


def test_user_values_are_merged():
    data = settings("ingress-nginx", "grpc")
    extra = {
        "cluster_addons_ingress_nginx_values": {"controller": {"replicaCount": 2}},
        "cluster_addons_ingress_nginx_kind": "DaemonSet",
    }
    docs = rendered(data, extra=extra)[1]
    controller = values(docs["homelab-ingress-nginx.yaml"][0])["controller"]
    assert controller["replicaCount"] == 2
    assert controller["kind"] == "DaemonSet"
    assert controller["service"]["type"] == "LoadBalancer"


def test_no_service_served_no_routing_file():
    files = rendered(settings("ingress-nginx"))[0]
    assert "homelab-ingress.yaml" not in files
    assert "homelab-ingress-nginx.yaml" in files
