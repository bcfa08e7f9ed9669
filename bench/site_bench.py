"""Time an unchanged second converge of the lab against the floor of the same hosts.

    scripts/lab up --no-converge   (or let this script start the lab and tear it down)
    .venv/newest/bin/python bench/site_bench.py [--services 10 100] [--repeat 3] [--keep-lab]

For each catalogue size, a generated catalogue replaces the lab's (``-e @file``): the site is
converged once to apply it, then again, timed; that second run must report no change. The floor
is bench/site_floor.yml: the same plays on the same hosts, gathering the same facts, with only a
ping in each. Both go over the lab's connection (SSH with sudo on the nodes unless the lab was
brought up with ``--connection podman``), are timed side by side in one run, alternately
``--repeat`` times (3 unless told), and the ratio of their medians printed. Not a test:
timings depend on the machine. The goal is a ratio within 3x that stays flat as the catalogue
grows.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

import lab  # tests/lab/lab.py, the code behind scripts/lab

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def catalogue(count):
    """``count`` services: public and LAN, http, https and gRPC, in the lab's zone."""
    services = []
    for i in range(count):
        protocol = ("http", "https", "grpc")[i % 3]
        service = {
            "name": f"svc{i:03d}",
            "host": f"svc{i:03d}.example.com",
            "expose": "public" if i % 2 == 0 else "lan",
            "protocol": protocol,
            "namespace": "bench",
            "port": {"http": 80, "https": 443, "grpc": 50051}[protocol],
        }
        services.append(service)
    return {"homelab_services": services}


def recap(output):
    """{host: (ok, changed, unreachable, failed)} from a PLAY RECAP."""
    hosts = {}
    for line in output.splitlines():
        match = RECAP.match(line)
        if match:
            hosts[match.group(1)] = tuple(int(g) for g in match.groups()[1:])
    return hosts


def timed(argv):
    started = time.monotonic()
    proc = subprocess.run(
        [str(a) for a in argv],
        cwd=REPO,
        env=lab.ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, time.monotonic() - started


def playbook(name, *extra):
    binary = Path(sys.executable).parent / "ansible-playbook"
    return timed([binary, name, "-i", lab.inventory(), *extra])


def must_pass(proc, what):
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit(f"{what} failed (exit {proc.returncode})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--repeat", type=int, default=3, help="timed pairs per catalogue size")
    parser.add_argument("--keep-lab", action="store_true", help="leave a lab this script started")
    args = parser.parse_args(argv)

    started_here = not lab.generated_file(lab.inventory()).exists()
    if started_here and lab.up(converge_too=False) != 0:
        raise SystemExit("the lab did not come up")
    rows = []
    try:
        for count in args.services:
            vars_file = lab.STATE / f"bench-{count}.yml"
            vars_file.write_text(yaml.safe_dump(catalogue(count), sort_keys=False))
            extra = ["-e", f"@{vars_file}"]
            first, first_s = playbook("site.yml", *extra)
            must_pass(first, f"first converge with {count} services")
            site_times, floor_times, changed = [], [], {}
            for _round in range(max(1, args.repeat)):
                again, seconds = playbook("site.yml", *extra)
                must_pass(again, f"unchanged converge with {count} services")
                site_times.append(seconds)
                changed.update({h: r[1] for h, r in recap(again.stdout).items() if r[1]})
                floor, seconds = playbook("bench/site_floor.yml")
                must_pass(floor, "the floor")
                floor_times.append(seconds)
            site_s, floor_s = statistics.median(site_times), statistics.median(floor_times)
            rows.append((count, first_s, site_s, floor_s, changed))
    finally:
        if started_here and not args.keep_lab:
            lab.down()

    print(f"connection: {lab.connection()}, edge: {lab.edge()}, {args.repeat} timed pairs")
    print(f"{'services':>8}  {'first':>8}  {'unchanged':>9}  {'floor':>7}  {'ratio':>5}  changes")
    for count, first_s, site_s, floor_s, changed in rows:
        print(
            f"{count:>8}  {first_s:>7.1f}s  {site_s:>8.1f}s  {floor_s:>6.1f}s  "
            f"{site_s / floor_s:>5.2f}  {changed or 'none'}"
        )
    if len(rows) > 1:
        growth = (rows[-1][2] / rows[-1][3]) / (rows[0][2] / rows[0][3])
        print(f"ratio growth from {rows[0][0]} to {rows[-1][0]} services: x{growth:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
