"""The Cloudflare client's retry policy, error messages and pagination (no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import cloudflare
import httpx
import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils import _cloudflare as cf

URL = "https://api.cloudflare.com/client/v4/zones"


def status_error(status, retry_after=None, errors=None):
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    body = {
        "success": False,
        "errors": errors or [{"code": 10000, "message": "boom"}],
        "messages": [],
        "result": None,
    }
    response = httpx.Response(status, headers=headers, json=body, request=httpx.Request("GET", URL))
    cls = {
        429: cloudflare.RateLimitError,
        403: cloudflare.PermissionDeniedError,
        400: cloudflare.BadRequestError,
        404: cloudflare.NotFoundError,
    }.get(status, cloudflare.InternalServerError)
    return cls(f"Error code: {status}", response=response, body=body)


def timeout_error():
    return cloudflare.APITimeoutError(request=httpx.Request("GET", URL))


class Flaky:
    """Raises the given exceptions in turn, then returns 'ok'."""

    def __init__(self, *failures):
        self.failures = list(failures)
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def client(retries=3, delay=1.0, rand=lambda: 1.0):
    sleeps = []
    return cf.CloudflareClient(
        "t", sdk=object(), retries=retries, retry_delay=delay, sleep=sleeps.append, rand=rand
    ), sleeps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("100000", cf.MAX_RETRY_AFTER),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("soon", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value, expected):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert cf.parse_retry_after(value, now=now) == expected


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.0, 0.5),
        (0, 1.0, 1.0),
        (1, 0.0, 1.0),
        (3, 1.0, 8.0),
        (10, 1.0, 60.0),
        (10, 0.0, 30.0),
    ],
)
def test_backoff_is_exponential_jittered_and_capped(attempt, rand, expected):
    assert cf.backoff_delay(attempt, 1.0, rand=lambda: rand) == expected


@pytest.mark.parametrize(
    ("status", "kind", "idempotent", "retried"),
    [
        (429, "status", False, True),
        (429, "status", True, True),
        (500, "status", True, True),
        (503, "status", True, True),
        (500, "status", False, False),
        (400, "status", True, False),
        (403, "status", True, False),
        (404, "status", True, False),
        (None, "timeout", True, True),
        (None, "timeout", False, False),
        (None, "connection", True, True),
        (None, "connection", False, False),
    ],
)
def test_what_is_retried(status, kind, idempotent, retried):
    wait = cf.retry_wait(status, kind, None, 0, 1.0, idempotent, rand=lambda: 1.0)
    assert (wait is not None) is retried


def test_429_honours_retry_after_then_succeeds():
    api, sleeps = client()
    func = Flaky(status_error(429, "7"), status_error(429, "2"))
    assert api.call("list zones", func, idempotent=False) == "ok"
    assert sleeps == [7.0, 2.0]
    assert func.calls == 3
    assert api.requests == 3


def test_5xx_without_retry_after_backs_off_exponentially():
    api, sleeps = client(delay=0.5)
    func = Flaky(status_error(502), status_error(503), timeout_error())
    assert api.call("read tunnel home", func) == "ok"
    assert sleeps == [0.5, 1.0, 2.0]


def test_gives_up_after_the_configured_retries():
    api, sleeps = client(retries=2)
    func = Flaky(*[status_error(429, "1")] * 5)
    with pytest.raises(cf.CloudflareError) as info:
        api.call("update record api.example.com", func)
    assert str(info.value) == (
        "Failed to update record api.example.com: HTTP 429: boom (code 10000) (after 3 attempts)"
    )
    assert info.value.status == 429
    assert info.value.attempts == 3
    assert sleeps == [1.0, 1.0]


def test_retries_zero_means_one_attempt():
    api, sleeps = client(retries=0)
    with pytest.raises(cf.CloudflareError, match=r"^Failed to list zones: HTTP 429"):
        api.call("list zones", Flaky(status_error(429, "1")))
    assert sleeps == []


def test_non_idempotent_call_is_not_repeated_after_a_server_error():
    api, sleeps = client()
    func = Flaky(status_error(500))
    with pytest.raises(cf.CloudflareError, match=r"^Failed to create tunnel home: HTTP 500"):
        api.call("create tunnel home", func, idempotent=False)
    assert func.calls == 1
    assert sleeps == []


def test_client_errors_are_not_retried_and_say_what_failed():
    api, sleeps = client()
    error = status_error(
        400,
        errors=[
            {"code": 81053, "message": "Record exists."},
            {"code": 1004, "message": "DNS Validation Error"},
        ],
    )
    with pytest.raises(cf.CloudflareError) as info:
        api.call("update record api.example.com", Flaky(error))
    assert str(info.value) == (
        "Failed to update record api.example.com: HTTP 400: Record "
        "exists. (code 81053); DNS Validation Error (code 1004)"
    )
    assert info.value.errors[0]["code"] == 81053
    assert sleeps == []


def test_timeout_message():
    api, _sleeps = client(retries=0)
    api.timeout = 5
    with pytest.raises(
        cf.CloudflareError, match=r"^Failed to list zones: no answer within 5 seconds$"
    ):
        api.call("list zones", Flaky(timeout_error()))


def test_other_exceptions_pass_through():
    api, _sleeps = client()
    with pytest.raises(KeyError):
        api.call("list zones", Flaky(KeyError("x")))


def test_missing_token_is_a_typed_error():
    with pytest.raises(cf.CloudflareError, match="No Cloudflare API token"):
        cf.CloudflareClient("")


def test_sdk_retries_are_off_and_base_url_is_used():
    api = cf.CloudflareClient("t", base_url="http://127.0.0.1:9/client/v4", timeout=3)
    assert api.sdk.max_retries == 0
    assert str(api.sdk.base_url) == "http://127.0.0.1:9/client/v4/"
    assert api.sdk.timeout == 3


class Page:
    def __init__(self, result, info):
        self.result = result
        self.result_info = info


@pytest.mark.parametrize(
    ("sizes", "info", "expected_calls"),
    [
        ([3, 3, 1], lambda page: {"page": page, "per_page": 3, "total_pages": 3}, 3),
        ([3, 3, 0], lambda page: {"page": page, "per_page": 3}, 3),
        ([3, 2], lambda page: {"page": page, "per_page": 3}, 2),
        ([0], lambda page: {"page": page, "per_page": 3, "total_pages": 1}, 1),
    ],
)
def test_pagination(sizes, info, expected_calls):
    api, _sleeps = client()
    calls = []

    def lister(page, per_page, **kwargs):
        calls.append((page, per_page, kwargs))
        return Page([{"n": page}] * sizes[page - 1], info(page))

    items = api.paginate("list things", lister, 3, zone_id="z")
    assert len(calls) == expected_calls
    assert [c[0] for c in calls] == list(range(1, expected_calls + 1))
    assert calls[0][2] == {"zone_id": "z"}
    assert len(items) == sum(sizes)


def test_argument_spec_keeps_the_token_secret():
    spec = cf.cloudflare_argument_spec()
    assert spec["api_token"]["no_log"] is True
    assert spec["api_token"]["fallback"][1] == ["CLOUDFLARE_API_TOKEN"]
    assert spec["api_base_url"]["fallback"][1] == ["CLOUDFLARE_BASE_URL"]
