"""The local lab: inventories/lab on podman system containers and two API emulators.

    lab.py up [--edge tunnel|router] [--no-converge]
                                containers, emulators, stand-ins, generated.yml; converge; show
    lab.py converge [ARGS...]   ansible-playbook site.yml -i <the lab's inventory> ARGS...
    lab.py show                 what the converged lab proves, read back from the lab itself
    lab.py down                 containers, emulators and generated files removed

`scripts/lab` runs this with the newest virtualenv's Python; docs/lab.md says what is real and
what is emulated. Containers are named homelab-lab-<host> and labelled homelab.lab=1; nothing
else is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "tests" / "lab"
# homelab_edge -> the lab's inventory; `up --edge` chooses, and the choice is kept in STATE
INVENTORIES = {
    "tunnel": REPO / "inventories" / "lab",
    "router": REPO / "inventories" / "lab-router",
}
INVENTORY = INVENTORIES["tunnel"]
STATE = REPO / "build" / "lab"
EDGE_FILE = STATE / "edge"
EMULATORS = REPO / "tests" / "integration"
K3S_VERSION = "v1.34.9+k3s1"
PREFIX = "homelab-lab-"
# inventory host -> image; the Debian nodes run systemd as PID 1, as in the molecule scenarios
HOSTS = {
    "pi1": "localhost/homelab-debian:12",
    "pi2": "localhost/homelab-debian:12",
    "gw": "localhost/homelab-router:test",
}
ROUTER = "gw"
INGRESS_NODE = "pi1"
LAN_CLIENT = "pi2"
INGRESS_CERTS = "/etc/lab-ingress"


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


def run(*argv, check=True, capture=True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in argv], check=check, capture_output=capture, text=True, **kwargs
    )


def container(host: str) -> str:
    return PREFIX + host


def exec_in(host: str, command: str, check=True) -> str:
    """Run a shell command in a lab container; its stdout."""
    return run("podman", "exec", container(host), "sh", "-c", command, check=check).stdout


def ansible_env() -> dict:
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
        ANSIBLE_HOME=str(REPO / ".cache" / "ansible"),
        ANSIBLE_FORCE_COLOR=env.get("ANSIBLE_FORCE_COLOR", "0"),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )
    return env


def edge() -> str:
    """The edge of the running lab (tunnel unless `up --edge router` made it)."""
    try:
        return EDGE_FILE.read_text().strip()
    except FileNotFoundError:
        return "tunnel"


def inventory() -> Path:
    return INVENTORIES[edge()]


def generated_file(inventory_dir: Path) -> Path:
    return inventory_dir / "group_vars" / "all" / "generated.yml"


def catalogue_hosts() -> list[str]:
    data = yaml.safe_load((inventory() / "group_vars" / "all" / "catalogue.yml").read_text())
    return [service["host"] for service in data["homelab_services"]]


# --------------------------------------------------------------------------------------- up


def k3s_artifacts() -> Path:
    """The k3s stand-in as an air-gapped release directory, as the k3s_server scenario makes it
    (under the release's names for amd64 and arm64: the stand-in is Python)."""
    directory = STATE / "artifacts" / K3S_VERSION
    directory.mkdir(parents=True, exist_ok=True)
    source = (REPO / "roles/k3s_server/molecule/default/k3s-standin.py").read_text()
    for arch, name in (("amd64", "k3s"), ("arm64", "k3s-arm64")):
        binary = directory / name
        binary.write_text("#!/usr/bin/env python3\n" + source.replace("@VERSION@", K3S_VERSION))
        binary.chmod(0o755)
        digest = run("sha256sum", binary).stdout.split()[0]
        (directory / f"sha256sum-{arch}.txt").write_text(
            f"{'0' * 64}  k3s-airgap-images-{arch}.tar.zst\n{digest}  {name}\n"
        )
    return directory


def start_containers() -> None:
    for host, image in HOSTS.items():
        name = container(host)
        if run("podman", "container", "exists", name, check=False).returncode == 0:
            run("podman", "start", name)
            continue
        argv = ["podman", "run", "-d", "--name", name, "--hostname", host]
        argv += ["--label", "homelab.lab=1"]
        if "homelab-debian" in image:
            argv += ["--systemd", "always"]
        run(*argv, image, "/sbin/init")
    deadline = time.monotonic() + 90
    for host, image in HOSTS.items():
        probe = (
            "systemctl is-system-running 2>/dev/null | grep -Eq '^(running|degraded)$'"
            if "homelab-debian" in image
            else "pidof dnsmasq >/dev/null"
        )
        while run("podman", "exec", container(host), "sh", "-c", probe, check=False).returncode:
            if time.monotonic() > deadline:
                raise SystemExit(f"{container(host)} did not finish booting")
            time.sleep(0.5)


def addresses() -> dict:
    return {
        host: run(
            "podman", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", container(host)
        ).stdout.strip()
        for host in HOSTS
    }


def start_emulators() -> tuple[dict, dict]:
    cloudflare = json.loads(
        run(
            sys.executable, "-m", "cloudflare_emulator", "start",
            "--state-file", STATE / "cloudflare.json",
            "--seed", HERE / "cloudflare-seed.json",
            "--log", STATE / "cloudflare.log",
            cwd=EMULATORS,
        ).stdout
    )  # fmt: skip
    k8s = json.loads(
        run(
            sys.executable, "-m", "k8s_emulator", "start",
            "--state-file", STATE / "k8s.json",
            "--seed", HERE / "k8s-seed.json",
            "--kubeconfig", STATE / "k8s-emulator.kubeconfig",
            "--log", STATE / "k8s.log",
            cwd=EMULATORS,
        ).stdout
    )  # fmt: skip
    return cloudflare, k8s


def start_ingress_standin(names: list[str]) -> None:
    """HTTPS on pi1:443 with one certificate per catalogue host (see ingress-standin.py)."""
    run("podman", "cp", HERE / "ingress-standin.py",
        f"{container(INGRESS_NODE)}:/usr/local/lib/lab-ingress-standin.py")  # fmt: skip
    certs = " ".join(["k8s-ingress", *names])
    exec_in(
        INGRESS_NODE,
        f"mkdir -p {INGRESS_CERTS} && cd {INGRESS_CERTS} && for n in {certs}; do "
        '[ -f "$n.crt" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 '
        '-nodes -days 30 -subj "/CN=$n" -keyout "$n.key" -out "$n.crt" 2>/dev/null; done',
    )
    unit = (
        "[Unit]\nDescription=Lab stand-in for the ingress controller (TLS per host name)\n"
        "[Service]\nExecStart=/usr/bin/python3 /usr/local/lib/lab-ingress-standin.py "
        f"{INGRESS_CERTS} 443\nRestart=always\n[Install]\nWantedBy=multi-user.target\n"
    )
    exec_in(
        INGRESS_NODE,
        f"cat > /etc/systemd/system/lab-ingress.service <<'EOF'\n{unit}EOF\n"
        "systemctl daemon-reload && systemctl enable --now lab-ingress.service >/dev/null 2>&1",
    )


def write_generated(addrs: dict, cloudflare: dict) -> None:
    data = {
        "lab_repo": str(REPO),
        "lab_state_dir": str(STATE),
        "lab_addresses": addrs,
        "homelab_cloudflare_api_base_url": cloudflare["base_url"],
        "homelab_cloudflare_account_id": cloudflare["account_id"],
        "vault_cloudflare_api_token": cloudflare["token"],
    }
    generated_file(inventory()).write_text(
        "---\n# Written by scripts/lab up, removed by scripts/lab down; not part of the"
        " repository.\n" + yaml.safe_dump(data, sort_keys=True)
    )


def up(converge_too: bool, edge_name: str = "tunnel") -> int:
    started = time.monotonic()
    STATE.mkdir(parents=True, exist_ok=True)
    if edge() != edge_name and any(generated_file(i).exists() for i in INVENTORIES.values()):
        raise SystemExit(f"a lab with the {edge()} edge is up: run scripts/lab down first")
    EDGE_FILE.write_text(edge_name + "\n")
    say("Starting the containers " + ", ".join(container(h) for h in HOSTS))
    start_containers()
    addrs = addresses()
    say("Starting the Cloudflare API and Kubernetes API emulators on loopback")
    cloudflare, _k8s = start_emulators()
    k3s_artifacts()
    say(f"Starting the ingress stand-in on {INGRESS_NODE} ({addrs[INGRESS_NODE]}:443)")
    start_ingress_standin(catalogue_hosts())
    write_generated(addrs, cloudflare)
    print(f"lab up in {time.monotonic() - started:.0f}s: {json.dumps(addrs)}", flush=True)
    if not converge_too:
        return 0
    rc = converge([])
    if rc == 0:
        show()
    return rc


# --------------------------------------------------------------------------------- converge


def converge(extra: list[str], capture: bool = False) -> int | subprocess.CompletedProcess:
    where = inventory()
    say(f"ansible-playbook site.yml -i {where.relative_to(REPO)} " + " ".join(extra))
    started = time.monotonic()
    argv = [Path(sys.executable).parent / "ansible-playbook", "site.yml", "-i", where, *extra]
    if capture:
        proc = subprocess.run(
            [str(a) for a in argv],
            cwd=REPO,
            env=ansible_env(),
            text=True,
            capture_output=True,
            check=False,
        )
        proc.seconds = time.monotonic() - started
        return proc
    rc = subprocess.run([str(a) for a in argv], cwd=REPO, env=ansible_env(), check=False).returncode
    print(f"converge finished in {time.monotonic() - started:.0f}s (rc {rc})", flush=True)
    return rc


# ------------------------------------------------------------------------------------- show


def cloudflare_get(path: str, **query):
    state = json.loads((STATE / "cloudflare.json").read_text())
    answer = httpx.get(
        state["base_url"] + path,
        params=query,
        headers={"Authorization": f"Bearer {state['token']}"},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["result"]


def zone_records(zone: str = "example.com") -> list[dict]:
    (found,) = cloudflare_get("/zones", name=zone)
    records = cloudflare_get(f"/zones/{found['id']}/dns_records", per_page=5000)
    keys = ("name", "type", "content", "proxied", "ttl", "comment")
    return sorted(({k: r.get(k) for k in keys} for r in records), key=lambda r: r["name"])


def tunnels() -> list[dict]:
    account = json.loads((STATE / "cloudflare.json").read_text())["account_id"]
    found = cloudflare_get(f"/accounts/{account}/cfd_tunnel", is_deleted="false")
    return [{"id": t["id"], "name": t["name"]} for t in found]


def lan_answer(name: str) -> str:
    gw = addresses()[ROUTER]
    return exec_in(ROUTER, f"dig @{gw} {name} A +short +time=2 +tries=2", check=False).strip()


def tls_subject(address: str, name: str) -> str:
    """The certificate subject a LAN client gets for NAME at ADDRESS:443."""
    out = exec_in(
        LAN_CLIENT,
        f"openssl s_client -connect {address}:443 -servername {name} </dev/null 2>/dev/null"
        " | openssl x509 -noout -subject",
        check=False,
    )
    return out.strip().replace(" ", "")


def origin_answer(rule: dict) -> str:
    """What the connector's host gets from the origin of an https rule, asked the way cloudflared
    asks it (the rule's address, the public name as SNI and Host, no certificate check)."""
    service = rule["service"]
    address = service.split("://", 1)[1]
    name = rule["hostname"]
    return exec_in(
        INGRESS_NODE,
        f"curl -sk --max-time 5 --connect-to {name}:443:{address} https://{name}/",
        check=False,
    ).strip()


def router_subject(name: str) -> str:
    """The certificate subject a client asking the router's :443 for NAME gets (HAProxy passes
    the TLS connection on by its SNI name, untouched)."""
    return tls_subject(addresses()[ROUTER], name)


def collect() -> dict:
    """What the converged lab holds, read back from the emulators and the containers."""
    hosts = catalogue_hosts()
    common = {
        "edge": edge(),
        "dns_records": zone_records(),
        "k3s": {
            "server": exec_in("pi1", "systemctl is-active k3s", False).strip(),
            "agent": exec_in("pi2", "systemctl is-active k3s-agent", False).strip(),
            "manifests": exec_in("pi1", "ls /var/lib/rancher/k3s/server/manifests", False).split(),
        },
        "lan_dns": {name: lan_answer(name) for name in hosts},
        "ingress_address": addresses()[INGRESS_NODE],
    }
    if edge() == "router":
        config = exec_in(ROUTER, "cat /etc/haproxy.cfg", check=False)
        return dict(
            common,
            sni_routes=[
                line.strip()
                for line in config.splitlines()
                if line.strip().startswith("use_backend")
            ],
            backends=[
                line.strip() for line in config.splitlines() if line.strip().startswith("server ")
            ],
            via_router={name: router_subject(name) for name in [*hosts, "unknown.example.org"]},
        )
    config = yaml.safe_load(exec_in(INGRESS_NODE, "cat /etc/cloudflared/config.yml"))
    exec_start = exec_in(
        INGRESS_NODE, "systemctl show cloudflared -p ExecStart --value", check=False
    )
    return dict(
        common,
        **{
            "tunnels": tunnels(),
            "tunnel_rules": config.get("ingress", []),
            "origins": {
                rule["hostname"]: origin_answer(rule)
                for rule in config.get("ingress", [])
                if rule.get("service", "").startswith("https://") and rule.get("hostname")
            },
            "connector": {
                "active": exec_in(INGRESS_NODE, "systemctl is-active cloudflared", False).strip(),
                "protocol": exec_start.split("--protocol", 1)[-1].split()[0]
                if "--protocol" in exec_start
                else None,
                "ready": exec_in(
                    INGRESS_NODE,
                    'python3 -c "import urllib.request as u;'
                    " print(u.urlopen('http://127.0.0.1:2000/ready').read().decode())\"",
                    check=False,
                ).strip(),
            },
        },
    )


def show() -> dict:
    facts = collect()
    say("Cloudflare zone example.com (emulator)")
    for r in facts["dns_records"]:
        flag = "proxied" if r["proxied"] else "dns-only"
        print(f"  {r['name']:<24} {r['type']:<5} {r['content']:<48} {flag:<8} {r['comment']}")
    if facts["edge"] == "router":
        show_router(facts)
    else:
        show_tunnel(facts)
    k = facts["k3s"]
    say("k3s (stand-in) and the add-ons")
    print(f"  pi1 k3s {k['server']}, pi2 k3s-agent {k['agent']}")
    print(f"  auto-deploy manifests on pi1: {' '.join(k['manifests'])}")
    say(f"LAN DNS from the router's dnsmasq, then TLS from {LAN_CLIENT} to the answer")
    for name, answer in facts["lan_dns"].items():
        subject = tls_subject(answer, name) if answer else "-"
        print(f"  {name:<24} A {answer or '(no answer)':<15} TLS {subject}")
    return facts


def show_router(facts: dict) -> None:
    say("SNI routes in the router's /etc/haproxy.cfg")
    for line in facts["sni_routes"] + facts["backends"]:
        print(f"  {line}")
    say(f"TLS through the router's HAProxy ({addresses()[ROUTER]}:443) from {LAN_CLIENT}")
    for name, subject in facts["via_router"].items():
        print(f"  {name:<24} {subject or '(refused: no route for this name)'}")


def show_tunnel(facts: dict) -> None:
    say("Tunnel (emulator) and its rules (/etc/cloudflared/config.yml on pi1)")
    for t in facts["tunnels"]:
        print(f"  tunnel {t['name']} {t['id']}")
    for rule in facts["tunnel_rules"]:
        origin = rule.get("originRequest") or {}
        print(f"  {rule.get('hostname', '(catch-all)'):<24} -> {rule['service']} {origin or ''}")
    say("The https rules followed from pi1, as cloudflared dials them (SNI and Host = hostname)")
    for name, answer in facts["origins"].items():
        print(f"  {name:<24} {answer or '(no answer)'}")
    c = facts["connector"]
    say("Connector on pi1")
    print(f"  cloudflared {c['active']}, --protocol {c['protocol']}, /ready {c['ready']}")


# ------------------------------------------------------------------------------------- down


def down() -> int:
    for host in HOSTS:
        name = container(host)
        if run("podman", "container", "exists", name, check=False).returncode == 0:
            say(f"Removing {name}")
            run("podman", "rm", "-f", "-t", "2", name)
    rc = 0
    for module, state in (("cloudflare_emulator", "cloudflare.json"), ("k8s_emulator", "k8s.json")):
        proc = run(sys.executable, "-m", module, "stop", "--state-file", STATE / state,
                   cwd=EMULATORS, check=False)  # fmt: skip
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            rc = 1
    for inventory_dir in INVENTORIES.values():
        with contextlib.suppress(FileNotFoundError):
            generated_file(inventory_dir).unlink()
    shutil.rmtree(STATE, ignore_errors=True)
    say("Lab removed")
    return rc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/lab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("up")
    command.add_argument("--no-converge", action="store_true")
    command.add_argument("--edge", choices=sorted(INVENTORIES), default="tunnel")
    commands.add_parser("converge").add_argument("args", nargs=argparse.REMAINDER)
    commands.add_parser("show")
    commands.add_parser("down")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["converge"]:  # everything after it goes to ansible-playbook as it is
        return converge(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(not args.no_converge, args.edge)
    if args.command == "show":
        show()
        return 0
    return down()


if __name__ == "__main__":
    sys.exit(main())
