"""The coredns-custom manifest of the cluster_addons role (homelab_cluster_dns_upstream).

Rendered with the role's own templates, defaults and vars, and validated against the strict
Kubernetes 1.34 schema of ConfigMap. Expectations are written by hand from docs/addons.md.
"""

from __future__ import annotations

import copy

import pytest
from addons_render import documents, render, validate

NAME = "homelab-coredns-custom.yaml"
BASE = {
    "homelab_domain": "example.com",
    "homelab_edge": "router",
    "homelab_ingress_address": "10.0.0.200",
    "homelab_services": [{"name": "web", "host": "web.example.com", "expose": "public"}],
}
MANAGED = {"app.kubernetes.io/managed-by": "spitikos.homelab"}


def settings(**extra):
    return {**copy.deepcopy(BASE), **copy.deepcopy(extra)}


def the_configmap(files):
    (doc,) = documents(files[NAME])
    validate(doc)
    return doc


@pytest.mark.parametrize("controller", ["ingress-nginx", "traefik"])
@pytest.mark.parametrize("edge", ["tunnel", "router", "none"])
def test_configmap_validates_and_forwards_the_zones(controller, edge):
    data = settings(
        homelab_edge=edge,
        homelab_ingress_controller=controller,
        homelab_cluster_dns_upstream="192.168.1.1",
        homelab_cluster_dns_zones=["lan", "home.arpa"],
    )
    if edge == "none":
        data["homelab_services"] = [{"name": "web", "host": "web.example.com"}]
    files = render(data)
    assert files[NAME].startswith("# Managed by spitikos.homelab")
    assert the_configmap(files) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns-custom", "namespace": "kube-system", "labels": MANAGED},
        "data": {
            "homelab.server": (
                "example.com:53 home.arpa:53 lan:53 {\n"
                "    errors\n"
                "    cache 30\n"
                "    forward . 192.168.1.1:53\n"
                "}\n"
            )
        },
    }


def test_configmap_is_the_plans_own():
    files = render(settings(homelab_cluster_dns_upstream="fd00::1"))
    doc = the_configmap(files)
    text = "example.com:53 {\n    errors\n    cache 30\n    forward . [fd00::1]:53\n}\n"
    assert doc["data"] == {"homelab.server": text}


def test_the_header_names_the_variable():
    text = render(settings(homelab_cluster_dns_upstream="10.0.0.1"))[NAME]
    head = [line for line in text.splitlines() if line.startswith("#")]
    assert any("homelab_cluster_dns_upstream" in line for line in head)
    assert any("10.0.0.1" in line for line in head)


def test_not_rendered_without_an_upstream():
    files = render(settings())
    assert NAME not in files


def test_planning_renders_it_too():
    files = render(settings(homelab_cluster_dns_upstream="10.0.0.1"), planning=True)
    assert the_configmap(files)["metadata"]["name"] == "coredns-custom"


def test_schema_rejects_a_misspelt_field():
    doc = the_configmap(render(settings(homelab_cluster_dns_upstream="10.0.0.1")))
    doc["dta"] = doc.pop("data")
    with pytest.raises(Exception, match="dta"):
        validate(doc)
