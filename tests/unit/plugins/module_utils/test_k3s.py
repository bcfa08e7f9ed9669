"""The k3s helpers: release assets, checksums, input checks, config.yaml per topology.

Expectations are written by hand from k3s' documented behaviour: release assets ``k3s``,
``k3s-arm64`` and ``k3s-armhf`` with checksum files ``sha256sum-amd64.txt``,
``sha256sum-arm64.txt`` and ``sha256sum-arm.txt`` on the release tag ``v1.xx.y+k3sN``;
``cluster-init`` on the first of three or more servers; ``server`` for joiners and agents.
"""

from __future__ import annotations

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils import _k3s

GH = "https://github.com/k3s-io/k3s/releases/download"
SHA_A = "a" * 64
SHA_B = "b" * 64
SUMS = f"""{"0" * 64}  k3s-airgap-images-amd64.tar.zst
{SHA_A}  k3s
{SHA_B}  k3s-arm64
"""
TAINT = "node-role.kubernetes.io/control-plane:NoSchedule"


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "amd64"),
        ("amd64", "amd64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("armv7l", "armhf"),
        ("armv6l", "armhf"),
        ("AARCH64", "arm64"),
        ("riscv64", ""),
        ("s390x", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_arch(machine, expected):
    assert _k3s.arch(machine) == expected


@pytest.mark.parametrize(
    ("version", "arch", "binary", "sums"),
    [
        ("v1.34.9+k3s1", "amd64", "k3s", "sha256sum-amd64.txt"),
        ("v1.34.9+k3s1", "arm64", "k3s-arm64", "sha256sum-arm64.txt"),
        ("v1.35.8+k3s2", "armhf", "k3s-armhf", "sha256sum-arm.txt"),
        ("v1.35.0-rc1+k3s1", "amd64", "k3s", "sha256sum-amd64.txt"),
    ],
)
def test_release_asset(version, arch, binary, sums):
    assert _k3s.release_asset(version, arch) == {
        "binary": binary,
        "checksum_file": sums,
        "url": f"{GH}/{version}/{binary}",
        "checksum_url": f"{GH}/{version}/{sums}",
    }


def test_release_asset_from_a_mirror():
    asset = _k3s.release_asset("v1.34.9+k3s1", "arm64", "https://mirror.lan/k3s/")
    assert asset["url"] == "https://mirror.lan/k3s/v1.34.9+k3s1/k3s-arm64"
    assert asset["checksum_url"] == "https://mirror.lan/k3s/v1.34.9+k3s1/sha256sum-arm64.txt"


@pytest.mark.parametrize(
    ("version", "arch", "message"),
    [
        ("1.34.9+k3s1", "amd64", "not a k3s release tag"),
        ("v1.34.9", "amd64", "not a k3s release tag"),
        ("latest", "amd64", "not a k3s release tag"),
        ("v1.34.9+k3s1", "riscv64", "architecture 'riscv64'"),
        ("v1.34.9+k3s1", "", "architecture ''"),
    ],
)
def test_release_asset_refuses(version, arch, message):
    with pytest.raises(_k3s.K3sError, match=message):
        _k3s.release_asset(version, arch)


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (SUMS, "k3s", SHA_A),
        (SUMS, "k3s-arm64", SHA_B),
        (SUMS, "k3s-armhf", ""),
        (f"{SHA_A.upper()} *k3s\n", "k3s", SHA_A),  # binary-mode marker, upper case
        ("not a checksum  k3s\n", "k3s", ""),
        ("", "k3s", ""),
        (None, "k3s", ""),
    ],
)
def test_checksum_from_sums(text, name, expected):
    assert _k3s.checksum_from_sums(text, name) == expected


@pytest.mark.parametrize(
    ("pinned", "arch", "sums", "name", "expected"),
    [
        ({}, "amd64", SUMS, "k3s", SHA_A),
        ({"amd64": SHA_B}, "amd64", SUMS, "k3s", SHA_B),  # pinned wins
        ({"amd64": f"sha256:{SHA_B}"}, "amd64", "", "k3s", SHA_B),
        ({"arm64": SHA_B}, "amd64", SUMS, "k3s", SHA_A),  # other arch pinned only
        ({}, "armhf", SUMS, "k3s-armhf", ""),
        (None, "amd64", "", "k3s", ""),
    ],
)
def test_pick_checksum(pinned, arch, sums, name, expected):
    assert _k3s.pick_checksum(pinned, arch, sums, name) == expected


def test_pick_checksum_refuses_a_bad_pin():
    with pytest.raises(_k3s.K3sError, match="not 64 hex digits"):
        _k3s.pick_checksum({"amd64": "abc"}, "amd64", "", "k3s")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("k3s version v1.34.9+k3s1 (6ab750f9)\ngo version go1.25.11\n", "v1.34.9+k3s1"),
        ("k3s version v1.35.0-rc1+k3s1 (abc)\n", "v1.35.0-rc1+k3s1"),
        ("kubectl version v1.34.9\n", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_version_from_output(output, expected):
    assert _k3s.version_from_output(output) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("k3s.example.com", True),
        ("k3s.example.com.", True),
        ("pi1", True),
        ("10.0.0.10", True),
        ("2001:db8::1", True),
        ("under_score.example.com", False),
        ("-bad.example.com", False),
        ("*.example.com", False),
        ("https://k3s.example.com", False),
        ("10.0.0.10:6443", False),
        ("", False),
        (42, False),
    ],
)
def test_is_host_or_ip(value, expected):
    assert _k3s.is_host_or_ip(value) is expected


def test_invalid_sans_name_the_variable_and_entry():
    assert _k3s.invalid_sans(["ok.example.com", "bad_name", "10.0.0.1"]) == [
        "k3s_server_tls_san[1] 'bad_name' is neither a host name nor an IP address"
    ]
    assert _k3s.invalid_sans("k3s.example.com") == ["k3s_server_tls_san must be a list, got str"]


@pytest.mark.parametrize(
    ("labels", "count"),
    [
        ({"homelab.spitikos.io/role": "server", "disk": "ssd"}, 0),
        ({"role": ""}, 0),
        ({"bad key": "x"}, 1),
        ({"role": "has space"}, 1),
        ({"role": None}, 1),
        (["role=server"], 1),
    ],
)
def test_invalid_labels(labels, count):
    assert len(_k3s.invalid_labels(labels, "k3s_agent_node_labels")) == count


@pytest.mark.parametrize(
    ("taints", "count"),
    [
        (["dedicated=gpu:NoSchedule", "CriticalAddonsOnly=true:NoExecute"], 0),
        (["node-role.kubernetes.io/control-plane:NoSchedule"], 0),
        (["dedicated=gpu"], 1),
        (["dedicated=gpu:Sometimes"], 1),
        ("dedicated=gpu:NoSchedule", 1),
    ],
)
def test_invalid_taints(taints, count):
    problems = _k3s.invalid_taints(taints, "k3s_server_node_taints")
    assert len(problems) == count
    assert all(p.startswith("k3s_server_node_taints") for p in problems)


@pytest.mark.parametrize(
    ("servers", "agents", "message"),
    [
        (1, 0, None),
        (1, 2, None),
        (3, 0, None),
        (5, 4, None),
        (2, 0, "k3s_server_group holds 2 servers: embedded etcd needs an odd number"),
        (4, 1, "k3s_server_group holds 4 servers"),
        (0, 2, "k3s_server_group names no host, but there are 2 agent(s)"),
        (0, 0, "k3s_server_group names no host"),
    ],
)
def test_topology_problems(servers, agents, message):
    problems = _k3s.topology_problems(servers, agents)
    if message is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problems[0].startswith(message)


@pytest.mark.parametrize(
    ("ingress", "lb", "extra", "expected"),
    [
        ("ingress-nginx", "servicelb", None, ["traefik"]),
        ("ingress-nginx", "metallb", None, ["servicelb", "traefik"]),
        ("traefik", "servicelb", None, []),
        ("traefik", "metallb", None, ["servicelb"]),
        (
            "traefik",
            "servicelb",
            ["local-storage", "metrics-server"],
            ["local-storage", "metrics-server"],
        ),
        ("ingress-nginx", "servicelb", ["traefik"], ["traefik"]),
    ],
)
def test_disabled_components(ingress, lb, extra, expected):
    assert _k3s.disabled_components(ingress, lb, extra) == expected


@pytest.mark.parametrize(
    ("ingress", "lb", "message"),
    [
        ("nginx", "servicelb", "homelab_ingress_controller 'nginx'"),
        ("traefik", "klipper", "homelab_load_balancer 'klipper'"),
    ],
)
def test_disabled_components_refuses(ingress, lb, message):
    with pytest.raises(_k3s.K3sError, match=message):
        _k3s.disabled_components(ingress, lb)


URL = "https://10.0.0.11:6443"
SERVER_CASES = {
    "single server, no agents: SQLite, no taint": (
        {"server_index": 0, "server_count": 1, "agent_count": 0},
        {"write-kubeconfig-mode": "0600"},
    ),
    "single server with agents: tainted control plane": (
        {"server_index": 0, "server_count": 1, "agent_count": 2, "server_url": URL},
        {"write-kubeconfig-mode": "0600", "node-taint": [TAINT]},
    ),
    "first of three servers: cluster-init": (
        {"server_index": 0, "server_count": 3, "agent_count": 1, "server_url": URL},
        {"write-kubeconfig-mode": "0600", "cluster-init": True, "node-taint": [TAINT]},
    ),
    "second of three servers, no agents: joins, stays schedulable": (
        {"server_index": 1, "server_count": 3, "agent_count": 0, "server_url": URL},
        {"write-kubeconfig-mode": "0600", "server": URL},
    ),
    "taint turned off": (
        {"server_index": 0, "server_count": 1, "agent_count": 2, "taint_control_plane": False},
        {"write-kubeconfig-mode": "0600"},
    ),
    "everything set": (
        {
            "server_index": 2,
            "server_count": 5,
            "agent_count": 3,
            "server_url": URL,
            "node_name": "cp3",
            "disable": ["traefik", "servicelb", "traefik"],
            "tls_san": ["k3s.example.com", "10.0.0.10", "k3s.example.com", ""],
            "node_labels": {"zone": "attic", "disk": "ssd"},
            "node_taints": ["dedicated=infra:NoExecute"],
            "extra": {"flannel-backend": "wireguard-native", "write-kubeconfig-mode": "0640"},
        },
        {
            "write-kubeconfig-mode": "0640",
            "node-name": "cp3",
            "server": URL,
            "tls-san": ["10.0.0.10", "k3s.example.com"],
            "disable": ["servicelb", "traefik"],
            "node-label": ["disk=ssd", "zone=attic"],
            "node-taint": [TAINT, "dedicated=infra:NoExecute"],
            "flannel-backend": "wireguard-native",
        },
    ),
    "control-plane taint given by hand is not doubled": (
        {"server_index": 0, "server_count": 1, "agent_count": 1, "node_taints": [TAINT]},
        {"write-kubeconfig-mode": "0600", "node-taint": [TAINT]},
    ),
}


@pytest.mark.parametrize(("options", "expected"), SERVER_CASES.values(), ids=SERVER_CASES)
def test_server_config(options, expected):
    config = _k3s.server_config(**options)
    assert config == expected
    assert list(config) == list(expected)  # stable key order in the rendered file


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"server_index": 0, "server_count": 2}, "odd number"),
        ({"server_index": 1, "server_count": 3}, "first server's URL"),
        ({"server_index": 3, "server_count": 3, "server_url": URL}, "outside the 3 server"),
    ],
)
def test_server_config_refuses(options, message):
    with pytest.raises(_k3s.K3sError, match=message):
        _k3s.server_config(**options)


def test_agent_config():
    assert _k3s.agent_config(
        server_url=URL,
        node_name="worker1",
        node_labels={"disk": "ssd"},
        node_taints=["dedicated=gpu:NoSchedule"],
        extra={"node-ip": "10.0.0.21"},
    ) == {
        "server": URL,
        "node-name": "worker1",
        "node-label": ["disk=ssd"],
        "node-taint": ["dedicated=gpu:NoSchedule"],
        "node-ip": "10.0.0.21",
    }
    assert _k3s.agent_config(server_url=URL) == {"server": URL}
    with pytest.raises(_k3s.K3sError, match="an agent needs"):
        _k3s.agent_config(server_url="")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.0.0.11", "https://10.0.0.11:6443"),
        ("k3s.example.com", "https://k3s.example.com:6443"),
        ("2001:db8::11", "https://[2001:db8::11]:6443"),
    ],
)
def test_server_url(address, expected):
    assert _k3s.server_url(address) == expected


BOOKWORM = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 rootwait"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BOOKWORM + "\n", BOOKWORM + " cgroup_memory=1 cgroup_enable=memory\n"),
        (
            BOOKWORM + " cgroup_memory=1 cgroup_enable=memory\n",
            BOOKWORM + " cgroup_memory=1 cgroup_enable=memory\n",
        ),
        (
            "root=/dev/mmcblk0p2 cgroup_memory=0 cgroup_enable=cpuset",
            "root=/dev/mmcblk0p2 cgroup_memory=1 cgroup_enable=cpuset cgroup_enable=memory\n",
        ),
        ("", "cgroup_memory=1 cgroup_enable=memory\n"),
    ],
)
def test_cmdline_with_flags(text, expected):
    assert _k3s.cmdline_with_flags(text) == expected
    assert _k3s.cmdline_with_flags(expected) == expected  # idempotent


FETCHED = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "default", "cluster": {"server": "https://127.0.0.1:6443", "ca": "CA"}}],
    "users": [{"name": "default", "user": {"client-key-data": "KEY"}}],
    "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
    "current-context": "default",
}


def test_merge_kubeconfig_into_nothing():
    merged = _k3s.merge_kubeconfig({}, FETCHED, "homelab", URL)
    assert merged == {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "homelab", "cluster": {"server": URL, "ca": "CA"}}],
        "users": [{"name": "homelab", "user": {"client-key-data": "KEY"}}],
        "contexts": [{"name": "homelab", "context": {"cluster": "homelab", "user": "homelab"}}],
        "current-context": "homelab",
    }


def test_merge_kubeconfig_keeps_other_clusters_and_replaces_its_own():
    existing = _k3s.merge_kubeconfig({}, FETCHED, "homelab", "https://old:6443")
    existing["clusters"].append({"name": "work", "cluster": {"server": "https://work:6443"}})
    existing["users"].append({"name": "work", "user": {"token": "t"}})
    existing["contexts"].append({"name": "work", "context": {"cluster": "work", "user": "work"}})
    existing["current-context"] = "work"
    merged = _k3s.merge_kubeconfig(existing, FETCHED, "homelab", URL)
    assert [c["name"] for c in merged["clusters"]] == ["homelab", "work"]
    assert merged["clusters"][0]["cluster"]["server"] == URL
    assert [u["name"] for u in merged["users"]] == ["homelab", "work"]
    assert merged["current-context"] == "work"
    # Merging again changes nothing (the role's copy stays unchanged on re-runs).
    assert _k3s.merge_kubeconfig(merged, FETCHED, "homelab", URL) == merged


@pytest.mark.parametrize(
    ("fetched", "context", "message"),
    [
        ({"clusters": []}, "homelab", "no cluster or user"),
        (FETCHED, "", "must not be empty"),
    ],
)
def test_merge_kubeconfig_refuses(fetched, context, message):
    with pytest.raises(_k3s.K3sError, match=message):
        _k3s.merge_kubeconfig({}, fetched, context, URL)
