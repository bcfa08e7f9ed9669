"""A small stateful Kubernetes API emulator for the readiness module's tests.

It serves, over real HTTP on loopback, what ``spitikos.homelab.k8s_ready`` reads: the ``/api``
and ``/apis`` discovery documents, single objects by their REST path, and collections (with
``labelSelector`` and ``fieldSelector`` equality terms), plus plain-text pod logs. Every request
must carry the bearer token of the kubeconfig it writes.

State changes over time the way a cluster's does while add-ons install: an object is given as a
script of states, and each read of it (directly or through a list) moves it one step on, the
last state staying. ``None`` in a script means "not found yet". Anything but GET is refused with
405 and recorded in ``writes``, so a test can prove the module never changes anything.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

__all__ = ["K8sEmulator"]

BUILTIN_GROUPS = ("apps/v1", "batch/v1", "discovery.k8s.io/v1", "apiextensions.k8s.io/v1")


class _Scripted:
    def __init__(self, states):
        self.states = list(states)
        self.reads = 0

    def read(self):
        state = self.states[min(self.reads, len(self.states) - 1)]
        self.reads += 1
        return state


def _matches(obj, label_selector, field_selector):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (label_selector or "").split(",")):
        key, _sep, value = term.partition("=")
        if labels.get(key) != value:
            return False
    for term in filter(None, (field_selector or "").split(",")):
        key, _sep, value = term.partition("=")
        node = obj
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node != value:
            return False
    return True


class K8sEmulator:
    def __init__(self, groups=BUILTIN_GROUPS):
        self.groups = list(groups)
        self.token = "k8s-test-" + secrets.token_hex(8)
        self.objects: dict[str, _Scripted] = {}
        self.texts: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self.writes: list[tuple[str, str]] = []
        self._server = None
        self._thread = None

    # ------------------------------------------------------------------ state

    def put(self, path, *states):
        """Serve ``path`` as the given states, one step per read (``None``: not found)."""
        self.objects[path.rstrip("/")] = _Scripted(states or (None,))
        return self

    def put_text(self, path, text):
        self.texts[path.rstrip("/")] = text
        return self

    def reads(self, path):
        scripted = self.objects.get(path.rstrip("/"))
        return scripted.reads if scripted else 0

    # ------------------------------------------------------------------ HTTP

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubeconfig(self, path, token=None):
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {"token": token or self.token}}],
            "contexts": [
                {"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}
            ],
            "current-context": "emulator",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def start(self):
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status, body, content_type="application/json"):
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code, reason, message):
                return self._send(
                    code,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": reason,
                        "message": message,
                        "code": code,
                    },
                )

            def do_GET(self):
                emulator.requests.append(("GET", self.path))
                if self.headers.get("Authorization") != f"Bearer {emulator.token}":
                    return self._status(401, "Unauthorized", "Unauthorized")
                url = urlsplit(self.path)
                path = url.path.rstrip("/")
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if path == "/api":
                    return self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
                if path == "/apis":
                    return self._send(200, emulator.discovery())
                if path in emulator.texts:
                    return self._send(200, emulator.texts[path], "text/plain")
                if path in emulator.objects:
                    obj = emulator.objects[path].read()
                    if obj is None:
                        return self._status(404, "NotFound", f"{path} not found")
                    return self._send(200, obj)
                children = [p for p in emulator.objects if p.rpartition("/")[0] == path]
                if children or path.endswith(("/events", "/pods", "/endpointslices")):
                    items = []
                    for child in sorted(children):
                        obj = emulator.objects[child].read()
                        if obj is not None and _matches(
                            obj, query.get("labelSelector"), query.get("fieldSelector")
                        ):
                            items.append(obj)
                    return self._send(
                        200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
                    )
                return self._status(404, "NotFound", f"{path} not found")

            def _refuse(self):
                emulator.requests.append((self.command, self.path))
                emulator.writes.append((self.command, self.path))
                self._status(405, "MethodNotAllowed", "this emulator is read-only")

            do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def discovery(self):
        groups = {}
        for group_version in self.groups:
            name, _sep, version = group_version.partition("/")
            groups.setdefault(name, []).append({"groupVersion": group_version, "version": version})
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {"name": name, "versions": versions, "preferredVersion": versions[0]}
                for name, versions in groups.items()
            ],
        }
