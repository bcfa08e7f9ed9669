"""Time playbooks/plan.yml on a generated catalogue (500 services unless told otherwise).

    python bench/plan_bench.py [--services N] [--edge tunnel|router|none] [--keep]

Writes a throw-away inventory and collection link into a temporary directory, runs the plan
with the ansible-playbook installed beside this Python, and prints the wall time. Not a test:
the target is well under 10 seconds for 500 services.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def catalogue(count, edge, seed=500):
    rng = random.Random(seed)
    services = []
    for i in range(count):
        protocol = rng.choice(["http", "http", "http", "https", "grpc", "passthrough"])
        if edge == "tunnel" and i % 25 == 0:
            protocol = rng.choice(["tcp", "ssh"])
        expose = "lan" if edge == "none" else rng.choice(["public", "lan"])
        if protocol == "passthrough" and edge == "tunnel":
            expose = "lan"
        service = {"name": f"svc-{i:03d}", "host": f"svc-{i:03d}.example.com", "expose": expose}
        service["protocol"] = protocol
        if protocol in ("tcp", "ssh"):
            service["expose"] = "public"
            service["origin"] = f"{protocol}://10.0.1.{i % 250 + 1}:{2000 + i}"
        else:
            service["namespace"] = f"team-{i % 20:02d}"
            service["port"] = 8000 + i
            if protocol != "passthrough" and i % 7 == 0:
                service["auth"] = "oauth2"
        services.append(service)
    return {
        "homelab_domain": "example.com",
        "homelab_edge": edge,
        "homelab_ingress_address": "10.0.0.200",
        "homelab_public_address": "203.0.113.7" if edge == "router" else None,
        "homelab_oauth2": {"url": "https://auth.example.com"},
        "homelab_services": services,
    }


def write_inventory(root, count, edge):
    inventory = root / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(
        "---\nall:\n  children:\n"
        "    k3s_servers:\n      hosts:\n        pi1:\n"
        "    cloudflared:\n      hosts:\n        pi1:\n"
        "    openwrt_routers:\n      hosts:\n        gw:\n"
    )
    # JSON is YAML: the catalogue file stays readable by ansible-inventory as it is.
    data = {k: v for k, v in catalogue(count, edge).items() if v is not None}
    (inventory / "group_vars" / "all" / "catalogue.yml").write_text(json.dumps(data, indent=1))
    return inventory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--edge", choices=["tunnel", "router", "none"], default="tunnel")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="plan-bench-"))
    try:
        namespace = root / "collections" / "ansible_collections" / "spitikos"
        namespace.mkdir(parents=True)
        (namespace / "homelab").symlink_to(REPO, target_is_directory=True)
        inventory = write_inventory(root, args.services, args.edge)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(root / "collections"))
        playbook = Path(sys.executable).parent / "ansible-playbook"
        command = [str(playbook), str(REPO / "playbooks/plan.yml"), "-i", str(inventory)]
        command += ["-e", f"plan_dir={root / 'plan'}"]
        start = time.monotonic()
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - start
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            return result.returncode
        files = sorted(p for p in (root / "plan").rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in files)
        print(
            f"plan.yml: {args.services} services, edge {args.edge}: {elapsed:.2f} s wall time "
            f"({len(files)} files, {size / 1024:.0f} KiB)"
        )
        if args.keep:
            print(f"kept: {root}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
