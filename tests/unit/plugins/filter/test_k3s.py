"""The k3s filters as templates use them: names, argument order and error messages."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.spitikos.homelab.plugins.filter.k3s import FilterModule

FILTERS = FilterModule().filters()
URL = "https://10.0.0.11:6443"


def test_every_filter_is_exposed():
    assert sorted(FILTERS) == [
        "k3s_agent_config",
        "k3s_arch",
        "k3s_checksum",
        "k3s_cmdline",
        "k3s_disable",
        "k3s_kubeconfig_merge",
        "k3s_problems",
        "k3s_release_asset",
        "k3s_server_config",
        "k3s_server_url",
        "k3s_valid_hosts",
        "k3s_version",
    ]


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("k3s_arch", ("aarch64",), "arm64"),
        ("k3s_arch", ("mips",), ""),
        ("k3s_version", ("k3s version v1.34.9+k3s1 (abc)\n",), "v1.34.9+k3s1"),
        ("k3s_disable", ("ingress-nginx", "metallb"), ["servicelb", "traefik"]),
        ("k3s_disable", ("traefik", "servicelb"), []),
        ("k3s_server_url", ("pi1",), "https://pi1:6443"),
        ("k3s_valid_hosts", (["pi1", "", "10.0.0.1", "bad_name"],), ["pi1", "10.0.0.1"]),
        ("k3s_checksum", ({}, "arm64", f"{'c' * 64}  k3s-arm64\n", "k3s-arm64"), "c" * 64),
        (
            "k3s_cmdline",
            ("root=/dev/sda2",),
            "root=/dev/sda2 cgroup_memory=1 cgroup_enable=memory\n",
        ),
        (
            "k3s_release_asset",
            ("v1.34.9+k3s1", "armhf"),
            {
                "binary": "k3s-armhf",
                "checksum_file": "sha256sum-arm.txt",
                "url": "https://github.com/k3s-io/k3s/releases/download/v1.34.9+k3s1/k3s-armhf",
                "checksum_url": (
                    "https://github.com/k3s-io/k3s/releases/download/v1.34.9+k3s1/sha256sum-arm.txt"
                ),
            },
        ),
        (
            "k3s_server_config",
            ({"server_index": 0, "server_count": 3, "agent_count": 0, "disable": ["traefik"]},),
            {"write-kubeconfig-mode": "0600", "cluster-init": True, "disable": ["traefik"]},
        ),
        (
            "k3s_agent_config",
            ({"server_url": URL, "node_name": "w1"},),
            {"server": URL, "node-name": "w1"},
        ),
    ],
)
def test_filter(name, args, expected):
    assert FILTERS[name](*args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("k3s_release_asset", ("latest", "amd64"), "not a k3s release tag"),
        ("k3s_disable", ("nginx", "servicelb"), "homelab_ingress_controller"),
        ("k3s_server_config", ({"server_index": 0, "server_count": 2},), "odd number"),
        ("k3s_agent_config", ({"server_url": ""},), "an agent needs"),
        ("k3s_kubeconfig_merge", ("", "[unclosed", "homelab", URL), "not valid YAML"),
        ("k3s_kubeconfig_merge", ("", "- a list", "homelab", URL), "YAML mapping"),
    ],
)
def test_filter_errors_are_filter_errors(name, args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS[name](*args)


PROBLEM_CASES = {
    "all good": (
        {
            "version": "v1.34.9+k3s1",
            "version_variable": "k3s_server_version",
            "tls_san": ["k3s.example.com", "10.0.0.10"],
            "tls_san_variable": "k3s_server_tls_san",
            "node_labels": {"disk": "ssd"},
            "labels_variable": "k3s_server_node_labels",
            "node_taints": [],
            "taints_variable": "k3s_server_node_taints",
            "server_count": 3,
            "agent_count": 2,
            "group_variable": "k3s_server_group",
        },
        [],
    ),
    "every problem at once, each naming its variable": (
        {
            "version": "1.34",
            "version_variable": "k3s_server_version",
            "tls_san": ["k3s.example.com", "not a host"],
            "tls_san_variable": "k3s_server_tls_san",
            "node_taints": ["x"],
            "taints_variable": "k3s_server_node_taints",
            "server_count": 2,
            "agent_count": 0,
            "group_variable": "k3s_server_group",
        },
        [
            "k3s_server_tls_san[1] 'not a host' is neither a host name nor an IP address",
            "k3s_server_node_taints[0] 'x' is not key[=value]:Effect with Effect one of "
            "NoSchedule, PreferNoSchedule, NoExecute",
            "k3s_server_group holds 2 servers: embedded etcd needs an odd number (1, 3, 5...) "
            "to keep quorum",
            "k3s_server_version '1.34' is not a k3s release tag such as v1.34.9+k3s1",
        ],
    ),
}


@pytest.mark.parametrize(("options", "expected"), PROBLEM_CASES.values(), ids=PROBLEM_CASES)
def test_problems(options, expected):
    assert FILTERS["k3s_problems"](options) == expected


def test_kubeconfig_merge_from_yaml_text():
    fetched = yaml.safe_dump(
        {
            "clusters": [{"name": "default", "cluster": {"server": "https://127.0.0.1:6443"}}],
            "users": [{"name": "default", "user": {"token": "t"}}],
            "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        }
    )
    merged = FILTERS["k3s_kubeconfig_merge"]("", fetched, "homelab", URL)
    assert merged["clusters"] == [{"name": "homelab", "cluster": {"server": URL}}]
    assert merged["current-context"] == "homelab"
