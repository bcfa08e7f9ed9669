"""Every ingress rule list the collection plans is one cloudflared accepts and routes as meant.

Judged by the real cloudflared: ``cloudflared tunnel --config F ingress validate`` for each
planned rule list, and ``cloudflared tunnel --config F ingress rule https://HOST`` for each
public host, which must land on the plan's own rule for that host (a tcp/ssh host on its own
rule, never shadowed by the wildcard); a name the plan does not know lands on the wildcard
rule when there is one, else on the catch-all.

Rule lists come from ``playbooks/plan.yml`` on every example inventory (``config.yml`` in
local mode, ``cloudflare/tunnel.json`` in remote and pod mode; ``inventories/lab*`` need the
addresses ``scripts/lab`` generates and are planned by the lab's own tests), and from a
seeded sample of the random catalogues the unit property tests use.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from random_catalogues import random_tunnel_catalogue

REPO = Path(__file__).resolve().parents[3]


def edge(inventory):
    """The inventory's homelab_edge, read from its group_vars/all files."""
    for path in sorted(inventory.glob("group_vars/all/*.yml")):
        found = (yaml.safe_load(path.read_text()) or {}).get("homelab_edge")
        if found:
            return found
    return None


# The example inventories with a tunnel edge (planning the others, which plan no tunnel, would
# only cost time).
INVENTORIES = sorted(
    str(p.parent.relative_to(REPO))
    for p in REPO.glob("inventories/**/hosts.yml")
    if not p.parent.name.startswith("lab") and edge(p.parent) == "tunnel"
)
BASE = {
    "homelab_domain": "example.com",
    "homelab_edge": "tunnel",
    "homelab_ingress_address": "10.0.0.200",
}
SEEDS = range(1000, 1025)
UNKNOWN = "not-planned-7f3a.example.com"
MATCHED = re.compile(r"^Matched rule #(\d+)$", re.MULTILINE)


def cloudflared_says(binary, config, *args):
    proc = subprocess.run(
        [binary, "tunnel", "--config", config, "ingress", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def intended(rules, host):
    """The plan's rule for ``host``: its own; else the wildcard covering it; else the last."""
    for index, rule in enumerate(rules):
        if rule.get("hostname") == host:
            return index
    for index, rule in enumerate(rules):
        name = rule.get("hostname", "")
        if name.startswith("*.") and host.endswith(name[1:]):
            return index
    return len(rules) - 1


def judge(binary, cases):
    """Run every check of ``cases`` [(label, config, rules, hosts)] through cloudflared, a few
    processes at a time; returns the problems found."""
    jobs = []
    for label, config, rules, hosts in cases:
        jobs.append((label, config, None, None))
        jobs += [(label, config, host, intended(rules, host)) for host in [*hosts, UNKNOWN]]

    def run(job):
        label, config, host, want = job
        if host is None:
            rc, out = cloudflared_says(binary, config, "validate")
            return None if rc == 0 else f"{label}: cloudflared refuses the rules: {out}"
        rc, out = cloudflared_says(binary, config, "rule", f"https://{host}")
        found = MATCHED.search(out)
        if rc != 0 or not found:
            return f"{label}: 'ingress rule https://{host}' failed: {out}"
        if int(found.group(1)) != want:
            return f"{label}: {host} matched rule #{found.group(1)}, the plan meant #{want}: {out}"
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(run, jobs) if p]
    assert len(jobs) > len(cases), "no host was checked"
    return problems


def public_hosts(dns_records):
    return sorted(r["name"] for r in dns_records if r["content"].endswith(".cfargotunnel.com"))


def test_every_example_inventory(planned, cloudflared, tmp_path):
    cases = []
    assert len(INVENTORIES) >= 3, INVENTORIES
    for inventory in INVENTORIES:
        plan = planned(inventory)
        tunnel_json = plan / "cloudflare" / "tunnel.json"
        rules = json.loads(tunnel_json.read_text())["ingress"]
        hosts = public_hosts(json.loads((plan / "cloudflare" / "dns_records.json").read_text()))
        configs = sorted(plan.glob("hosts/*/etc/cloudflared/config.yml"))
        for config in configs:  # local mode: the file the role writes, as it is
            assert yaml.safe_load(config.read_text())["ingress"] == rules, config
            cases.append((f"{inventory} {config.relative_to(plan)}", config, rules, hosts))
        if not configs:  # remote and pod mode: the rules the module sends to Cloudflare
            config = tmp_path / f"{inventory.replace('/', '-')}.yml"
            config.write_text(yaml.safe_dump({"ingress": rules}, sort_keys=False))
            cases.append((f"{inventory} cloudflare/tunnel.json", config, rules, hosts))
    assert judge(cloudflared, cases) == []


def test_random_catalogues(module_utils, cloudflared, tmp_path):
    catalogue = module_utils("_catalogue")
    connector = module_utils("_cloudflared")
    cases = []
    for seed in SEEDS:
        data = random_tunnel_catalogue(random.Random(seed), BASE)
        plan = catalogue.build_plan(data)
        rules = plan["tunnel"]["ingress"]
        if plan["tunnel"]["mode"] == "local":
            content = connector.local_config(
                str(uuid.uuid4()), "/etc/cloudflared/credentials.json", rules
            )
        else:
            content = {"ingress": rules}
        config = tmp_path / f"seed-{seed}.yml"
        config.write_text(yaml.safe_dump(content, sort_keys=False))
        hosts = public_hosts(plan["dns_records"])
        public = [s for s in data["homelab_services"] if s["expose"] == "public"]
        expected = sorted({s["host"].lower().rstrip(".") for s in public})
        assert hosts == expected, seed
        cases.append((f"seed {seed}", config, rules, hosts))
    assert judge(cloudflared, cases) == []
