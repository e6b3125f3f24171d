"""The fake HubSpot as a standalone server, for panels written in any language.

``python -m skypanel_hubspot_plugin.testing --port 8025`` (or ``skypanel-fake-hubspot``)
serves HubSpot's paths on that port, as the in-process :class:`FakeHubSpot` does, plus the
control API of :mod:`.fake_control` under ``/_fake/``. It prints where it listens and
what to configure, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from .fake_control import CONTROL_PREFIX, ControlApi
from .fake_hubspot import FAKE_PORTAL_ID, FAKE_TOKEN, FakeHubSpot
from .fake_webhooks import FAKE_APP_SECRET

DEFAULT_PORT = 8025


class ServedFakeHubSpot(FakeHubSpot):
    """A :class:`FakeHubSpot` that also answers its control API under ``/_fake/``."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.control = ControlApi(self)

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str], float]:
        path = urlsplit(target).path
        if path.startswith(CONTROL_PREFIX):
            status, body = self.control.handle(method, path, raw)
            return status, body, {}, 0.0
        return super().handle(method, target, headers, raw)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skypanel-fake-hubspot",
        description="Serve the fake HubSpot over HTTP, with its control API under /_fake/.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT}; 0 for a free one)"
    )
    parser.add_argument(
        "--portal-id", type=int, default=FAKE_PORTAL_ID, help=f"the portal id ({FAKE_PORTAL_ID})"
    )
    parser.add_argument(
        "--webhook-url",
        help="send signed ticket webhooks here (the panel's webhook route); "
        "or later: POST /_fake/webhooks",
    )
    parser.add_argument(
        "--app-secret", default=FAKE_APP_SECRET, help="the client secret that signs webhooks"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serves until interrupted; exits 2 with one line when the port cannot be had."""
    args = _parser().parse_args(argv)
    fake = ServedFakeHubSpot(portal_id=args.portal_id)
    try:
        fake.start(host=args.host, port=args.port)
    except OSError as exc:
        print(
            f"skypanel-fake-hubspot: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    if args.webhook_url:
        fake.subscribe_webhooks(args.webhook_url, args.app_secret)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"Fake HubSpot at {fake.base_url}")
    print(f"  portal id:       {fake.portal_id}")
    print(f"  access token:    {FAKE_TOKEN}")
    print(f"  app secret:      {args.app_secret}")
    print(f"  control API:     {fake.base_url}{CONTROL_PREFIX} (see docs/fake-hubspot-server.md)")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        stop.wait()
    finally:
        fake.stop()
    return 0
