"""The local lab: inventories/lab on podman system containers and two API emulators.

    lab.py up [--edge tunnel|router] [--connection ssh|podman] [--no-converge]
                                images, containers, emulators, stand-ins, generated vars;
                                converge; show
    lab.py converge [ARGS...]   ansible-playbook site.yml -i <the lab's inventory> ARGS...
    lab.py show                 what the converged lab proves, read back from the lab itself
    lab.py down                 containers, emulators and generated files removed

`scripts/lab` runs this with the newest virtualenv's Python; docs/lab.md says what is real and
what is emulated. Containers are named homelab-lab-<host> and labelled homelab.lab=1, their
images localhost/homelab-lab-node and localhost/homelab-lab-router are built FROM the shared
images (tests/lab/images/); nothing else is touched. Ansible reaches the containers over SSH
(the nodes as the user pi with sudo, the router as root), or with `--connection podman` over
podman's exec.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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
CONNECTION_FILE = STATE / "connection"
CONNECTIONS = ("ssh", "podman")
SSH_DIR = STATE / "ssh"
EMULATORS = REPO / "tests" / "integration"
K3S_VERSION = "v1.34.9+k3s1"
PREFIX = "homelab-lab-"
# The lab's images, each built FROM a shared image (left as it is) with the recipe in
# tests/lab/images/<kind>: kind -> (image, base image).
IMAGES = {
    "node": ("localhost/homelab-lab-node", "localhost/homelab-debian:12"),
    "router": ("localhost/homelab-lab-router", "localhost/homelab-router:test"),
}
BASE_IMAGES = tuple(base for _image, base in IMAGES.values())
# inventory host -> kind; the Debian nodes run systemd as PID 1, as in the molecule scenarios
HOSTS = {"pi1": "node", "pi2": "node", "gw": "router"}
# The nodes' login, as on Raspberry Pi OS: a user with sudo without a password.
NODE_USER = "pi"
ROUTER = "gw"
INGRESS_NODE = "pi1"
LAN_CLIENT = "pi2"
INGRESS_CERTS = "/etc/lab-ingress"
# The real cloudflared (scripts/oracles builds it from source) dials the fake edge in pi1.
CLOUDFLARED = REPO / ".cache" / "oracles" / "bin" / "cloudflared"
FAKE_EDGE = REPO / "tests" / "harness" / "fake_edge.py"
FAKE_EDGE_PORT = 7844
FAKE_EDGE_CA = "/etc/lab-fake-edge/ca.pem"
FAKE_EDGE_LOG = "/var/log/lab-fake-edge.jsonl"


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


def connection() -> str:
    """How Ansible reaches the running lab's hosts (ssh unless `up --connection podman`)."""
    try:
        return CONNECTION_FILE.read_text().strip()
    except FileNotFoundError:
        return "ssh"


def inventory() -> Path:
    return INVENTORIES[edge()]


def generated_file(inventory_dir: Path) -> Path:
    return inventory_dir / "group_vars" / "all" / "generated.yml"


def generated_host_file(inventory_dir: Path, host: str) -> Path:
    return inventory_dir / "host_vars" / host / "generated.yml"


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


def recipe_hash(directory: Path) -> str:
    """A digest of every file of a recipe directory: names, modes and contents."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory)}\0{path.stat().st_mode & 0o777:o}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def image_labels(image: str) -> dict | None:
    proc = run("podman", "image", "inspect", "--format", "{{json .Labels}}", image, check=False)
    return (json.loads(proc.stdout) or {}) if proc.returncode == 0 else None


def build_images() -> None:
    """Build each lab image whose base image or recipe changed since it was built (both are
    labels of the image)."""
    for kind, (image, base) in IMAGES.items():
        proc = run("podman", "image", "inspect", "--format", "{{.Id}}", base, check=False)
        if proc.returncode:
            raise SystemExit(f"{base} is missing: scripts/setup builds it")
        want = {
            "homelab.lab.base": proc.stdout.strip(),
            "homelab.lab.recipe": recipe_hash(HERE / "images" / kind),
        }
        have = image_labels(image) or {}
        if all(have.get(k) == v for k, v in want.items()):
            continue
        say(f"Building {image} from {base} (tests/lab/images/{kind})")
        argv = ["podman", "build", "--pull=never", "--tag", image, "--build-arg", f"BASE={base}"]
        for key, value in want.items():
            argv += ["--label", f"{key}={value}"]
        proc = run(*argv, HERE / "images" / kind, check=False)
        if proc.returncode:
            output = proc.stdout[-3000:] + proc.stderr[-3000:]
            raise SystemExit(f"building {image} failed:\n{output}")


def start_containers() -> None:
    for host, kind in HOSTS.items():
        name = container(host)
        if run("podman", "container", "exists", name, check=False).returncode == 0:
            run("podman", "start", name)
            continue
        argv = ["podman", "run", "-d", "--name", name, "--hostname", host]
        argv += ["--label", "homelab.lab=1"]
        if kind == "node":
            argv += ["--systemd", "always"]
        run(*argv, IMAGES[kind][0], "/sbin/init")
    deadline = time.monotonic() + 90
    for host, kind in HOSTS.items():
        probe = (
            "systemctl is-system-running 2>/dev/null | grep -Eq '^(running|degraded)$'"
            if kind == "node"
            # dropbear starts last (S50), once the router's other boot scripts have run
            else "pidof dropbear >/dev/null"
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


# -------------------------------------------------------------------------------------- ssh


def ssh_key() -> Path:
    """The lab's own key pair, made fresh for each lab (build/lab is removed by down)."""
    key = SSH_DIR / "id_ed25519"
    missing = [tool for tool in ("ssh", "ssh-keygen") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"{' and '.join(missing)} not found: install Debian's openssh-client")
    if not key.exists():
        SSH_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "homelab-lab", "-f", key)
    return key


def ssh_user(host: str) -> str:
    return "root" if HOSTS[host] == "router" else NODE_USER


def ssh_options() -> list[str]:
    """What every ssh of the lab uses: its key only, and its own known_hosts file, checked."""
    return [
        "-o", f"UserKnownHostsFile={SSH_DIR / 'known_hosts'}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "IdentitiesOnly=yes",
    ]  # fmt: skip


def authorize(host: str, public_key: str) -> str:
    """Put the lab's public key where the host's SSH server reads it; the host's public key
    (ed25519), once its server runs."""
    if HOSTS[host] == "router":
        # OpenWrt keeps root's keys in /etc/dropbear/authorized_keys (root's ~/.ssh links it).
        script = (
            "umask 077 && cat > /etc/dropbear/authorized_keys"
            " && dropbearkey -y -f /etc/dropbear/dropbear_ed25519_host_key | grep '^ssh-ed25519'"
        )
    else:
        home = f"/home/{NODE_USER}"
        script = (
            f"install -d -m 0700 -o {NODE_USER} -g {NODE_USER} {home}/.ssh"
            f" && install -m 0600 -o {NODE_USER} -g {NODE_USER} /dev/stdin"
            f" {home}/.ssh/authorized_keys"
            " && systemctl is-active --quiet ssh && cat /etc/ssh/ssh_host_ed25519_key.pub"
        )
    deadline = time.monotonic() + 60
    while True:
        proc = run("podman", "exec", "-i", container(host), "sh", "-c", script,
                   input=public_key, check=False)  # fmt: skip
        if proc.returncode == 0 and proc.stdout.strip():
            return " ".join(proc.stdout.split()[:2])
        if time.monotonic() > deadline:
            raise SystemExit(f"{container(host)}: no SSH server ({proc.stderr.strip()})")
        time.sleep(0.5)


def setup_ssh(addrs: dict) -> None:
    """Key pair, authorized keys, a known_hosts file with each host's own key (read from the
    container, not trusted on first use), then one login to each host."""
    key = ssh_key()
    public_key = key.with_suffix(".pub").read_text()
    lines = [f"{addrs[host]} {authorize(host, public_key)}\n" for host in HOSTS]
    (SSH_DIR / "known_hosts").write_text("".join(lines))
    for host in HOSTS:
        deadline = time.monotonic() + 30
        while True:
            proc = run("ssh", "-i", key, *ssh_options(), "-o", "BatchMode=yes",
                       "-o", "ConnectTimeout=5", f"{ssh_user(host)}@{addrs[host]}", "true",
                       check=False)  # fmt: skip
            if proc.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"ssh {ssh_user(host)}@{addrs[host]} failed: {proc.stderr}")
            time.sleep(0.5)


def ssh(host: str, command: str, check=False) -> subprocess.CompletedProcess:
    """Run a command on a lab host over SSH, as Ansible logs in."""
    target = f"{ssh_user(host)}@{addresses()[host]}"
    return run("ssh", "-i", ssh_key(), *ssh_options(), "-o", "BatchMode=yes", target, command,
               check=check)  # fmt: skip


def connection_vars(host: str, addrs: dict, how: str) -> dict:
    """The connection variables of one host (host_vars/<host>/generated.yml)."""
    node = HOSTS[host] == "node"
    if how == "podman":
        found = {"ansible_connection": "containers.podman.podman", "ansible_host": container(host)}
        if node:  # modules go over the exec's stdin instead of being copied first (podman cp)
            found["ansible_pipelining"] = True
        return found
    found = {
        "ansible_connection": "ssh",
        "ansible_host": addrs[host],
        "ansible_port": 22,
        "ansible_ssh_private_key_file": str(ssh_key()),
        "ansible_ssh_common_args": " ".join(ssh_options()),
    }
    if node:  # the router's user (root) is in group_vars/openwrt_routers, as for a home
        found.update(ansible_user=NODE_USER, ansible_pipelining=True)
    return found


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


def start_fake_edge() -> None:
    """tests/harness/fake_edge.py on pi1's loopback, and a lab-only drop-in that points the real
    cloudflared at it (see docs/lab.md: what the lab cannot prove)."""
    run("podman", "cp", FAKE_EDGE, f"{container(INGRESS_NODE)}:/usr/local/lib/lab-fake-edge.py")
    ca_dir = FAKE_EDGE_CA.rsplit("/", 1)[0]
    unit = (
        "[Unit]\nDescription=Lab stand-in for the Cloudflare edge (TLS on loopback)\n"
        "[Service]\nExecStart=/usr/bin/python3 /usr/local/lib/lab-fake-edge.py"
        f" --port {FAKE_EDGE_PORT} --ca-out {FAKE_EDGE_CA} --cert-dir /var/lib/lab-fake-edge"
        f" --log {FAKE_EDGE_LOG}\nRestart=always\n[Install]\nWantedBy=multi-user.target\n"
    )
    # After the role's override.conf (drop-ins are read in name order). cloudflared reads its
    # hidden --edge and --cacert flags from these variables too, so the role's command line is
    # left as the role wrote it. Type=simple: the real connector tells systemd it is ready only
    # once the edge has registered it, which the fake edge cannot do.
    drop_in = (
        "# Lab only (scripts/lab): the connector dials the fake edge on loopback.\n[Service]\n"
        "Type=simple\n"
        f"Environment=TUNNEL_EDGE=127.0.0.1:{FAKE_EDGE_PORT} TUNNEL_CACERT={FAKE_EDGE_CA}\n"
    )
    exec_in(
        INGRESS_NODE,
        f"mkdir -p {ca_dir} /etc/systemd/system/cloudflared.service.d"
        f" && python3 /usr/local/lib/lab-fake-edge.py --init --ca-out {FAKE_EDGE_CA}"
        f" --cert-dir /var/lib/lab-fake-edge >/dev/null && chmod 0644 {FAKE_EDGE_CA}"
        f" && cat > /etc/systemd/system/lab-fake-edge.service <<'EOF'\n{unit}EOF\n"
        f"cat > /etc/systemd/system/cloudflared.service.d/zz-lab-fake-edge.conf <<'EOF'\n"
        f"{drop_in}EOF\n"
        "systemctl daemon-reload && systemctl enable --now lab-fake-edge.service >/dev/null 2>&1",
    )


def cloudflared_artifact() -> dict:
    """The real cloudflared for the role's offline path: its path, sha256 and release."""
    if not CLOUDFLARED.exists():
        raise SystemExit(f"{CLOUDFLARED} is missing: scripts/setup builds it (scripts/oracles)")
    version = run(CLOUDFLARED, "--version").stdout.split()[2]
    digest = hashlib.sha256(CLOUDFLARED.read_bytes()).hexdigest()
    return {"path": str(CLOUDFLARED.resolve()), "sha256": digest, "version": version}


def write_generated(addrs: dict, cloudflare: dict, how: str) -> None:
    header = (
        "---\n# Written by scripts/lab up, removed by scripts/lab down; not part of the"
        " repository.\n"
    )
    data = {
        "lab_repo": str(REPO),
        "lab_state_dir": str(STATE),
        "lab_addresses": addrs,
        "lab_cloudflared": cloudflared_artifact(),
        "homelab_cloudflare_api_base_url": cloudflare["base_url"],
        "homelab_cloudflare_account_id": cloudflare["account_id"],
        "vault_cloudflare_api_token": cloudflare["token"],
    }
    generated_file(inventory()).write_text(header + yaml.safe_dump(data, sort_keys=True))
    for host in HOSTS:
        path = generated_host_file(inventory(), host)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + yaml.safe_dump(connection_vars(host, addrs, how), sort_keys=True))


def up(converge_too: bool, edge_name: str = "tunnel", how: str = "ssh") -> int:
    started = time.monotonic()
    STATE.mkdir(parents=True, exist_ok=True)
    if edge() != edge_name and any(generated_file(i).exists() for i in INVENTORIES.values()):
        raise SystemExit(f"a lab with the {edge()} edge is up: run scripts/lab down first")
    EDGE_FILE.write_text(edge_name + "\n")
    CONNECTION_FILE.write_text(how + "\n")
    build_images()
    say("Starting the containers " + ", ".join(container(h) for h in HOSTS))
    start_containers()
    addrs = addresses()
    say(
        f"SSH: a fresh key in {SSH_DIR.relative_to(REPO)}, authorized for {NODE_USER} on the"
        " nodes (sudo) and root on the router; the hosts' keys in its known_hosts"
    )
    setup_ssh(addrs)
    say("Starting the Cloudflare API and Kubernetes API emulators on loopback")
    cloudflare, _k8s = start_emulators()
    k3s_artifacts()
    say(f"Starting the ingress stand-in on {INGRESS_NODE} ({addrs[INGRESS_NODE]}:443)")
    start_ingress_standin(catalogue_hosts())
    if edge_name == "tunnel":
        say(f"Starting the fake Cloudflare edge on {INGRESS_NODE} (127.0.0.1:{FAKE_EDGE_PORT})")
        start_fake_edge()
    write_generated(addrs, cloudflare, how)
    print(
        f"lab up in {time.monotonic() - started:.0f}s, reached over {how}: {json.dumps(addrs)}",
        flush=True,
    )
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


def logins() -> dict:
    """Per host: who the lab's SSH login is, who sudo makes it (nodes), and how many key logins
    the host's SSH server has accepted for that user so far (its own log)."""
    found = {}
    for host, kind in HOSTS.items():
        user = ssh_user(host)
        if kind == "node":
            command = "id -un; sudo -n id -un"
            accepted = exec_in(host, "journalctl -q -u ssh --no-pager", check=False)
            count = accepted.count(f"Accepted publickey for {user} ")
        else:
            command = "id -un"
            accepted = exec_in(host, "cat /var/log/dropbear.log", check=False)
            count = accepted.count(f"Pubkey auth succeeded for '{user}'")
        proc = ssh(host, command)
        found[host] = {
            "as": " -> ".join(proc.stdout.split()) if proc.returncode == 0 else proc.stderr.strip(),
            "accepted": count,
        }
    return found


def fake_edge_seen() -> dict:
    """What the fake edge in pi1 recorded of the connector: TLS connections over TCP counted by
    SNI name, and the UDP datagrams (QUIC Initial packets) it got, with the sockets they came
    from and how long after the connector's first connection the last one came."""
    lines = exec_in(INGRESS_NODE, f"cat {FAKE_EDGE_LOG}", check=False).splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    opened = [e for e in events if e.get("event") == "open"]
    datagrams = [e for e in events if e.get("event") == "datagram"]
    tcp: dict[str, int] = {}
    for event in opened:
        tcp[event.get("sni") or "(no SNI)"] = tcp.get(event.get("sni") or "(no SNI)", 0) + 1
    first = min((e["time"] for e in events), default=0.0)
    return {
        "tcp": dict(sorted(tcp.items())),
        "tcp_open_now": len(opened) - sum(1 for e in events if e.get("event") == "close"),
        "udp_datagrams": len(datagrams),
        "udp_sockets": len({e["peer"] for e in datagrams}),
        "udp_last_after_s": round(max((e["time"] for e in datagrams), default=first) - first, 1),
    }


def collect() -> dict:
    """What the converged lab holds, read back from the emulators and the containers."""
    hosts = catalogue_hosts()
    common = {
        "edge": edge(),
        "connection": connection(),
        "logins": logins() if connection() == "ssh" else {},
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
                "version": exec_in(
                    INGRESS_NODE, "/usr/local/bin/cloudflared --version", check=False
                ).strip(),
                "ready": exec_in(
                    INGRESS_NODE,
                    'python3 -c "import urllib.request as u, urllib.error as e\n'
                    "try: a = u.urlopen('http://127.0.0.1:2000/ready', timeout=5)\n"
                    "except e.HTTPError as x: a = x\n"
                    'print(a.status, a.read().decode().strip())"',
                    check=False,
                ).strip(),
                "edge": fake_edge_seen(),
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
    if facts["logins"]:
        say("SSH logins (the lab's key; the servers' own logs count the accepted ones)")
        for host, login in facts["logins"].items():
            print(f"  {host:<4} {login['as']:<12} {login['accepted']} key logins accepted")
    else:
        say("Reached over podman exec (scripts/lab up --connection podman)")
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
    say("Connector on pi1 (the real cloudflared) and what the fake edge saw of it")
    print(f"  {c['version']}: {c['active']}, --protocol {c['protocol']}, /ready {c['ready']}")
    seen = c["edge"]
    names = ", ".join(f"{name} x{count}" for name, count in seen["tcp"].items())
    print(f"  TLS over TCP by SNI: {names}; {seen['tcp_open_now']} held open now")
    print(
        f"  UDP: {seen['udp_datagrams']} QUIC datagrams from {seen['udp_sockets']} sockets, the"
        f" last {seen['udp_last_after_s']} s after the connector's first packet (its start-up"
        " connectivity pre-check probes QUIC whatever --protocol says)"
    )


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
        for path in (
            generated_file(inventory_dir),
            *[generated_host_file(inventory_dir, host) for host in HOSTS],
        ):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            with contextlib.suppress(OSError):  # host_vars/<host>/, when nothing else is in it
                if path.parent.name in HOSTS:
                    path.parent.rmdir()
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
    command.add_argument("--connection", choices=CONNECTIONS, default="ssh")
    commands.add_parser("converge").add_argument("args", nargs=argparse.REMAINDER)
    commands.add_parser("show")
    commands.add_parser("down")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["converge"]:  # everything after it goes to ansible-playbook as it is
        return converge(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(not args.no_converge, args.edge, args.connection)
    if args.command == "show":
        show()
        return 0
    return down()


if __name__ == "__main__":
    sys.exit(main())
