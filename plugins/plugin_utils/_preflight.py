# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site's preflight: every role variable of every host, checked before any host is touched.

Runs on the controller only (the homelab_preflight action). For each host, the roles the site
runs there (by inventory group) are looked up, and every variable the inventory gives for one of
their options is checked against the role's ``meta/argument_specs.yml``: its type, its choices and
the elements of a list. A value whose type has an obvious other meaning (a string where a list or
a mapping is expected) is refused rather than converted, because the roles would read the string
itself. The role-level rules that need no host (k3s release tags, node labels and taints,
certificate names) run here too. Every problem is returned at once, naming the host and the
variable.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.spitikos.homelab.plugins.module_utils import _k3s
from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import _type_name

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"

# Which roles the site (playbooks/site.yml) runs on the hosts of each inventory group.
GROUP_ROLES = {
    "k3s_servers": ("common", "k3s_prereq", "k3s_server"),
    "k3s_agents": ("common", "k3s_prereq", "k3s_agent"),
    "cloudflared": ("common", "cloudflared"),
    "openwrt_routers": ("openwrt_edge",),
}
FIRST_SERVER_ROLES = ("cluster_addons",)
CONTROLLER_ROLES = ("cloudflare_tunnel", "cloudflare_dns")
# The common role does not run on routers, whatever other group they are in.
NOT_ON_ROUTERS = ("common", "k3s_prereq")

# A role default that is exactly "{{ homelab_x | default(...) }}": homelab_x feeds that option.
_FEED = re.compile(r"^\{\{\s*(homelab_\w+)\s*\|\s*default\([^()]*\)\s*\}\}$")

# Keys of an argument spec option that the validator understands.
_SPEC_KEYS = ("type", "choices", "elements", "options", "no_log", "aliases")
_TYPE_NAMES = {
    "str": "a string",
    "list": "a list",
    "dict": "a mapping",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "path": "a path",
    "raw": "a value",
}


def load_role(role, roles_dir=ROLES_DIR):
    """(options of the role's main entry point, {option: homelab_* variable feeding it})."""
    specs = yaml.safe_load((roles_dir / role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"].get("options") or {}
    defaults_file = roles_dir / role / "defaults" / "main.yml"
    feeds = {}
    if defaults_file.exists():
        for name, default in (yaml.safe_load(defaults_file.read_text()) or {}).items():
            match = _FEED.match(default.strip()) if isinstance(default, str) else None
            if match and name in options:
                feeds[name] = match.group(1)
    return options, feeds


def roles_of(host, groups):
    """The roles the site runs on ``host``, given ``groups`` ({group: [hosts]})."""
    in_groups = [g for g in GROUP_ROLES if host in groups.get(g, ())]
    roles = []
    for group in in_groups:
        for role in GROUP_ROLES[group]:
            if role in NOT_ON_ROUTERS and "openwrt_routers" in in_groups:
                continue
            if role not in roles:
                roles.append(role)
    servers = groups.get("k3s_servers") or []
    if servers and servers[0] == host:
        roles.extend(FIRST_SERVER_ROLES)
    return roles


def _shape_problem(name, value, option):
    """A refusal for a value whose type the roles would misread, or None. The value itself is
    left out of the message for a secret (no_log) option."""
    wanted = option.get("type", "str")
    if value is None:
        return None
    if option.get("no_log"):
        kind = _type_name(value)
        if wanted == "str" and not isinstance(value, str):
            return f"{name} must be a string, got {kind} (value not shown: it is a secret)"
        return None
    if wanted == "list" and not isinstance(value, (list, tuple)):
        example = f"[{value}]" if isinstance(value, str) else "[...]"
        return f"{name} must be a list, got {_type_name(value)} {value!r}; write it as {example}"
    if wanted == "dict" and not isinstance(value, dict):
        return f"{name} must be a mapping, got {_type_name(value)} {value!r}"
    if wanted == "str" and isinstance(value, (list, dict, bool)):
        return f"{name} must be a string, got {_type_name(value)} {value!r}"
    if wanted in ("int", "float") and isinstance(value, bool):
        return f"{name} must be {_TYPE_NAMES[wanted]}, got {value!r}"
    if wanted == "list" and option.get("elements") in ("str", "int"):
        for index, item in enumerate(value):
            if isinstance(item, (list, dict)):
                return f"{name}[{index}] must be {_TYPE_NAMES[option['elements']]}, got {item!r}"
    return None


def _spec_for_validator(options):
    """The options without required/default: only what the inventory gives is checked."""
    spec = {}
    for name, option in options.items():
        entry = {k: option[k] for k in _SPEC_KEYS if k in option}
        if "options" in entry:
            entry["options"] = _spec_for_validator(entry["options"])
        spec[name] = entry
    return spec


def _validator_problems(name, value, option):
    validator = ArgumentSpecValidator(_spec_for_validator({name: option}))
    result = validator.validate({name: value})
    if result.errors and option.get("no_log"):
        return ["is not a valid value (not shown: it is a secret)"]
    return [str(error) for error in result.errors]


def _role_rules(role, values):
    """Rules of a role that need no host: k3s release tags, node labels, taints, tls-san.
    ``values`` maps an option to (the variable that gave it, its value)."""
    problems = []
    for name, (source, value) in values.items():
        if name.endswith("_version") and role in ("k3s_server", "k3s_agent"):
            if not _k3s.valid_version(value):
                problems.append(
                    f"{source} '{value}' is not a k3s release tag such as 'v1.34.9+k3s1' "
                    "(a version pinned with its +k3sN suffix; 'latest' and channels are refused)"
                )
        elif name.endswith("_node_labels") and isinstance(value, dict):
            problems += _k3s.invalid_labels(value, source)
        elif name.endswith("_node_taints") and isinstance(value, list):
            problems += _k3s.invalid_taints(value, source)
        elif name == "k3s_server_tls_san" and isinstance(value, list):
            problems += _k3s.invalid_sans(value, source)
    return problems


def host_problems(host, roles, variables, specs):
    """Every problem with the role variables ``variables`` gives for ``host``.

    ``variables`` maps variable names to their (templated) values, as the inventory gives them
    for the host; ``specs`` maps a role to ``load_role``'s result.
    """
    problems = []
    for role in roles:
        options, feeds = specs[role]
        values = {}
        for name, option in options.items():
            if name in variables:
                source, value = name, variables[name]
            elif name in feeds and feeds[name] in variables:
                source, value = f"{feeds[name]} (for {name})", variables[feeds[name]]
            else:
                continue
            shape = _shape_problem(source, value, option)
            if shape:
                problems.append(f"{host}: {shape}")
                continue
            found = _validator_problems(name, value, option)
            if found:
                prefix = f"{host}: " if source == name else f"{host}: {source}: "
                problems += [prefix + message for message in found]
                continue
            values[name] = (source, value)
        problems += [f"{host}: {message}" for message in _role_rules(role, values)]
    return problems


def inventory_problems(groups, read):
    """Every problem of every host of ``groups`` ({group: [hosts]}, with ``all``).

    ``read(host, names)`` returns the variables among ``names`` that the inventory gives for
    ``host`` ('localhost' for the controller's roles), templated to plain values.
    """
    plan = {host: roles_of(host, groups) for host in groups.get("all", [])}
    plan["localhost"] = list(CONTROLLER_ROLES)
    specs = {role: load_role(role) for roles in plan.values() for role in roles}
    problems = []
    for host, roles in plan.items():
        names = {n for role in roles for n in specs[role][0]}
        names |= {f for role in roles for f in specs[role][1].values()}
        problems += host_problems(host, roles, read(host, sorted(names)), specs)
    return problems
