# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to the collection: may change at any time. Do not use it from other collections.

from __future__ import annotations


class ModuleDocFragment:
    # Connection and retry options shared by the Cloudflare modules.
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - Cloudflare API token (an API token, not the Global API Key).
      - Needs C(Zone:Read) and C(DNS:Edit) for DNS records, C(Cloudflare Tunnel:Edit) for tunnels
        (C(:Read) suffices for the C(_info) modules).
      - If not set, the environment variable E(CLOUDFLARE_API_TOKEN) is used.
    type: str
    required: true
  api_base_url:
    description:
      - Base URL of the Cloudflare API, for a proxy or a test double.
      - If not set, the environment variable E(CLOUDFLARE_BASE_URL) is used, and without it
        V(https://api.cloudflare.com/client/v4).
    type: str
  api_timeout:
    description:
      - Seconds to wait for each API answer.
    type: float
    default: 30
  api_retries:
    description:
      - How many times a failed call is retried.
      - HTTP 429 is always retried; HTTP 5xx answers, timeouts and connection failures only for
        calls that are safe to repeat (reads, updates by id, deletes).
      - V(0) disables retries.
    type: int
    default: 5
  api_retry_delay:
    description:
      - Base delay in seconds of the exponential backoff between retries (with jitter, at most 60
        seconds). A C(Retry-After) header from the API takes precedence.
    type: float
    default: 1
requirements:
  - cloudflare >= 5.9, < 6 (the official Cloudflare Python SDK)
notes:
  - The modules talk to the Cloudflare API from the host they run on; run them on the controller
    (C(localhost)) or with C(delegate_to).
"""
