"""A stateful Cloudflare API emulator on the standard library's HTTP server."""

from __future__ import annotations

import base64
import copy
import json
import math
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .openapi import BATCH_TEMPLATE, Spec, ValidationFailure

API_PREFIX = "/client/v4"
PROXIABLE = {"A", "AAAA", "CNAME"}
BATCH_LIMIT = 200


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hex_id() -> str:
    return uuid.uuid4().hex


class ApiError(Exception):
    """An error the emulated API answers with (Cloudflare's envelope)."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Fault:
    def __init__(self, method, template, status, times, retry_after, delay, apply, fail_at):
        self.method = method
        self.template = template
        self.status = status
        self.remaining = times
        self.retry_after = retry_after
        self.delay = delay
        self.apply = apply
        self.fail_at = fail_at

    def matches(self, method: str, template: str) -> bool:
        return (
            self.remaining > 0
            and self.method in (None, method)
            and self.template in (None, template)
        )


class CloudflareEmulator:
    """State, behaviour and test hooks; `start()` serves it over HTTP."""

    def __init__(self, token: str, account_id: str | None = None):
        self.token = token
        self.account_id = account_id or _hex_id()
        self.spec = Spec()
        self.lock = threading.RLock()
        self.zones: dict[str, dict] = {}
        self.records: dict[str, dict[str, dict]] = {}
        self.tunnels: dict[str, dict] = {}
        self.tunnel_secrets: dict[str, str] = {}
        self.configs: dict[str, dict] = {}
        self.connections: dict[str, list] = {}
        self.counts: Counter = Counter()
        self.log: list[dict] = []
        self.validation_errors: list[str] = []
        self.faults: list[Fault] = []
        self.max_per_page: int | None = None
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self, port: int = 0) -> CloudflareEmulator:
        """Serve on 127.0.0.1:`port` (0: a free port, see `base_url`)."""
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    # ---------------------------------------------------------------- test hooks
    def add_zone(self, name: str, zone_id: str | None = None) -> dict:
        zone_id = zone_id or _hex_id()
        zone = {
            "id": zone_id,
            "name": name.lower(),
            "status": "active",
            "paused": False,
            "type": "full",
            "development_mode": 0,
            "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
            "original_name_servers": None,
            "original_registrar": None,
            "original_dnshost": None,
            "created_on": _now(),
            "modified_on": _now(),
            "activated_on": _now(),
            "account": {"id": self.account_id, "name": "Home lab"},
            "owner": {"id": self.account_id, "type": "user", "email": "owner@example.com"},
            "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
            "meta": {
                "step": 2,
                "custom_certificate_quota": 0,
                "page_rule_quota": 3,
                "phishing_detected": False,
            },
            "plan": {
                "id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                "name": "Free Website",
                "price": 0,
                "currency": "USD",
                "frequency": "",
                "is_subscribed": False,
                "can_subscribe": False,
                "legacy_id": "free",
                "legacy_discount": False,
                "externally_managed": False,
            },
        }
        with self.lock:
            self.zones[zone_id] = zone
            self.records[zone_id] = {}
        return zone

    def add_record(self, zone_id: str, **fields) -> dict:
        with self.lock:
            return copy.deepcopy(self._create_record(self.records[zone_id], zone_id, fields))

    def zone_records(self, zone_id: str) -> list[dict]:
        with self.lock:
            return copy.deepcopy(
                sorted(
                    self.records[zone_id].values(),
                    key=lambda r: (r["name"], r["type"], r["content"]),
                )
            )

    def add_tunnel(self, name: str, remote: bool = False, secret: str | None = None) -> dict:
        with self.lock:
            return copy.deepcopy(
                self._create_tunnel(
                    {
                        "name": name,
                        "config_src": "cloudflare" if remote else "local",
                        "tunnel_secret": secret or base64.b64encode(b"s" * 32).decode(),
                    }
                )
            )

    def add_connection(self, tunnel_id: str) -> dict:
        conn = {
            "id": str(uuid.uuid4()),
            "arch": "linux_arm64",
            "version": "2024.8.2",
            "run_at": _now(),
            "config_version": 0,
            "features": ["ha-origin"],
            "conns": [
                {
                    "id": str(uuid.uuid4()),
                    "uuid": str(uuid.uuid4()),
                    "colo_name": "FRA",
                    "is_pending_reconnect": False,
                    "opened_at": _now(),
                    "origin_ip": "198.51.100.7",
                    "client_id": str(uuid.uuid4()),
                    "client_version": "2024.8.2",
                }
            ],
        }
        with self.lock:
            self.connections.setdefault(tunnel_id, []).append(conn)
            tunnel = self.tunnels[tunnel_id]
            tunnel["status"] = "healthy"
            tunnel["conns_active_at"] = _now()
        return conn

    def tunnel_secret(self, tunnel_id: str) -> str:
        return self.tunnel_secrets[tunnel_id]

    def inject_fault(
        self,
        status: int | None = 429,
        times: int = 1,
        method: str | None = None,
        template: str | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
        apply: bool = False,
        fail_at: int | None = None,
    ) -> None:
        """Make the next `times` matching requests fail.

        status: HTTP status to answer with (429, 500, 503...); None with `delay` only slows down.
        retry_after: seconds for the Retry-After header.
        delay: seconds to wait before answering (longer than the client timeout = a timeout).
        apply: process the request before failing (the change happens, the answer is lost).
        fail_at: batch only: the operation (0-based, in execution order) that fails; the whole
            batch is rolled back and answered with 400.
        """
        with self.lock:
            self.faults.append(
                Fault(method, template, status, times, retry_after, delay, apply, fail_at)
            )

    def calls(self, method: str | None = None, template: str | None = None) -> int:
        with self.lock:
            return sum(
                n
                for (m, t), n in self.counts.items()
                if method in (None, m) and template in (None, t)
            )

    def call_summary(self) -> dict:
        with self.lock:
            return {f"{m} {t}": n for (m, t), n in sorted(self.counts.items())}

    def reset_calls(self) -> None:
        with self.lock:
            self.counts.clear()
            self.log.clear()

    # ---------------------------------------------------------------- request handling
    def handle(self, method: str, raw_path: str, headers, body_bytes: bytes):
        """Return (status, payload, extra headers); validation happens here."""
        parts = urlsplit(raw_path)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        if not path.startswith(API_PREFIX + "/"):
            return self._error(404, 7000, "No route for that URI")
        path = path[len(API_PREFIX) :]
        op, params = self.spec.match(method, path)
        if op is None:
            status, code = (405, 7001) if params == "method not allowed" else (404, 7000)
            self._record_invalid(f"{method} {path}: {params}")
            return self._error(status, code, params)
        key = (method, op.template)
        with self.lock:
            self.counts[key] += 1
            self.log.append({"method": method, "path": path, "query": query})
        auth = headers.get("Authorization")
        if not auth:
            return self._respond(
                op,
                400,
                self._envelope_error(
                    9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers"
                ),
            )
        if auth != f"Bearer {self.token}":
            return self._respond(op, 403, self._envelope_error(10000, "Authentication error"))
        body = None
        if body_bytes:
            try:
                body = json.loads(body_bytes)
            except ValueError:
                self._record_invalid(f"{method} {path}: body is not JSON")
                return self._respond(
                    op, 400, self._envelope_error(6007, "Malformed JSON in request body")
                )
        try:
            self.spec.validate_request(op, params, query, body)
        except ValidationFailure as exc:
            self._record_invalid(f"{method} {path}: {exc}")
            return self._respond(op, 400, self._envelope_error(1004, f"Invalid request: {exc}"))
        fault = self._take_fault(method, op.template)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.status and not fault.apply and not fault.fail_at:
            return self._fault_response(op, fault)
        try:
            with self.lock:
                handler = getattr(self, "_op_" + op.op_id.replace("-", "_"))
                if op.template == BATCH_TEMPLATE:
                    result, info = handler(
                        params, query, body, fail_at=fault.fail_at if fault else None
                    )
                else:
                    result, info = handler(params, query, body)
        except ApiError as exc:
            return self._respond(op, exc.status, self._envelope_error(exc.code, exc.message))
        except ValidationFailure as exc:
            self._record_invalid(f"{method} {path}: {exc}")
            return self._respond(op, 400, self._envelope_error(1004, f"Invalid request: {exc}"))
        if fault and fault.status and fault.apply:
            return self._fault_response(op, fault)
        payload = {"success": True, "errors": [], "messages": [], "result": result}
        if info is not None:
            payload["result_info"] = info
        return self._respond(op, 200, payload)

    def _take_fault(self, method, template):
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, template):
                    fault.remaining -= 1
                    return fault
        return None

    def _fault_response(self, op, fault):
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.status == 429:
            payload = self._envelope_error(
                1015, "Please wait and consider throttling your request speed"
            )
        else:
            payload = self._envelope_error(10001, "Internal server error")
        status, payload = self._respond(op, fault.status, payload)[:2]
        return status, payload, headers

    def _record_invalid(self, message: str) -> None:
        with self.lock:
            self.validation_errors.append(message)

    @staticmethod
    def _envelope_error(code: int, message: str) -> dict:
        return {
            "success": False,
            "errors": [{"code": code, "message": message}],
            "messages": [],
            "result": None,
        }

    def _error(self, status, code, message):
        return status, self._envelope_error(code, message), {}

    def _respond(self, op, status, payload):
        try:
            self.spec.validate_response(op, status, payload)
        except ValidationFailure as exc:
            self._record_invalid(f"emulator sent an invalid response: {exc}")
        return status, payload, {}

    # ---------------------------------------------------------------- helpers
    def _page(self, items, query, default_per_page, max_per_page=None):
        page = int(float(query.get("page", ["1"])[0]))
        per_page = int(float(query.get("per_page", [str(default_per_page)])[0]))
        limit = self.max_per_page or max_per_page
        if limit:
            per_page = min(per_page, limit)
        total = len(items)
        start = (page - 1) * per_page
        chunk = items[start : start + per_page]
        info = {
            "page": page,
            "per_page": per_page,
            "count": len(chunk),
            "total_count": total,
            "total_pages": max(1, math.ceil(total / per_page)),
        }
        return chunk, info

    def _zone(self, zone_id):
        zone = self.zones.get(zone_id)
        if zone is None:
            raise ApiError(404, 1001, "Invalid zone identifier")
        return zone

    # ---------------------------------------------------------------- zones
    def _op_zones_get(self, params, query, body):
        zones = sorted(self.zones.values(), key=lambda z: z["name"])
        name = query.get("name", [None])[0]
        if name is not None:
            zones = [z for z in zones if z["name"] == name.lower()]
        status = query.get("status", [None])[0]
        if status is not None:
            zones = [z for z in zones if z["status"] == status]
        chunk, info = self._page(zones, query, 20, 50)
        return copy.deepcopy(chunk), info

    def _op_zones_0_get(self, params, query, body):
        return copy.deepcopy(self._zone(params["zone_id"])), None

    # ---------------------------------------------------------------- DNS records
    def _fqdn(self, zone, name):
        name = name.lower().rstrip(".")
        if name == "@" or name == zone["name"]:
            return zone["name"]
        if name.endswith("." + zone["name"]):
            return name
        return f"{name}.{zone['name']}"

    def _check_conflicts(self, records, record, ignore_id=None):
        for other in records.values():
            if other["id"] == ignore_id or other["name"] != record["name"]:
                continue
            if "CNAME" in (other["type"], record["type"]):
                raise ApiError(
                    400, 81053, "An A, AAAA, or CNAME record with that host already exists."
                )
            if other["type"] == record["type"] and other["content"] == record["content"]:
                raise ApiError(400, 81058, "An identical record already exists.")

    def _build_record(self, zone, fields, existing=None):
        record = {
            "id": existing["id"] if existing else _hex_id(),
            "zone_id": zone["id"],
            "zone_name": zone["name"],
            "name": self._fqdn(zone, fields["name"]),
            "type": fields["type"],
            "content": fields.get("content", ""),
            "proxiable": fields["type"] in PROXIABLE,
            "proxied": bool(fields.get("proxied", False)),
            "ttl": fields.get("ttl", 1),
            "locked": False,
            "tags": sorted(fields.get("tags", [])),
            "meta": {
                "auto_added": False,
                "managed_by_apps": False,
                "managed_by_argo_tunnel": False,
                "source": "primary",
            },
            "created_on": existing["created_on"] if existing else _now(),
            "modified_on": _now(),
        }
        if fields.get("comment"):
            record["comment"] = fields["comment"]
        if "priority" in fields:
            record["priority"] = fields["priority"]
        if record["proxied"]:
            if not record["proxiable"]:
                raise ApiError(
                    400,
                    9003,
                    f"Invalid 'proxied' value, {record['type']} records cannot be proxied",
                )
            record["ttl"] = 1
        if fields["type"] == "MX" and "priority" not in fields:
            raise ApiError(400, 9100, "MX records need a priority")
        if record["type"] in ("CNAME", "MX", "NS", "PTR"):
            record["content"] = record["content"].rstrip(".")
        if record["type"] == "CNAME" and record["content"].lower() == record["name"]:
            raise ApiError(400, 9039, "CNAME content cannot reference itself.")
        if record.get("comment") and len(record["comment"]) > 100:
            raise ApiError(
                400, 9101, "DNS record has 1 comment, exceeding the quota of 100 characters."
            )
        return record

    def _create_record(self, records, zone_id, fields):
        zone = self._zone(zone_id)
        record = self._build_record(zone, fields)
        self._check_conflicts(records, record)
        records[record["id"]] = record
        return record

    def _replace_record(self, records, zone_id, record_id, fields, merge):
        zone = self._zone(zone_id)
        existing = records.get(record_id)
        if existing is None:
            raise ApiError(404, 81044, "Record does not exist.")
        if merge:
            base = {k: existing[k] for k in ("name", "type", "content", "proxied", "ttl", "tags")}
            for key in ("comment", "priority"):
                if key in existing:
                    base[key] = existing[key]
            base.update(fields)
            fields = base
        record = self._build_record(zone, fields, existing)
        self._check_conflicts(records, record, ignore_id=record_id)
        records[record_id] = record
        return record

    def _filter_records(self, records, query):
        def first(name):
            return query.get(name, [None])[0]

        checks = []
        name = first("name")
        if name is not None:
            checks.append(lambda r: r["name"] == name.lower().rstrip("."))
        rtype = first("type")
        if rtype is not None:
            checks.append(lambda r: r["type"] == rtype)
        content = first("content")
        if content is not None:
            checks.append(lambda r: r["content"].lower() == content.lower())
        proxied = first("proxied")
        if proxied is not None:
            checks.append(lambda r: r["proxied"] == (proxied == "true"))
        comment_tests = {
            "comment": lambda c, v: c.lower() == v.lower(),
            "comment.exact": lambda c, v: c.lower() == v.lower(),
            "comment.contains": lambda c, v: v.lower() in c.lower(),
            "comment.startswith": lambda c, v: c.lower().startswith(v.lower()),
            "comment.endswith": lambda c, v: c.lower().endswith(v.lower()),
            "comment.present": lambda c, v: bool(c),
            "comment.absent": lambda c, v: not c,
        }
        for key, test in comment_tests.items():
            value = first(key)
            if value is not None:
                checks.append(lambda r, t=test, v=value: t(r.get("comment", ""), v))
        tag_present = first("tag.present")
        if tag_present is not None:
            checks.append(
                lambda r: any(t.split(":", 1)[0].lower() == tag_present.lower() for t in r["tags"])
            )
        tag_exact = first("tag.exact") or first("tag")
        if tag_exact is not None:
            checks.append(lambda r: tag_exact.lower() in (t.lower() for t in r["tags"]))
        combine = any if first("match") == "any" else all
        return [r for r in records if not checks or combine(c(r) for c in checks)]

    def _op_dns_records_for_a_zone_list_dns_records(self, params, query, body):
        self._zone(params["zone_id"])
        order = query.get("order", ["type"])[0]
        records = sorted(
            self.records[params["zone_id"]].values(),
            key=lambda r: (str(r.get(order, "")), r["name"], r["content"]),
        )
        if query.get("direction", ["asc"])[0] == "desc":
            records.reverse()
        chunk, info = self._page(self._filter_records(records, query), query, 100)
        return copy.deepcopy(chunk), info

    def _op_dns_records_for_a_zone_create_dns_record(self, params, query, body):
        zone_id = params["zone_id"]
        self._zone(zone_id)
        return copy.deepcopy(self._create_record(self.records[zone_id], zone_id, body)), None

    def _op_dns_records_for_a_zone_dns_record_details(self, params, query, body):
        self._zone(params["zone_id"])
        record = self.records[params["zone_id"]].get(params["dns_record_id"])
        if record is None:
            raise ApiError(404, 81044, "Record does not exist.")
        return copy.deepcopy(record), None

    def _op_dns_records_for_a_zone_update_dns_record(self, params, query, body):
        zone_id = params["zone_id"]
        self._zone(zone_id)
        return copy.deepcopy(
            self._replace_record(
                self.records[zone_id], zone_id, params["dns_record_id"], body, merge=False
            )
        ), None

    def _op_dns_records_for_a_zone_patch_dns_record(self, params, query, body):
        zone_id = params["zone_id"]
        self._zone(zone_id)
        return copy.deepcopy(
            self._replace_record(
                self.records[zone_id], zone_id, params["dns_record_id"], body, merge=True
            )
        ), None

    def _op_dns_records_for_a_zone_delete_dns_record(self, params, query, body):
        zone_id = params["zone_id"]
        self._zone(zone_id)
        if self.records[zone_id].pop(params["dns_record_id"], None) is None:
            raise ApiError(404, 81044, "Record does not exist.")
        return {"id": params["dns_record_id"]}, None

    def _op_dns_records_for_a_zone_batch_dns_records(self, params, query, body, fail_at=None):
        zone_id = params["zone_id"]
        self._zone(zone_id)
        deletes = body.get("deletes", [])
        patches = body.get("patches", [])
        puts = body.get("puts", [])
        posts = body.get("posts", [])
        total = len(deletes) + len(patches) + len(puts) + len(posts)
        if total > BATCH_LIMIT:
            raise ApiError(
                400,
                81059,
                f"A batch may hold at most {BATCH_LIMIT} operations, this one holds {total}.",
            )
        for i, item in enumerate(patches):
            self.spec.validate_record_body(item, f"patches/{i}", partial=True)
        for i, item in enumerate(puts):
            self.spec.validate_record_body(item, f"puts/{i}")
        for i, item in enumerate(posts):
            self.spec.validate_record_body(item, f"posts/{i}")
        work = copy.deepcopy(self.records[zone_id])
        result = {"deletes": [], "patches": [], "puts": [], "posts": []}
        index = 0

        def step(kind, position):
            nonlocal index
            if fail_at is not None and index == fail_at:
                raise ApiError(
                    400, 1000, f"{kind}[{position}]: injected failure; the batch was rolled back"
                )
            index += 1

        try:
            for i, item in enumerate(deletes):
                step("deletes", i)
                record = work.pop(item["id"], None)
                if record is None:
                    raise ApiError(404, 81044, "Record does not exist.")
                result["deletes"].append(record)
            for i, item in enumerate(patches):
                step("patches", i)
                fields = {k: v for k, v in item.items() if k != "id"}
                result["patches"].append(
                    self._replace_record(work, zone_id, item["id"], fields, merge=True)
                )
            for i, item in enumerate(puts):
                step("puts", i)
                fields = {k: v for k, v in item.items() if k != "id"}
                result["puts"].append(
                    self._replace_record(work, zone_id, item["id"], fields, merge=False)
                )
            for i, item in enumerate(posts):
                step("posts", i)
                result["posts"].append(self._create_record(work, zone_id, item))
        except ApiError:
            raise  # nothing was written to self.records: the batch is rolled back
        self.records[zone_id] = work
        return copy.deepcopy(result), None

    # ---------------------------------------------------------------- tunnels
    def _check_account(self, params):
        if params["account_id"] != self.account_id:
            raise ApiError(403, 10000, "Authentication error")

    def _tunnel(self, params):
        self._check_account(params)
        tunnel = self.tunnels.get(params["tunnel_id"])
        if tunnel is None or tunnel.get("deleted_at"):
            raise ApiError(404, 1003, "Tunnel not found")
        return tunnel

    def _create_tunnel(self, body):
        name = body["name"]
        if any(t["name"] == name and not t.get("deleted_at") for t in self.tunnels.values()):
            raise ApiError(409, 1013, "You already have a tunnel with this name.")
        secret = body.get("tunnel_secret")
        remote = body.get("config_src", "local") == "cloudflare"
        if secret is None:
            if not remote:
                raise ApiError(400, 1001, "tunnel_secret is required for locally managed tunnels")
            secret = base64.b64encode(uuid.uuid4().bytes * 2).decode()
        if len(base64.b64decode(secret)) < 32:
            raise ApiError(400, 1001, "tunnel_secret must be at least 32 bytes")
        tunnel_id = str(uuid.uuid4())
        tunnel = {
            "id": tunnel_id,
            "account_tag": self.account_id,
            "name": name,
            "created_at": _now(),
            "connections": [],
            "metadata": {},
            "remote_config": remote,
            "status": "inactive",
            "tun_type": "cfd_tunnel",
        }
        self.tunnels[tunnel_id] = tunnel
        self.tunnel_secrets[tunnel_id] = secret
        return tunnel

    def _tunnel_view(self, tunnel):
        view = copy.deepcopy(tunnel)
        view["connections"] = [
            conn for client in self.connections.get(tunnel["id"], []) for conn in client["conns"]
        ]
        return view

    def _op_cloudflare_tunnel_list_cloudflare_tunnels(self, params, query, body):
        self._check_account(params)
        tunnels = sorted(self.tunnels.values(), key=lambda t: t["created_at"])
        name = query.get("name", [None])[0]
        if name is not None:
            tunnels = [t for t in tunnels if t["name"] == name]
        deleted = query.get("is_deleted", [None])[0]
        if deleted == "false":
            tunnels = [t for t in tunnels if not t.get("deleted_at")]
        elif deleted == "true":
            tunnels = [t for t in tunnels if t.get("deleted_at")]
        uuid_filter = query.get("uuid", [None])[0]
        if uuid_filter is not None:
            tunnels = [t for t in tunnels if t["id"] == uuid_filter]
        chunk, info = self._page(tunnels, query, 20, 1000)
        return [self._tunnel_view(t) for t in chunk], info

    def _op_cloudflare_tunnel_create_a_cloudflare_tunnel(self, params, query, body):
        self._check_account(params)
        return self._tunnel_view(self._create_tunnel(body)), None

    def _op_cloudflare_tunnel_get_a_cloudflare_tunnel(self, params, query, body):
        return self._tunnel_view(self._tunnel(params)), None

    def _op_cloudflare_tunnel_update_a_cloudflare_tunnel(self, params, query, body):
        tunnel = self._tunnel(params)
        if "name" in body and body["name"] != tunnel["name"]:
            if any(
                t["name"] == body["name"] and not t.get("deleted_at") for t in self.tunnels.values()
            ):
                raise ApiError(409, 1013, "You already have a tunnel with this name.")
            tunnel["name"] = body["name"]
        if "tunnel_secret" in body:
            if len(base64.b64decode(body["tunnel_secret"])) < 32:
                raise ApiError(400, 1001, "tunnel_secret must be at least 32 bytes")
            self.tunnel_secrets[tunnel["id"]] = body["tunnel_secret"]
        return self._tunnel_view(tunnel), None

    def _op_cloudflare_tunnel_delete_a_cloudflare_tunnel(self, params, query, body):
        tunnel = self._tunnel(params)
        if self.connections.get(tunnel["id"]):
            raise ApiError(400, 1022, "Cannot delete tunnel because it has active connections.")
        tunnel["deleted_at"] = _now()
        tunnel["status"] = "down" if tunnel.get("conns_active_at") else "inactive"
        return self._tunnel_view(tunnel), None

    def _op_cloudflare_tunnel_configuration_get_configuration(self, params, query, body):
        tunnel = self._tunnel(params)
        config = self.configs.get(tunnel["id"])
        if config is None:
            return {
                "tunnel_id": tunnel["id"],
                "version": 0,
                "source": "cloudflare" if tunnel["remote_config"] else "local",
                "created_at": tunnel["created_at"],
            }, None
        return copy.deepcopy(config), None

    def _op_cloudflare_tunnel_configuration_put_configuration(self, params, query, body):
        tunnel = self._tunnel(params)
        previous = self.configs.get(tunnel["id"], {"version": 0})
        config = {
            "tunnel_id": tunnel["id"],
            "version": previous["version"] + 1,
            "config": copy.deepcopy(body.get("config", {})),
            "source": "cloudflare",
            "created_at": _now(),
        }
        self.configs[tunnel["id"]] = config
        tunnel["remote_config"] = True
        return copy.deepcopy(config), None

    def _op_cloudflare_tunnel_get_a_cloudflare_tunnel_token(self, params, query, body):
        tunnel = self._tunnel(params)
        token = {"a": self.account_id, "t": tunnel["id"], "s": self.tunnel_secrets[tunnel["id"]]}
        return base64.b64encode(json.dumps(token).encode()).decode(), None

    def _op_cloudflare_tunnel_list_cloudflare_tunnel_connections(self, params, query, body):
        tunnel = self._tunnel(params)
        return copy.deepcopy(self.connections.get(tunnel["id"], [])), None

    def _op_cloudflare_tunnel_clean_up_cloudflare_tunnel_connections(self, params, query, body):
        tunnel = self._tunnel(params)
        self.connections.pop(tunnel["id"], None)
        tunnel["status"] = "down" if tunnel.get("conns_active_at") else "inactive"
        return {}, None


class _Handler(BaseHTTPRequestHandler):
    emulator: CloudflareEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload, headers = self.emulator.handle(self.command, self.path, self.headers, body)
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
