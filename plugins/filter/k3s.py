# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the k3s roles use; thin wrappers over plugins/module_utils/_k3s.py.

Every filter is exposed as ``spitikos.homelab.k3s_*``. Bad input raises an error whose message
names the variable at fault.
"""

from __future__ import annotations

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.spitikos.homelab.plugins.module_utils import _k3s


def _wrap(func):
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except _k3s.K3sError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def k3s_arch(machine):
    """``x86_64`` -> ``amd64``, ``aarch64`` -> ``arm64``, ``armv7l`` -> ``armhf``; '' if unknown."""
    return _k3s.arch(machine)


def k3s_release_asset(version, architecture, base_url=_k3s.RELEASE_URL):
    """Binary and checksum file names and URLs of a release for one architecture."""
    return _k3s.release_asset(version, architecture, base_url)


def k3s_checksum(pinned, architecture, sums_text, file_name):
    """The expected sha256: the pinned one for the architecture, else the checksum file's."""
    return _k3s.pick_checksum(pinned, architecture, sums_text, file_name)


def k3s_version(output):
    """The release tag printed by ``k3s --version``; '' when none."""
    return _k3s.version_from_output(output)


def k3s_problems(options):
    """Every input problem found in ``options`` (a dict), each naming its variable."""
    problems = []
    if "tls_san" in options:
        problems += _k3s.invalid_sans(options["tls_san"], options.get("tls_san_variable"))
    if "node_labels" in options:
        problems += _k3s.invalid_labels(options["node_labels"], options.get("labels_variable"))
    if "node_taints" in options:
        problems += _k3s.invalid_taints(options["node_taints"], options.get("taints_variable"))
    if "server_count" in options:
        problems += _k3s.topology_problems(
            int(options["server_count"]),
            int(options.get("agent_count", 0)),
            options.get("group_variable", "k3s_server_group"),
        )
    if "version" in options and not _k3s.valid_version(options["version"]):
        problems.append(
            f"{options.get('version_variable')} '{options['version']}' is not a k3s release "
            "tag such as v1.34.9+k3s1"
        )
    return problems


def k3s_valid_hosts(values):
    """Only the entries that are host names or IP addresses (for addresses found in facts)."""
    return [v for v in values or [] if _k3s.is_host_or_ip(v)]


def k3s_disable(ingress_controller, load_balancer, extra=None):
    """Bundled components to disable for the chosen ingress controller and load balancer."""
    return _k3s.disabled_components(ingress_controller, load_balancer, extra)


def k3s_server_config(options):
    """config.yaml contents for a server; ``options`` holds _k3s.server_config's arguments."""
    return _k3s.server_config(**options)


def k3s_agent_config(options):
    """config.yaml contents for an agent; ``options`` holds _k3s.agent_config's arguments."""
    return _k3s.agent_config(**options)


def k3s_server_url(address, port=_k3s.API_PORT):
    """``https://address:port`` (IPv6 in brackets)."""
    return _k3s.server_url(address, port)


def k3s_cmdline(text, flags=_k3s.PI_CGROUP_FLAGS):
    """The kernel command line with the cgroup flags k3s needs on a Raspberry Pi."""
    return _k3s.cmdline_with_flags(text, flags)


def k3s_kubeconfig_merge(existing_text, fetched_text, context, api_url):
    """Merge a server's kubeconfig (YAML text) into an existing one (YAML text, may be '')."""
    try:
        existing = yaml.safe_load(existing_text or "") or {}
        fetched = yaml.safe_load(fetched_text or "") or {}
    except yaml.YAMLError as exc:
        raise AnsibleFilterError(f"a kubeconfig is not valid YAML: {exc}") from exc
    if not isinstance(existing, dict) or not isinstance(fetched, dict):
        raise AnsibleFilterError("a kubeconfig must be a YAML mapping")
    return _k3s.merge_kubeconfig(existing, fetched, context, api_url)


class FilterModule:
    """The k3s filters."""

    def filters(self):
        return {
            name: _wrap(func)
            for name, func in {
                "k3s_arch": k3s_arch,
                "k3s_release_asset": k3s_release_asset,
                "k3s_checksum": k3s_checksum,
                "k3s_version": k3s_version,
                "k3s_problems": k3s_problems,
                "k3s_valid_hosts": k3s_valid_hosts,
                "k3s_disable": k3s_disable,
                "k3s_server_config": k3s_server_config,
                "k3s_agent_config": k3s_agent_config,
                "k3s_server_url": k3s_server_url,
                "k3s_cmdline": k3s_cmdline,
                "k3s_kubeconfig_merge": k3s_kubeconfig_merge,
            }.items()
        }
