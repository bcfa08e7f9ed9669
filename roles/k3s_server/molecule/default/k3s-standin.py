# Stand-in for the k3s binary in the molecule scenarios; no real k3s can be downloaded there.
# The scenario's prepare step adds a python3 shebang, replaces @VERSION@ and puts the result
# in a local artifact directory next to a sha256sum file, as the release would.
#   k3s --version          prints the version line k3s prints
#   k3s server|agent ...   records its arguments and environment, writes what k3s writes
#                          (join token, kubeconfig), tells systemd it is ready, then waits
#   kubectl/crictl/ctr     (through the symlinks) accept anything and exit 0
"""A k3s stand-in: records how it was started and stays up like the real service."""

import json
import os
import signal
import socket
import sys
import time

VERSION = "@VERSION@"
RECORD_DIR = "/var/lib/homelab-standin"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    certificate-authority-data: c3RhbmQtaW4tY2E=
    server: https://127.0.0.1:6443
users:
- name: default
  user:
    client-certificate-data: c3RhbmQtaW4tY2VydA==
    client-key-data: c3RhbmQtaW4ta2V5
contexts:
- name: default
  context:
    cluster: default
    user: default
current-context: default
preferences: {}
"""


def write(path, text, mode):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


def notify_ready():
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", address)


def run(mode, args):
    os.makedirs(RECORD_DIR, exist_ok=True)
    record = {
        "mode": mode,
        "version": VERSION,
        "argv": [mode, *args],
        "env": {k: v for k, v in os.environ.items() if k.startswith(("K3S_", "HTTP", "NO_"))},
        "pid": os.getpid(),
        "time": time.time(),
    }
    with open(f"{RECORD_DIR}/starts.log", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
    write(f"{RECORD_DIR}/current.json", json.dumps(record, sort_keys=True), 0o600)
    token = os.environ.get("K3S_TOKEN", "")
    if mode == "server":
        full = f"K10standin::server:{token}\n"
        write("/var/lib/rancher/k3s/server/token", full, 0o600)
        write("/var/lib/rancher/k3s/server/node-token", full, 0o600)
        write("/etc/rancher/k3s/k3s.yaml", KUBECONFIG, 0o600)
    os.makedirs("/var/lib/rancher/k3s/agent", exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    notify_ready()
    while True:
        signal.pause()


def main():
    name = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    if name != "k3s" and not name.startswith("k3s-"):
        return 0  # kubectl, crictl, ctr through their symlinks
    if not args or args[0] in ("--version", "-v", "version"):
        print(f"k3s version {VERSION} (standin)")
        print("go version go1.25.0")
        return 0
    if args[0] in ("server", "agent"):
        run(args[0], args[1:])
    if args[0] == "kubectl":
        return 0
    print(f"k3s stand-in: unsupported command {args[0]}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
