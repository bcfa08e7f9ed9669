"""A stateful Cloudflare API emulator for the spitikos.homelab module tests."""

from .server import CloudflareEmulator

__all__ = ["CloudflareEmulator"]
