"""What k3s would pick up from its auto-deploy directory, checked inside the converged container.

The expectations are written by hand from the scenario's catalogue (molecule.yml): ingress-nginx
on MetalLB with an external and an internal pool, a gRPC service, a passthrough service on the
internal class, oauth2 forward authentication, and the cluster's DNS forwarding example.com and
lan to the router (10.0.0.1).
"""

import os

import pytest
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = [
    f"podman://{name}"
    for name in AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")
]

DIR = "/var/lib/rancher/k3s/server/manifests"


def docs(host, name):
    text = host.file(f"{DIR}/{name}").content_string
    assert text.startswith("# Managed by spitikos.homelab"), name
    return [d for d in yaml.safe_load_all(text) if d is not None]


def values(doc):
    return yaml.safe_load(doc["spec"]["valuesContent"])


def test_exactly_the_planned_files(host):
    names = sorted(host.check_output(f"ls -1 {DIR}").split())
    assert names == [
        "homelab-cert-manager-cloudflare-token.yaml",
        "homelab-cert-manager-issuers.yaml",
        "homelab-cert-manager.yaml",
        "homelab-coredns-custom.yaml",
        "homelab-ingress-nginx.yaml",
        "homelab-ingress.yaml",
        "homelab-metallb-pools.yaml",
        "homelab-metallb.yaml",
        "homelab-oauth2-proxy-credentials.yaml",
        "homelab-oauth2-proxy.yaml",
        "homelab-other.yaml",
        "homelab-traefik.yaml",
    ]


def test_every_manifest_is_root_only(host):
    for name in host.check_output(f"ls -1 {DIR}").split():
        manifest = host.file(f"{DIR}/{name}")
        assert manifest.user == "root"
        assert manifest.mode == 0o600, name


@pytest.mark.parametrize(
    "name", ["homelab-cert-manager-cloudflare-token.yaml", "homelab-oauth2-proxy-credentials.yaml"]
)
def test_secrets_are_not_world_readable(host, name):
    secret = host.file(f"{DIR}/{name}")
    assert secret.mode & 0o077 == 0
    assert host.run(f"su nobody -s /bin/sh -c 'cat {DIR}/{name}'").rc != 0


def test_the_cloudflare_token_secret(host):
    (secret,) = docs(host, "homelab-cert-manager-cloudflare-token.yaml")
    assert (secret["kind"], secret["metadata"]["namespace"]) == ("Secret", "cert-manager")
    assert secret["stringData"] == {"api-token": "molecule-cloudflare-token"}


def test_cert_manager_and_its_issuers(host):
    (chart,) = docs(host, "homelab-cert-manager.yaml")
    assert (chart["kind"], chart["spec"]["chart"]) == ("HelmChart", "cert-manager")
    assert values(chart)["crds"]["enabled"] is True
    issuers = {d["metadata"]["name"]: d for d in docs(host, "homelab-cert-manager-issuers.yaml")}
    assert sorted(issuers) == ["letsencrypt-production", "letsencrypt-staging"]
    production = issuers["letsencrypt-production"]["spec"]["acme"]
    assert production["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert production["email"] == "ops@example.com"
    assert production["solvers"][0]["dns01"]["cloudflare"]["apiTokenSecretRef"] == {
        "name": "cloudflare-api-token",
        "key": "api-token",
    }


def test_two_ingress_nginx_controllers_one_with_passthrough(host):
    charts = {
        d["metadata"]["name"]: values(d)["controller"]
        for d in docs(host, "homelab-ingress-nginx.yaml")
    }
    assert sorted(charts) == ["ingress-nginx", "ingress-nginx-internal"]
    assert charts["ingress-nginx"]["ingressClassResource"]["name"] == "nginx"
    assert charts["ingress-nginx-internal"]["ingressClassResource"]["name"] == "nginx-internal"
    # nas (passthrough) is a LAN service: only the internal controller needs the flag.
    assert "extraArgs" not in charts["ingress-nginx"]
    assert charts["ingress-nginx-internal"]["extraArgs"] == {"enable-ssl-passthrough": "true"}
    assert charts["ingress-nginx"]["service"]["annotations"] == {
        "metallb.io/address-pool": "homelab-external",
        "metallb.io/loadBalancerIPs": "10.0.0.200",
    }
    assert charts["ingress-nginx-internal"]["service"]["annotations"] == {
        "metallb.io/address-pool": "homelab-internal",
        "metallb.io/loadBalancerIPs": "10.0.0.210",
    }


def test_metallb_pools(host):
    (chart,) = docs(host, "homelab-metallb.yaml")
    assert (chart["spec"]["chart"], chart["spec"]["version"]) == ("metallb", "0.16.1")
    pools = docs(host, "homelab-metallb-pools.yaml")
    assert [(d["kind"], d["metadata"]["name"]) for d in pools] == [
        ("IPAddressPool", "homelab-external"),
        ("IPAddressPool", "homelab-internal"),
        ("L2Advertisement", "homelab"),
    ]
    assert pools[0]["spec"]["addresses"] == ["10.0.0.200/32"]
    assert pools[1]["spec"]["addresses"] == ["10.0.0.210-10.0.0.219"]
    assert pools[2]["spec"]["ipAddressPools"] == ["homelab-external", "homelab-internal"]


def test_oauth2_proxy(host):
    (chart,) = docs(host, "homelab-oauth2-proxy.yaml")
    chart_values = values(chart)
    assert chart["spec"]["targetNamespace"] == "oauth2-proxy"
    assert chart_values["extraArgs"]["reverse-proxy"] == "true"
    assert chart_values["extraArgs"]["set-xauthrequest"] == "true"
    (secret,) = docs(host, "homelab-oauth2-proxy-credentials.yaml")
    assert secret["stringData"]["client-id"] == "molecule-client"


def test_the_routing_objects(host):
    ingresses = {d["metadata"]["name"]: d for d in docs(host, "homelab-ingress.yaml")}
    assert sorted(ingresses) == ["api", "auth", "nas", "wiki"]
    assert ingresses["api"]["spec"]["ingressClassName"] == "nginx"
    assert ingresses["nas"]["spec"]["ingressClassName"] == "nginx-internal"
    annotations = ingresses["wiki"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-signin"].startswith(
        "https://auth.example.com/oauth2/start"
    )


def test_coredns_forwards_the_zones_to_the_router(host):
    (configmap,) = docs(host, "homelab-coredns-custom.yaml")
    assert configmap["kind"] == "ConfigMap"
    # k3s' CoreDNS mounts kube-system/coredns-custom and imports its *.server keys.
    assert (configmap["metadata"]["name"], configmap["metadata"]["namespace"]) == (
        "coredns-custom",
        "kube-system",
    )
    assert configmap["data"] == {
        "homelab.server": (
            "example.com:53 lan:53 {\n    errors\n    cache 30\n    forward . 10.0.0.1:53\n}\n"
        )
    }


def test_a_file_no_longer_planned_is_emptied_not_deleted(host):
    assert docs(host, "homelab-traefik.yaml") == []
    # A file the role does not own is left alone.
    assert host.file(f"{DIR}/homelab-other.yaml").content_string == "# someone else's\n"
