"""Requests and wall time of keeping 200 records in a 1,000-record zone, two ways.

    python bench/cloudflare_dns_bench.py [--zone-records 1000] [--owned 200] [--changed 50]

A Cloudflare API emulator (tests/integration/cloudflare_emulator, in this process, on loopback)
holds a zone of 1,000 records, 200 of them ours (the ownership marker in their comment), the rest
written by hand. Each tool starts from a fresh copy of that zone and runs twice through
ansible-playbook (the one beside this Python): (a) with the 200 records as they are, (b) with 50
of them changed (25 new addresses, 25 CNAMEs to another tunnel). The emulator counts the requests.

- spitikos.homelab.cloudflare_dns_records: one task with the 200 records.
- community.general.cloudflare_dns (from the `ansible` package installed beside this Python): one
  task looping over the 200 records, with `solo: true` (without it, a changed A record would be
  added beside the old one). That module hardcodes https://api.cloudflare.com/client/v4, so the
  bench copies its source into a temporary library directory with only that URL replaced by the
  emulator's, and runs the copy; nothing else of the module changes.

Prints one table. Not a test: the targets are at most 3 requests for (a) and 5 for (b) with
spitikos.homelab.cloudflare_dns_records.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from cloudflare_emulator import CloudflareEmulator

MARKER = "managed by spitikos.homelab"
ZONE = "example.com"
CG_MODULE = Path("ansible_collections/community/general/plugins/modules/cloudflare_dns.py")
CG_ENDPOINT = '"https://api.cloudflare.com/client/v4"'
TUNNEL = "6ff42ae2-765d-4adf-8112-31c55c1551ef"
OTHER_TUNNEL = "0b7e2c1d-1c4b-4a0e-9d59-3f0e7b7c9a11"


def owned_records(count):
    records = []
    for i in range(count):
        name = f"svc-{i:03d}.{ZONE}"
        comment = f"service svc-{i:03d}; {MARKER}"
        if i % 2 == 0:
            records.append(
                {
                    "name": name,
                    "type": "CNAME",
                    "content": f"{TUNNEL}.cfargotunnel.com",
                    "proxied": True,
                    "ttl": 1,
                    "comment": comment,
                }
            )
        else:
            records.append(
                {
                    "name": name,
                    "type": "A",
                    "content": "10.0.0.200",
                    "proxied": False,
                    "ttl": 1,
                    "comment": comment,
                }
            )
    return records


def foreign_records(count, seed=1000):
    rng = random.Random(seed)
    records = []
    for i in range(count):
        name = f"host-{i:03d}.{ZONE}"
        kind = rng.choice(["A", "A", "AAAA", "TXT", "CNAME"])
        record = {"name": name, "type": kind, "ttl": rng.choice([1, 300, 3600])}
        if kind == "A":
            record["content"] = f"192.0.2.{rng.randrange(1, 255)}"
        elif kind == "AAAA":
            record["content"] = f"2001:db8::{rng.randrange(1, 65535):x}"
        elif kind == "TXT":
            record["content"] = f'"note {rng.randrange(10**6)}"'
        else:
            record["content"] = f"target-{i}.example.net"
        if rng.random() < 0.3:
            record["comment"] = "hand-made"
        records.append(record)
    return records


def changed_records(records, count):
    """`count` records changed: half the A records get a new address, half the CNAMEs a new
    tunnel."""
    out = [dict(r) for r in records]
    a_records = [r for r in out if r["type"] == "A"][: count // 2]
    cnames = [r for r in out if r["type"] == "CNAME"][: count - len(a_records)]
    for record in a_records:
        record["content"] = "10.0.0.201"
    for record in cnames:
        record["content"] = f"{OTHER_TUNNEL}.cfargotunnel.com"
    return out


def fresh_zone(token, zone_records, owned):
    emulator = CloudflareEmulator(token=token).start()
    zone = emulator.add_zone(ZONE)
    for record in foreign_records(zone_records - len(owned)) + owned:
        emulator.add_record(zone["id"], **record)
    emulator.reset_calls()
    return emulator


def find_community_general():
    bases = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    for base in [*bases, *sys.path]:
        candidate = Path(base) / CG_MODULE
        if candidate.is_file():
            manifest = candidate.parents[2] / "MANIFEST.json"
            version = "?"
            if manifest.is_file():
                version = json.loads(manifest.read_text())["collection_info"]["version"]
            return candidate, version
    raise SystemExit("community.general.cloudflare_dns was not found (install `ansible`)")


def library_copy(source, base_url, library):
    """community.general.cloudflare_dns with only its hardcoded endpoint replaced."""
    text = source.read_text()
    if text.count(CG_ENDPOINT) != 1:
        raise SystemExit(f"{source}: expected the endpoint {CG_ENDPOINT} exactly once")
    library.mkdir(parents=True, exist_ok=True)
    (library / "cloudflare_dns_via_emulator.py").write_text(
        text.replace(CG_ENDPOINT, json.dumps(base_url))
    )


class Runner:
    def __init__(self, root):
        self.root = root
        self.runs = 0
        collections = root / "collections" / "ansible_collections" / "spitikos"
        collections.mkdir(parents=True)
        (collections / "homelab").symlink_to(REPO, target_is_directory=True)

    def env(self, library):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CLOUDFLARE"))}
        env.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": str(self.root / "collections"),
                "ANSIBLE_LIBRARY": str(library),
                "ANSIBLE_HOME": str(self.root / "home"),
                "ANSIBLE_LOCAL_TEMP": str(self.root / "tmp"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_DEPRECATION_WARNINGS": "0",
            }
        )
        return env

    def play(self, task, records, library):
        """Run one task on localhost; returns (wall seconds, changed count)."""
        self.runs += 1
        play = [
            {
                "name": "Cloudflare DNS bench",
                "hosts": "localhost",
                "gather_facts": False,
                "vars": {"ansible_python_interpreter": sys.executable},
                "tasks": [dict(task, register="bench")],
            }
        ]
        path = self.root / f"play{self.runs}.json"
        path.write_text(json.dumps(play))
        records_file = self.root / f"records{self.runs}.json"
        records_file.write_text(json.dumps({"bench_records": records}))
        playbook = Path(sys.executable).parent / "ansible-playbook"
        cmd = [str(playbook), "-i", "localhost,", "-c", "local", "-e", f"@{records_file}"]
        start = time.perf_counter()
        proc = subprocess.run(
            [*cmd, str(path)], capture_output=True, text=True, env=self.env(library), check=False
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"ansible-playbook failed:\n{proc.stdout}\n{proc.stderr}")
        recap = re.search(r"changed=(\d+)", proc.stdout)
        return wall, int(recap.group(1)) if recap else 0


def ours_task(emulator):
    return {
        "name": "spitikos.homelab.cloudflare_dns_records",
        "spitikos.homelab.cloudflare_dns_records": {
            "zone": ZONE,
            "records": "{{ bench_records }}",
            "api_token": emulator.token,
            "api_base_url": emulator.base_url,
        },
    }


def community_task(emulator):
    return {
        "name": "community.general.cloudflare_dns in a loop",
        "cloudflare_dns_via_emulator": {
            "zone": ZONE,
            "record": "{{ item.name }}",
            "type": "{{ item.type }}",
            "value": "{{ item.content }}",
            "proxied": "{{ item.proxied }}",
            "ttl": "{{ item.ttl }}",
            "comment": "{{ item.comment }}",
            "solo": True,
            "api_token": emulator.token,
        },
        "loop": "{{ bench_records }}",
        "loop_control": {"label": "{{ item.name }}"},
    }


def check_zone(emulator, zone_records, wanted):
    """The zone holds the wanted records once each, and every record of other people."""
    (zone_id,) = emulator.zones
    stored = emulator.zone_records(zone_id)
    keys = {(r["name"], r["type"], r["content"]) for r in stored}
    missing = [r["name"] for r in wanted if (r["name"], r["type"], r["content"]) not in keys]
    problems = []
    if missing:
        problems.append(f"missing: {missing[:5]}")
    if len(stored) != zone_records:
        problems.append(f"{len(stored)} records instead of {zone_records}")
    if emulator.validation_errors:
        problems.append(f"invalid requests: {emulator.validation_errors[:3]}")
    return "ok" if not problems else "; ".join(problems)


def bench(tool, make_task, runner, library, args, owned, changed):
    token = "cf-bench-" + secrets.token_hex(12)
    emulator = fresh_zone(token, args.zone_records, owned)
    rows = []
    try:
        if tool == "community.general.cloudflare_dns":
            library_copy(args.cg_source, emulator.base_url, library)
        for label, records in (("(a) unchanged", owned), (f"(b) {args.changed} changed", changed)):
            emulator.reset_calls()
            wall, changes = runner.play(make_task(emulator), records, library)
            calls = emulator.call_summary()
            rows.append(
                {
                    "tool": tool,
                    "run": label,
                    "requests": sum(calls.values()),
                    "by_endpoint": calls,
                    "wall": wall,
                    "changed": changes,
                    "zone": check_zone(emulator, args.zone_records, records),
                }
            )
    finally:
        emulator.stop()
    return rows


def print_table(rows):
    header = f"{'tool':<42} {'run':<15} {'requests':>8} {'wall s':>8}  zone after the run"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['tool']:<42} {row['run']:<15} {row['requests']:>8} {row['wall']:>8.1f}  "
            f"{row['zone']}"
        )
    print()
    for row in rows:
        calls = ", ".join(f"{k}: {v}" for k, v in row["by_endpoint"].items())
        print(f"{row['tool']} {row['run']}: {calls}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--zone-records", type=int, default=1000)
    parser.add_argument("--owned", type=int, default=200)
    parser.add_argument("--changed", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    args.cg_source, cg_version = find_community_general()

    owned = owned_records(args.owned)
    changed = changed_records(owned, args.changed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cloudflare-dns-bench-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        (root / "tmp").mkdir()
        runner = Runner(root)
        library = root / "library"
        library.mkdir()
        rows += bench(
            "spitikos.homelab.cloudflare_dns_records",
            ours_task,
            runner,
            library,
            args,
            owned,
            changed,
        )
        rows += bench(
            "community.general.cloudflare_dns",
            community_task,
            runner,
            library,
            args,
            owned,
            changed,
        )
    print(
        f"zone of {args.zone_records} records, {args.owned} of them ours; "
        f"community.general {cg_version}; ansible-playbook beside {sys.executable}\n"
    )
    print_table(rows)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
