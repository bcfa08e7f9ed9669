# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers behind the k3s roles (private: not a public API).

Nothing here does I/O. The roles reach these functions through the ``spitikos.homelab.k3s_*``
filters: release asset and checksum selection, ``/etc/rancher/k3s/config.yaml`` contents for
each node, input checks, the Raspberry Pi kernel command line and the kubeconfig merge.

Facts about k3s releases used here (https://github.com/k3s-io/k3s/releases and its install.sh):
the release tag looks like ``v1.34.9+k3s1``; the binaries are ``k3s`` (amd64), ``k3s-arm64`` and
``k3s-armhf``; their checksums are in ``sha256sum-amd64.txt``, ``sha256sum-arm64.txt`` and
``sha256sum-arm.txt`` (the installer names 32-bit ARM ``arm`` and adds the ``hf`` suffix to the
binary only), one ``<sha256>  <file name>`` line per asset.
"""

from __future__ import annotations

import ipaddress
import re

RELEASE_URL = "https://github.com/k3s-io/k3s/releases/download"
ARCHES = ("amd64", "arm64", "armhf")
# uname -m / ansible_architecture values, mapped the way k3s' install.sh maps them.
_MACHINE_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "armhf",
    "armv7": "armhf",
    "armv6l": "armhf",
    "armhf": "armhf",
    "arm": "armhf",
}
_ASSETS = {
    "amd64": ("k3s", "sha256sum-amd64.txt"),
    "arm64": ("k3s-arm64", "sha256sum-arm64.txt"),
    "armhf": ("k3s-armhf", "sha256sum-arm.txt"),
}
_VERSION = re.compile(r"^v\d+\.\d+\.\d+(?:-rc\d+)?\+k3s\d+$")
_VERSION_IN_OUTPUT = re.compile(r"\bk3s version (v\d+\.\d+\.\d+(?:-rc\d+)?\+k3s\d+)\b")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$")
# Kubernetes label/taint keys: optional DNS-subdomain prefix, then a name of up to 63 chars.
_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane:NoSchedule"
INGRESS_CONTROLLERS = ("ingress-nginx", "traefik")
LOAD_BALANCERS = ("servicelb", "metallb")
API_PORT = 6443
# The flags k3s needs on a Raspberry Pi kernel command line (docs.k3s.io, "Raspberry Pi").
PI_CGROUP_FLAGS = ("cgroup_memory=1", "cgroup_enable=memory")


class K3sError(ValueError):
    """An input the k3s roles cannot use; the message names the variable."""


# --------------------------------------------------------------------------- releases
def arch(machine):
    """The k3s architecture name for ``uname -m`` / ``ansible_architecture``; '' if unknown."""
    return _MACHINE_ARCH.get(str(machine or "").strip().lower(), "")


def valid_version(version):
    """True for a k3s release tag such as ``v1.34.9+k3s1``."""
    return isinstance(version, str) and bool(_VERSION.match(version))


def release_asset(version, architecture, base_url=RELEASE_URL):
    """Names and URLs of the binary and checksum file for one release and architecture.

    Returns ``{"binary", "checksum_file", "url", "checksum_url"}``.
    """
    if not valid_version(version):
        raise K3sError(f"version '{version}' is not a k3s release tag such as v1.34.9+k3s1")
    if architecture not in _ASSETS:
        raise K3sError(
            f"architecture '{architecture}' is not one of {', '.join(ARCHES)} "
            "(the architectures k3s publishes binaries for)"
        )
    binary, checksum_file = _ASSETS[architecture]
    base = f"{str(base_url).rstrip('/')}/{version}"
    return {
        "binary": binary,
        "checksum_file": checksum_file,
        "url": f"{base}/{binary}",
        "checksum_url": f"{base}/{checksum_file}",
    }


def checksum_from_sums(text, file_name):
    """The sha256 of ``file_name`` in a ``sha256sum`` listing; '' when it is not listed."""
    for line in str(text or "").splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        digest, name = parts
        if name.lstrip("*") == file_name and _SHA256.match(digest.lower()):
            return digest.lower()
    return ""


def pick_checksum(pinned, architecture, sums_text, file_name):
    """The expected sha256: a pinned value for the architecture wins over a checksum file.

    ``pinned`` maps architecture to sha256 (may be empty). ``sums_text`` is the release's
    sha256sum file (may be empty). Returns '' when neither knows the binary.
    """
    value = (pinned or {}).get(architecture) or ""
    if value:
        value = str(value).strip().lower()
        if value.startswith("sha256:"):
            value = value[len("sha256:") :]
        if not _SHA256.match(value):
            raise K3sError(f"the pinned sha256 for {architecture} is not 64 hex digits: '{value}'")
        return value
    return checksum_from_sums(sums_text, file_name)


def version_from_output(text):
    """The release tag in ``k3s --version`` output; '' when there is none."""
    match = _VERSION_IN_OUTPUT.search(str(text or ""))
    return match.group(1) if match else ""


# --------------------------------------------------------------------------- input checks
def is_host_or_ip(value):
    """True for an IPv4/IPv6 address or a DNS host name (labels of letters, digits, '-')."""
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if len(name) > 253:
        return False
    return all(_LABEL.match(label) for label in name.split("."))


def invalid_sans(sans, variable="k3s_server_tls_san"):
    """One message per entry of ``sans`` that is neither a host name nor an IP address."""
    if not isinstance(sans, list):
        return [f"{variable} must be a list, got {type(sans).__name__}"]
    return [
        f"{variable}[{i}] '{entry}' is neither a host name nor an IP address"
        for i, entry in enumerate(sans)
        if not is_host_or_ip(entry)
    ]


def invalid_labels(labels, variable):
    """Messages for node labels (``{key: value}``) Kubernetes would refuse."""
    if not isinstance(labels, dict):
        return [f"{variable} must be a mapping of label keys to values"]
    problems = []
    for key, value in labels.items():
        if not _KEY.match(str(key)) or len(str(key)) > 316:
            problems.append(f"{variable}: '{key}' is not a valid label key")
        if value is None or isinstance(value, (dict, list)) or not _VALUE.match(str(value)):
            problems.append(f"{variable}: the value of '{key}' is not a valid label value")
    return problems


def invalid_taints(taints, variable):
    """Messages for node taints that are not ``key[=value]:Effect``."""
    if not isinstance(taints, list):
        return [f"{variable} must be a list of key[=value]:Effect strings"]
    problems = []
    for i, taint in enumerate(taints):
        text = str(taint)
        head, effect = text.rpartition(":")[::2]
        key, value = head.partition("=")[::2]
        if effect not in TAINT_EFFECTS or not _KEY.match(key) or not _VALUE.match(value):
            problems.append(
                f"{variable}[{i}] '{text}' is not key[=value]:Effect with Effect one of "
                f"{', '.join(TAINT_EFFECTS)}"
            )
    return problems


def topology_problems(server_count, agent_count, variable="k3s_server_group"):
    """Messages for a cluster shape k3s cannot run; empty when the shape is fine."""
    if server_count < 1:
        if agent_count:
            return [
                f"{variable} names no host, but there are {agent_count} agent(s): "
                "agents need a k3s server to join"
            ]
        return [f"{variable} names no host: a cluster needs at least one k3s server"]
    if server_count > 1 and server_count % 2 == 0:
        return [
            f"{variable} holds {server_count} servers: embedded etcd needs an odd number "
            "(1, 3, 5...) to keep quorum"
        ]
    return []


# --------------------------------------------------------------------------- config.yaml
def disabled_components(ingress_controller, load_balancer, extra=None):
    """The bundled k3s components to disable for the chosen ingress controller/load balancer."""
    if ingress_controller not in INGRESS_CONTROLLERS:
        raise K3sError(
            f"homelab_ingress_controller '{ingress_controller}' is not one of "
            f"{', '.join(INGRESS_CONTROLLERS)}"
        )
    if load_balancer not in LOAD_BALANCERS:
        raise K3sError(
            f"homelab_load_balancer '{load_balancer}' is not one of {', '.join(LOAD_BALANCERS)}"
        )
    disabled = set(extra or [])
    if ingress_controller == "ingress-nginx":
        disabled.add("traefik")
    if load_balancer == "metallb":
        disabled.add("servicelb")
    return sorted(disabled)


def _unique_sorted(values):
    return sorted({str(v) for v in values if v not in (None, "")})


def _labels(labels):
    return [f"{k}={v}" for k, v in sorted((labels or {}).items())]


def server_config(
    *,
    server_index,
    server_count,
    agent_count=0,
    server_url="",
    node_name="",
    disable=(),
    tls_san=(),
    node_labels=None,
    node_taints=(),
    taint_control_plane=True,
    extra=None,
):
    """The contents of /etc/rancher/k3s/config.yaml on one server, as a dict.

    ``server_index`` is the server's position in the server group (0 = the first, which
    creates the cluster); with three or more servers the first starts embedded etcd
    (``cluster-init``) and the others join it through ``server_url``. With a single server
    the datastore stays SQLite. Servers carry the control-plane NoSchedule taint when the
    cluster has agents to run the workloads (and ``taint_control_plane`` is true).
    ``extra`` (config keys without the leading ``--``) is merged last and wins.
    """
    topology = topology_problems(server_count, agent_count)
    if topology:
        raise K3sError(topology[0])
    if not 0 <= server_index < server_count:
        raise K3sError(f"server_index {server_index} is outside the {server_count} server(s)")
    config = {"write-kubeconfig-mode": "0600"}
    if node_name:
        config["node-name"] = str(node_name)
    if server_index == 0:
        if server_count >= 3:
            config["cluster-init"] = True
    else:
        if not server_url:
            raise K3sError("a joining server needs the first server's URL (server_url)")
        config["server"] = str(server_url)
    sans = _unique_sorted(tls_san)
    if sans:
        config["tls-san"] = sans
    disabled = _unique_sorted(disable)
    if disabled:
        config["disable"] = disabled
    labels = _labels(node_labels)
    if labels:
        config["node-label"] = labels
    taints = list(node_taints or [])
    if taint_control_plane and agent_count > 0 and CONTROL_PLANE_TAINT not in taints:
        taints.insert(0, CONTROL_PLANE_TAINT)
    if taints:
        config["node-taint"] = taints
    config.update(extra or {})
    return config


def agent_config(*, server_url, node_name="", node_labels=None, node_taints=(), extra=None):
    """The contents of /etc/rancher/k3s/config.yaml on one agent, as a dict."""
    if not server_url:
        raise K3sError("an agent needs the URL of a k3s server (server_url)")
    config = {"server": str(server_url)}
    if node_name:
        config["node-name"] = str(node_name)
    labels = _labels(node_labels)
    if labels:
        config["node-label"] = labels
    taints = list(node_taints or [])
    if taints:
        config["node-taint"] = taints
    config.update(extra or {})
    return config


def server_url(address, port=API_PORT):
    """``https://<address>:<port>``, with IPv6 addresses in brackets."""
    host = str(address)
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"https://{host}:{int(port)}"


# --------------------------------------------------------------------------- Raspberry Pi
def cmdline_with_flags(text, flags=PI_CGROUP_FLAGS):
    """The kernel command line with every flag present, keeping the existing order.

    ``cmdline.txt`` is one line; flags already present (same ``key=value``) are left alone,
    a flag whose key is present with another value is replaced in place.
    """
    words = str(text or "").split()
    for flag in flags:
        key = flag.split("=", 1)[0]
        same_key = [i for i, w in enumerate(words) if w.split("=", 1)[0] == key]
        if flag in words:
            continue
        if same_key and key not in ("cgroup_enable",):
            words[same_key[0]] = flag
        else:
            words.append(flag)
    return " ".join(words) + "\n"


# --------------------------------------------------------------------------- kubeconfig
def _named(entries, name):
    return [e for e in (entries or []) if isinstance(e, dict) and e.get("name") != name]


def merge_kubeconfig(existing, fetched, context, api_url):
    """Merge a server's kubeconfig (dicts) into an existing one under the name ``context``.

    The fetched file's first cluster, user and context (k3s calls them all ``default``) are
    renamed to ``context`` and the cluster's server becomes ``api_url``. Entries of other names
    in ``existing`` are kept; the current context is set only when ``existing`` had none.
    """
    if not context:
        raise K3sError("the kubeconfig context name must not be empty")
    try:
        cluster = dict(fetched["clusters"][0]["cluster"])
        user = dict(fetched["users"][0]["user"])
    except (KeyError, IndexError, TypeError) as exc:
        raise K3sError("the fetched kubeconfig has no cluster or user") from exc
    cluster["server"] = api_url
    base = dict(existing or {})
    merged = {
        "apiVersion": base.get("apiVersion", "v1"),
        "kind": base.get("kind", "Config"),
        "preferences": base.get("preferences") or {},
        "clusters": sorted(
            [*_named(base.get("clusters"), context), {"name": context, "cluster": cluster}],
            key=lambda e: str(e.get("name")),
        ),
        "users": sorted(
            [*_named(base.get("users"), context), {"name": context, "user": user}],
            key=lambda e: str(e.get("name")),
        ),
        "contexts": sorted(
            [
                *_named(base.get("contexts"), context),
                {"name": context, "context": {"cluster": context, "user": context}},
            ],
            key=lambda e: str(e.get("name")),
        ),
        "current-context": base.get("current-context") or context,
    }
    for key, value in base.items():
        merged.setdefault(key, value)
    return merged
