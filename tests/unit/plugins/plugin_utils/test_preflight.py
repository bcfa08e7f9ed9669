"""The site's preflight of role variables, against the roles' real argument specs.

Each row is one mistake a user can make in an inventory; the preflight must name the host and
the variable in one message, and a clean inventory must give no message at all.
"""

from __future__ import annotations

import pytest

from ansible_collections.spitikos.homelab.plugins.plugin_utils import _preflight as pf

GROUPS = {
    "all": ["pi1", "pi2", "gw"],
    "k3s_servers": ["pi1"],
    "k3s_agents": ["pi2"],
    "cloudflared": ["pi1"],
    "openwrt_routers": ["gw"],
}

# (host, variables, the one expected message)
MISTAKES = [
    (
        "pi1",
        {"k3s_server_disable": "traefik"},
        "pi1: k3s_server_disable must be a list, got a string 'traefik'; write it as [traefik]",
    ),
    (
        "pi1",
        {"k3s_server_node_labels": "role=edge"},
        "pi1: k3s_server_node_labels must be a mapping, got a string 'role=edge'",
    ),
    (
        "pi1",
        {"homelab_k3s_version": "latest"},
        "pi1: homelab_k3s_version (for k3s_server_version) 'latest' is not a k3s release tag",
    ),
    (
        "pi2",
        {"homelab_k3s_version": "v1.34"},
        "pi2: homelab_k3s_version (for k3s_agent_version) 'v1.34' is not a k3s release tag",
    ),
    (
        "pi2",
        {"k3s_agent_version": "1.34.9+k3s1"},
        "pi2: k3s_agent_version '1.34.9+k3s1' is not a k3s release tag",
    ),
    (
        "pi1",
        {"cloudflared_mode": "docker"},
        "pi1: value of cloudflared_mode must be one of: host, pod, got: docker",
    ),
    (
        "pi2",
        {"k3s_agent_node_taints": "gpu=true:NoSchedule"},
        "pi2: k3s_agent_node_taints must be a list, got a string 'gpu=true:NoSchedule'",
    ),
    (
        "pi1",
        {"k3s_server_tls_san": ["api.example.com", "not a name!"]},
        "pi1: k3s_server_tls_san[1] 'not a name!' is neither a host name nor an IP address",
    ),
    (
        "pi1",
        {"k3s_server_node_labels": {"bad key!": "x"}},
        "pi1: k3s_server_node_labels: 'bad key!' is not a valid label key",
    ),
    (
        "pi2",
        {"k3s_agent_node_labels": {"zone": ["a", "b"]}},
        "pi2: k3s_agent_node_labels: the value of 'zone' is not a valid label value",
    ),
    (
        "pi2",
        {"k3s_agent_node_taints": ["dedicated=gpu"]},
        "pi2: k3s_agent_node_taints[0] 'dedicated=gpu' is not key[=value]:Effect",
    ),
    (
        "pi2",
        {"common_packages": "vim"},
        "pi2: common_packages must be a list, got a string 'vim'; write it as [vim]",
    ),
    (
        "pi1",
        {"common_journald_storage": "disk"},
        "pi1: value of common_journald_storage must be one of: persistent, volatile, auto, none",
    ),
    (
        "pi1",
        {"common_apt_cache_valid_time": "an hour"},
        "pi1: argument 'common_apt_cache_valid_time' is of type str and we were unable to convert",
    ),
    (
        "pi2",
        {"k3s_prereq_reboot": "maybe"},
        "pi2: argument 'k3s_prereq_reboot' is of type str and we were unable to convert to bool",
    ),
    (
        "pi1",
        {"cloudflared_protocol": "h3"},
        "pi1: value of cloudflared_protocol must be one of: , auto, http2, quic, got: h3",
    ),
    (
        "pi1",
        {"cloudflared_metrics_port": [2000]},
        "pi1: argument 'cloudflared_metrics_port' is of type list",
    ),
    (
        "pi1",
        {"cloudflared_extra_args": "--loglevel debug"},
        "pi1: cloudflared_extra_args must be a list, got a string '--loglevel debug'",
    ),
    (
        "pi1",
        {"cloudflared_pod_replicas": True},
        "pi1: cloudflared_pod_replicas must be an integer, got True",
    ),
    (
        "pi1",
        {"cloudflared_arch": "armhf"},
        "pi1: value of cloudflared_arch must be one of: , amd64, arm64, arm, got: armhf",
    ),
    (
        "pi1",
        {"k3s_server_arch": "x86_64"},
        "pi1: value of k3s_server_arch must be one of: , amd64, arm64, armhf, got: x86_64",
    ),
    (
        "pi1",
        {"k3s_server_kubeconfig_timeout": "5m"},
        "pi1: argument 'k3s_server_kubeconfig_timeout' is of type str and we were unable",
    ),
    (
        "pi1",
        {"cluster_addons_readiness": "sometimes"},
        "pi1: value of cluster_addons_readiness must be one of: auto, always, never",
    ),
    (
        "pi1",
        {"cluster_addons_ingress_nginx_kind": "deployment"},
        "pi1: value of cluster_addons_ingress_nginx_kind must be one of: Deployment, DaemonSet",
    ),
    (
        "pi1",
        {"cluster_addons_traefik_values": "ports: {}"},
        "pi1: cluster_addons_traefik_values must be a mapping, got a string 'ports: {}'",
    ),
    (
        "pi1",
        {"cluster_addons_cert_manager_dns01_nameservers": "1.1.1.1:53"},
        "pi1: cluster_addons_cert_manager_dns01_nameservers must be a list, got a string",
    ),
    (
        "gw",
        {"openwrt_edge_platform": "lede"},
        "gw: value of openwrt_edge_platform must be one of: auto, openwrt, debian, got: lede",
    ),
    (
        "gw",
        {"openwrt_edge_haproxy_ingress_servers": "10.0.0.11"},
        "gw: openwrt_edge_haproxy_ingress_servers must be a list, got a string '10.0.0.11'",
    ),
    (
        "gw",
        {"openwrt_edge_haproxy_maxconn": "lots"},
        "gw: argument 'openwrt_edge_haproxy_maxconn' is of type str and we were unable",
    ),
    (
        "gw",
        {"openwrt_edge_haproxy_global_extra": [["nbthread", 2]]},
        "gw: openwrt_edge_haproxy_global_extra[0] must be a string, got ['nbthread', 2]",
    ),
    (
        "localhost",
        {"cloudflare_dns_policy": "delete"},
        "localhost: value of cloudflare_dns_policy must be one of: upsert-only, sync, got: delete",
    ),
    (
        "localhost",
        {"cloudflare_tunnel_rotate_secret": "sometimes"},
        "localhost: argument 'cloudflare_tunnel_rotate_secret' is of type str and we were unable",
    ),
]


def problems_for(host, variables):
    def read(name, names):
        return {n: variables[n] for n in names if n in variables} if name == host else {}

    return pf.inventory_problems(GROUPS, read)


@pytest.mark.parametrize(
    ("host", "variables", "message"), MISTAKES, ids=[next(iter(m[1])) for m in MISTAKES]
)
def test_each_mistake_gives_one_message_naming_host_and_variable(host, variables, message):
    problems = problems_for(host, variables)
    assert len(problems) == 1, problems
    assert problems[0].startswith(message), problems


def test_a_clean_inventory_gives_no_message():
    clean = {
        "homelab_k3s_version": "v1.34.9+k3s1",
        "k3s_server_disable": ["traefik"],
        "k3s_server_node_labels": {"role": "edge"},
        "k3s_server_node_taints": ["dedicated=edge:NoSchedule"],
        "cloudflared_mode": "host",
        "cloudflared_metrics_port": 2000,
        "common_packages": ["vim"],
        "cluster_addons_readiness": "auto",
    }
    assert problems_for("pi1", clean) == []


def test_every_mistake_of_every_host_is_reported_at_once():
    variables = {host: {} for host in ("pi1", "pi2", "gw", "localhost")}
    for host, found, _message in MISTAKES:
        variables[host].update(found)

    def read(host, names):
        return {n: variables[host][n] for n in names if n in variables[host]}

    problems = pf.inventory_problems(GROUPS, read)
    # Several rows set the same variable; each host still reports each bad variable.
    assert len(problems) >= 25
    assert {p.split(":")[0] for p in problems} == {"pi1", "pi2", "gw", "localhost"}


@pytest.mark.parametrize(
    "variables",
    [
        {"k3s_server_token": ["s3cret-in-a-list"]},
        {"cloudflared_tunnel_token": {"s3cret": "in-a-mapping"}},
        {"cluster_addons_oauth2_proxy_client_secret": 4711},
    ],
)
def test_a_secret_value_never_appears_in_a_message(variables):
    problems = problems_for("pi1", variables)
    assert len(problems) == 1, problems
    assert "s3cret" not in problems[0]
    assert "4711" not in problems[0]
    assert "not shown" in problems[0]


@pytest.mark.parametrize(
    ("host", "roles"),
    [
        ("pi1", ["common", "k3s_prereq", "k3s_server", "cloudflared", "cluster_addons"]),
        ("pi2", ["common", "k3s_prereq", "k3s_agent"]),
        ("gw", ["openwrt_edge"]),
    ],
)
def test_roles_follow_the_site_playbook(host, roles):
    assert pf.roles_of(host, GROUPS) == roles


def test_every_role_with_a_spec_is_checked_somewhere():
    checked = {role for host in GROUPS["all"] for role in pf.roles_of(host, GROUPS)}
    checked |= set(pf.CONTROLLER_ROLES)
    with_specs = {p.parents[1].name for p in pf.ROLES_DIR.glob("*/meta/argument_specs.yml")}
    assert checked == with_specs
