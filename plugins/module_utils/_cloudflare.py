# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloudflare API client for the spitikos.homelab modules (private: not a public API).

One place for authentication, the base URL, pagination, retries and errors, on top of the
official `cloudflare` SDK (major version 5). The SDK's own retries are switched off so that
exactly one retry policy applies: jittered exponential backoff on HTTP 429 and 5xx that honours
`Retry-After`. Failures raise CloudflareError with a message saying what failed; this module
never calls fail_json.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
import traceback
import urllib.parse
from datetime import UTC, datetime

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.spitikos.homelab.plugins.module_utils._reconcile import (
    InputError,
    dns_batch_body,
    dns_plan_diff,
    dns_plan_summary,
    plan_is_empty,
    public_record,
    record_from_api,
)

try:
    import cloudflare
except ImportError:
    cloudflare = None
    CLOUDFLARE_IMPORT_ERROR = traceback.format_exc()
else:
    CLOUDFLARE_IMPORT_ERROR = None

SDK_REQUIREMENT = "cloudflare>=5.9,<6"
SDK_MAJOR = "5"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 5
DEFAULT_RETRY_DELAY = 1.0
MAX_BACKOFF = 60.0
MAX_RETRY_AFTER = 300.0
DNS_PAGE_SIZE = 5000
TUNNEL_PAGE_SIZE = 1000
ZONE_PAGE_SIZE = 50
BATCH_LIMIT = 200  # operations per batch request on the Free plan
RETRYABLE_STATUS = frozenset((429, 500, 502, 503, 504))


def cloudflare_argument_spec():
    """Options shared by every Cloudflare module (documented in the _cloudflare_auth fragment)."""
    return {
        "api_token": {
            "type": "str",
            "required": True,
            "no_log": True,
            "fallback": (env_fallback, ["CLOUDFLARE_API_TOKEN"]),
        },
        "api_base_url": {"type": "str", "fallback": (env_fallback, ["CLOUDFLARE_BASE_URL"])},
        "api_timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
        "api_retries": {"type": "int", "default": DEFAULT_RETRIES},
        "api_retry_delay": {"type": "float", "default": DEFAULT_RETRY_DELAY},
    }


def require_sdk(module):
    """Fail the module clearly when the SDK is missing or of another major version."""
    if cloudflare is None:
        module.fail_json(
            msg=missing_required_lib(SDK_REQUIREMENT), exception=CLOUDFLARE_IMPORT_ERROR
        )
    version = getattr(cloudflare, "__version__", "")
    if not version.startswith(SDK_MAJOR + "."):
        module.fail_json(
            msg=f"The Cloudflare modules need the Python package {SDK_REQUIREMENT}; "
            f"found cloudflare {version or '(unknown version)'}."
        )


def client_from_module(module):
    params = module.params
    return CloudflareClient(
        api_token=params["api_token"],
        base_url=params.get("api_base_url"),
        timeout=params["api_timeout"],
        retries=params["api_retries"],
        retry_delay=params["api_retry_delay"],
    )


def run_module(module, run):
    """Run ``run(module, client)`` and exit; the one place typed errors become fail_json."""
    require_sdk(module)
    try:
        result = run(module, client_from_module(module))
    except InputError as exc:
        module.fail_json(msg=str(exc), problems=exc.details)
    except CloudflareError as exc:
        module.fail_json(msg=str(exc), status=exc.status, api_errors=exc.errors)
    module.exit_json(**result)


class CloudflareError(Exception):
    """A Cloudflare API call failed; the message says which call and why."""

    def __init__(self, message, status=None, errors=None, attempts=1):
        super().__init__(message)
        self.status = status
        self.errors = errors or []
        self.attempts = attempts


# --------------------------------------------------------------------------- retry policy
def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if unusable."""
    if value is None:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        now = now or datetime.now(UTC)
        seconds = (when - now).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt, base, rand=random.random, cap=MAX_BACKOFF):
    """Exponential backoff with jitter: between half and all of base * 2**attempt (capped)."""
    ceiling = min(cap, base * (2**attempt))
    return ceiling / 2 + rand() * ceiling / 2


def classify(exc):
    """(status, retry_after header, kind) of an SDK exception; kind is one of
    'status', 'timeout', 'connection' or None (not an API failure)."""
    if cloudflare is None:
        return None, None, None
    if isinstance(exc, cloudflare.APIStatusError):
        headers = getattr(exc.response, "headers", None) or {}
        return exc.status_code, headers.get("retry-after"), "status"
    if isinstance(exc, cloudflare.APITimeoutError):
        return None, None, "timeout"
    if isinstance(exc, cloudflare.APIConnectionError):
        return None, None, "connection"
    return None, None, None


def retry_wait(status, kind, retry_after, attempt, base, idempotent, rand=random.random):
    """Seconds to wait before the next attempt, or None when the failure is not retried.

    429 is always retried (the request was not processed). 5xx answers, timeouts and connection
    failures are retried only for idempotent calls: a POST that may have been applied is not
    repeated blindly; the next run reads the state again and converges.
    """
    if kind == "status":
        if status not in RETRYABLE_STATUS:
            return None
        if status != 429 and not idempotent:
            return None
        wait = parse_retry_after(retry_after)
        if wait is not None:
            return wait
        return backoff_delay(attempt, base, rand)
    if kind in ("timeout", "connection") and idempotent:
        return backoff_delay(attempt, base, rand)
    return None


def describe_exception(exc, timeout=None):
    """Short reason from an SDK exception, from Cloudflare's error envelope when there is one."""
    status, _retry_after, kind = classify(exc)
    if kind == "status":
        body = getattr(exc, "body", None)
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            reasons = "; ".join(
                f"{e.get('message', '?')} (code {e.get('code', '?')})"
                for e in errors
                if isinstance(e, dict)
            )
            return f"HTTP {status}: {reasons}", errors
        return f"HTTP {status}", []
    if kind == "timeout":
        return f"no answer within {timeout} seconds", []
    if kind == "connection":
        return f"could not connect to the Cloudflare API ({exc})", []
    return f"{type(exc).__name__}: {exc}", []


# --------------------------------------------------------------------------- client
class CloudflareClient:
    def __init__(
        self,
        api_token,
        base_url=None,
        timeout=DEFAULT_TIMEOUT,
        retries=DEFAULT_RETRIES,
        retry_delay=DEFAULT_RETRY_DELAY,
        sdk=None,
        sleep=time.sleep,
        rand=random.random,
    ):
        if sdk is None:
            if not api_token:
                raise CloudflareError(
                    "No Cloudflare API token: set api_token or the "
                    "environment variable CLOUDFLARE_API_TOKEN"
                )
            kwargs = {"api_token": api_token, "max_retries": 0, "timeout": timeout}
            if base_url:
                kwargs["base_url"] = base_url
            sdk = cloudflare.Cloudflare(**kwargs)
        self.sdk = sdk
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.retry_delay = max(0.0, float(retry_delay))
        self.sleep = sleep
        self.rand = rand
        self.requests = 0  # HTTP attempts made, retries included

    def call(self, what, func, *args, idempotent=True, **kwargs):
        """Run one SDK call with the retry policy; `what` completes "Failed to ..."."""
        attempt = 0
        while True:
            self.requests += 1
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # SDK errors are classified below, others re-raised
                status, retry_after, kind = classify(exc)
                if kind is None:
                    raise
                wait = None
                if attempt < self.retries:
                    wait = retry_wait(
                        status, kind, retry_after, attempt, self.retry_delay, idempotent, self.rand
                    )
                if wait is None:
                    reason, errors = describe_exception(exc, self.timeout)
                    suffix = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise CloudflareError(
                        f"Failed to {what}: {reason}{suffix}",
                        status=status,
                        errors=errors,
                        attempts=attempt + 1,
                    ) from None
                self.sleep(wait)
                attempt += 1

    def paginate(self, what, func, per_page, **kwargs):
        """All items of a page-numbered list, one request per page."""
        items, page = [], 1
        while True:
            result = self.call(what, func, page=page, per_page=per_page, **kwargs)
            if isinstance(result, dict):  # a raw envelope (see _api)
                result_items, result_info = result.get("result"), result.get("result_info")
            else:
                result_items, result_info = result.result, result.result_info
            batch = [to_plain(item) for item in (result_items or [])]
            items.extend(batch)
            info = to_plain(result_info) if result_info is not None else {}
            total_pages = info.get("total_pages")
            size = info.get("per_page") or per_page
            if not batch:
                break
            if total_pages is not None:
                if page >= int(total_pages):
                    break
            elif len(batch) < size:
                break
            page += 1
        return items

    # ------------------------------------------------------------------ zones
    def get_zone(self, zone):
        """A zone by name (contains a dot) or by id."""
        if "." in zone:
            name = zone.strip().rstrip(".").lower()
            found = self.call(
                f"look up zone {name}", self.sdk.zones.list, name=name, per_page=ZONE_PAGE_SIZE
            )
            zones = [to_plain(z) for z in (found.result or [])]
            zones = [z for z in zones if z.get("name", "").lower() == name]
            if not zones:
                raise CloudflareError(
                    f"Failed to look up zone {name}: no zone of that name is "
                    "visible to this API token"
                )
            if len(zones) > 1:
                raise CloudflareError(
                    f"Failed to look up zone {name}: {len(zones)} zones have "
                    "that name; give the zone id instead"
                )
            return zones[0]
        return to_plain(self.call(f"look up zone {zone}", self.sdk.zones.get, zone_id=zone))

    def list_zones(self):
        return self.paginate("list zones", self.sdk.zones.list, ZONE_PAGE_SIZE)

    # ------------------------------------------------------------------ DNS records
    def list_dns_records(
        self, zone_id, zone_name=None, per_page=DNS_PAGE_SIZE, name=None, rtype=None, content=None
    ):
        query = {}
        if name:
            query["name"] = name
        if content:
            query["content"] = content
        kwargs = {"zone_id": zone_id}
        if rtype:
            kwargs["type"] = rtype
        if query:
            kwargs["extra_query"] = query
        return self.paginate(
            f"list DNS records of zone {zone_name or zone_id}",
            self.sdk.dns.records.list,
            per_page,
            **kwargs,
        )

    def batch_dns_records(
        self, zone_id, zone_name=None, deletes=(), puts=(), posts=(), limit=BATCH_LIMIT
    ):
        """Apply deletes, puts (by id) and posts; one request unless over the batch limit.

        Returns the records the API answered with, as {'deletes': [...], 'puts': [...],
        'posts': [...]}.
        """
        ops = (
            [("deletes", op) for op in deletes]
            + [("puts", op) for op in puts]
            + [("posts", op) for op in posts]
        )
        result = {"deletes": [], "puts": [], "posts": []}
        for start in range(0, len(ops), limit):
            chunk = ops[start : start + limit]
            body = {}
            for kind, op in chunk:
                body.setdefault(kind, []).append(op)
            names = _summarise(sorted({op.get("name") or op.get("id", "?") for _k, op in chunk}))
            answer = self.call(
                f"update DNS records of zone {zone_name or zone_id} ({names})",
                self.sdk.dns.records.batch,
                zone_id=zone_id,
                idempotent=False,
                **body,
            )
            answer = to_plain(answer) or {}
            for kind in result:
                result[kind].extend(answer.get(kind) or [])
        return result

    # ------------------------------------------------------------------ tunnels
    # The tunnel endpoints go through the SDK's generic request methods rather than its typed
    # zero_trust resources: importing those loads the SDK's whole Zero Trust tree, which costs
    # most of a second on every module run. Requests, authentication and errors are the SDK's.
    def _api(self, what, method, path, idempotent=True, **options):
        """One request to ``path``; the ``result`` of Cloudflare's envelope."""
        envelope = self._envelope(what, method, path, idempotent=idempotent, **options)
        return envelope.get("result")

    def _envelope(self, what, method, path, idempotent=True, params=None, body=None):
        kwargs = {"cast_to": object}
        if params:
            kwargs["options"] = {"params": params}
        if body is not None:
            kwargs["body"] = body
        envelope = self.call(what, getattr(self.sdk, method), path, idempotent=idempotent, **kwargs)
        return envelope if isinstance(envelope, dict) else {}

    @staticmethod
    def _tunnel_path(account_id, tunnel_id=None, *more):
        if not account_id or (tunnel_id is not None and not tunnel_id):
            raise CloudflareError("An account id and a tunnel id must not be empty")
        parts = ["accounts", account_id, "cfd_tunnel"]
        parts += [tunnel_id, *more] if tunnel_id is not None else []
        return "/" + "/".join(urllib.parse.quote(str(part), safe="") for part in parts)

    def _tunnel_page(self, account_id, **params):
        """One page of the account's tunnels: the raw envelope, for paginate (which retries)."""
        return self.sdk.get(
            self._tunnel_path(account_id), cast_to=object, options={"params": params}
        )

    def find_tunnels(self, account_id, name=None):
        """Live (not deleted) tunnels of the account, optionally only those with this name."""
        kwargs = {"account_id": account_id, "is_deleted": False}
        if name is not None:
            kwargs["name"] = name
        what = f"look up tunnel {name}" if name else "list tunnels"
        tunnels = self.paginate(what, self._tunnel_page, TUNNEL_PAGE_SIZE, **kwargs)
        return [
            t
            for t in tunnels
            if not t.get("deleted_at") and (name is None or t.get("name") == name)
        ]

    def get_tunnel(self, account_id, tunnel_id):
        path = self._tunnel_path(account_id, tunnel_id)
        return self._api(f"read tunnel {tunnel_id}", "get", path)

    def create_tunnel(self, account_id, name, config_src, tunnel_secret=None):
        body = {"name": name, "config_src": config_src}
        if tunnel_secret is not None:
            body["tunnel_secret"] = tunnel_secret
        path = self._tunnel_path(account_id)
        return self._api(f"create tunnel {name}", "post", path, idempotent=False, body=body)

    def update_tunnel_secret(self, account_id, tunnel_id, name, tunnel_secret):
        path = self._tunnel_path(account_id, tunnel_id)
        body = {"tunnel_secret": tunnel_secret}
        return self._api(f"set a new secret on tunnel {name}", "patch", path, body=body)

    def delete_tunnel(self, account_id, tunnel_id, name):
        path = self._tunnel_path(account_id, tunnel_id)
        return self._api(f"delete tunnel {name}", "delete", path)

    def get_tunnel_configuration(self, account_id, tunnel_id, name):
        path = self._tunnel_path(account_id, tunnel_id, "configurations")
        return self._api(f"read the configuration of tunnel {name}", "get", path) or {}

    def put_tunnel_configuration(self, account_id, tunnel_id, name, config):
        path = self._tunnel_path(account_id, tunnel_id, "configurations")
        what = f"update the configuration of tunnel {name}"
        return self._api(what, "put", path, body={"config": config}) or {}

    def get_tunnel_token(self, account_id, tunnel_id, name):
        path = self._tunnel_path(account_id, tunnel_id, "token")
        return self._api(f"read the token of tunnel {name}", "get", path)

    def list_tunnel_connections(self, account_id, tunnel_id, name):
        path = self._tunnel_path(account_id, tunnel_id, "connections")
        return self._api(f"list the connections of tunnel {name}", "get", path) or []


def apply_dns_plan(client, zone, plan):
    """Send a plan of plan_dns_changes in one batch and return the final records with their ids."""
    answer = client.batch_dns_records(zone["id"], zone["name"], **dns_batch_body(plan))
    by_id = {r["id"]: record_from_api(r) for r in answer["puts"]}
    created = [record_from_api(r) for r in answer["posts"]]
    final = []
    for record in plan["final"]:
        if record.get("id") in by_id:
            record = by_id[record["id"]]
        elif record.get("id") is None:
            record = _take_created(created, record) or record
        final.append(record)
    return final


def _take_created(created, wanted):
    for index, record in enumerate(created):
        if (record["name"], record["type"], record["content"]) == (
            wanted["name"],
            wanted["type"],
            wanted["content"],
        ):
            return created.pop(index)
    return None


def carry_out_dns_plan(module, client, zone, plan):
    """Refuse a plan with conflicts, send it unless in check mode, and return the module result
    (changed, zone, the final records, the changes, and the diff in diff mode)."""
    if plan["conflicts"]:
        raise InputError(
            f"Nothing was changed in zone {zone['name']}: " + " ".join(plan["conflicts"]),
            plan["conflicts"],
        )
    changed = not plan_is_empty(plan)
    final = plan["final"]
    if changed and not module.check_mode:
        final = apply_dns_plan(client, zone, plan)
    result = {
        "changed": changed,
        "zone": {"id": zone["id"], "name": zone["name"]},
        "records": [public_record(r) for r in final],
        "changes": dns_plan_summary(plan),
    }
    if module._diff:
        result["diff"] = dns_plan_diff(plan)
    return result


def _summarise(names, shown=5):
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def to_plain(value):
    """SDK models to plain JSON-like data (API field names, unset fields left out)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return to_dict(mode="json", use_api_names=True, exclude_unset=True)
    return value
