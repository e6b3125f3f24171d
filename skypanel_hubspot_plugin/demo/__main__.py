"""``python -m skypanel_hubspot_plugin.demo`` (``make demo``): the demo panel on 127.0.0.1.

Prints the panel's address and the admin password, and, unless ``--hubspot-base-url``
points at a real HubSpot, starts the built-in fake HubSpot and prints the token and
portal id it accepts, for the admin to paste into the settings page. Serves until
Ctrl-C, then fires ``skypanel_shutdown``, stops the fake and, unless ``--data-dir`` was
given, removes the temporary data directory.
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from pathlib import Path

import uvicorn

from skypanel_hubspot_plugin.testing import (
    FAKE_APP_SECRET,
    FAKE_CONTACT_FORM_ID,
    FAKE_PORTAL_ID,
    FAKE_TICKET_FORM_ID,
    FAKE_TOKEN,
    FakeHubSpot,
)

from .app import create_app
from .config import ADMIN_USERNAME, DemoConfig
from .sandbox_pages import add_sandbox_forms, subscribe_sandbox_webhooks

PASSWORD_ENV = "SKYPANEL_DEMO_ADMIN_PASSWORD"
LOOPBACK = ("127.0.0.1", "localhost")
FAKE_SAMPLE_CUSTOMERS = 150


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m skypanel_hubspot_plugin.demo",
        description="A small panel host with the HubSpot plugin, on 127.0.0.1.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to serve on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to serve on (default: %(default)s)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the SQLite database and the encryption key live, kept after exit "
        "(default: a temporary directory removed at exit)",
    )
    parser.add_argument(
        "--admin-password",
        default=os.environ.get(PASSWORD_ENV),
        help=f"the admin's password (default: ${PASSWORD_ENV}, else a random one)",
    )
    parser.add_argument(
        "--hubspot-base-url",
        help="HubSpot's API address, e.g. https://api.hubapi.com for a real portal "
        "(default: start the built-in fake HubSpot on loopback)",
    )
    parser.add_argument(
        "--sample-customers",
        type=int,
        help="example customers an empty panel starts with, for the contact backfill "
        f"(default {FAKE_SAMPLE_CUSTOMERS} with the fake HubSpot, none with a real one)",
    )
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK:
        parser.error("the demo panel only serves on a loopback address such as 127.0.0.1")
    return args


def listen(host: str, port: int) -> socket.socket:
    """The panel's listening socket, taken before anything is printed, so a busy port is
    one line and exit 2, not a password for a panel that never starts."""
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        busy = exc.errno == errno.EADDRINUSE
        reason = "is already in use (another demo?)" if busy else f"cannot be used: {exc.strerror}"
        print(
            f"error: port {port} on {host} {reason}; stop what holds it, or pick another "
            "port with --port",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sock = listen(args.host, args.port)
    password = args.admin_password or secrets.token_urlsafe(12)
    with ExitStack() as stack:
        stack.callback(sock.close)
        if args.data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="skypanel-demo-"))
            stack.callback(shutil.rmtree, data_dir, ignore_errors=True)
        else:
            data_dir = args.data_dir
        base_url = args.hubspot_base_url
        fake = None
        samples = args.sample_customers
        if base_url is None:
            fake = stack.enter_context(FakeHubSpot())
            base_url = fake.base_url
            webhook_url = f"http://{args.host}:{args.port}/api/hubspot/webhooks"
            subscribe_sandbox_webhooks(fake, webhook_url)
            add_sandbox_forms(fake)
            samples = FAKE_SAMPLE_CUSTOMERS if samples is None else samples
        config = DemoConfig(
            data_dir=data_dir,
            admin_password=password,
            hubspot_base_url=base_url,
            # example.com customers have no business in a real portal unless asked for
            sample_customers=samples or 0,
            sandbox=fake,
            public_base_url=f"http://{args.host}:{args.port}",
        )
        app = create_app(config)
        print(f"SkyPANEL demo panel: http://{args.host}:{args.port}/")
        print(f"  admin settings:    http://{args.host}:{args.port}/admin/settings")
        print(f"  admin login:       {ADMIN_USERNAME} / {password}")
        print(f"  data directory:    {data_dir}")
        if fake is not None:
            print(f"Fake HubSpot at {fake.base_url}; paste these into the settings page:")
            print(f"  HubSpot portal ID:    {FAKE_PORTAL_ID}")
            print(f"  HubSpot access token: {FAKE_TOKEN}")
            print(f"  HubSpot app client secret (webhooks): {FAKE_APP_SECRET}")
            print(f"  HubSpot contact form ID: {FAKE_CONTACT_FORM_ID}")
            print(f"  HubSpot ticket form ID:  {FAKE_TICKET_FORM_ID}")
            print(
                f"  sandbox (act as a HubSpot agent): http://{args.host}:{args.port}/admin/sandbox"
            )
        else:
            print(f"HubSpot API: {base_url}")
        # uvicorn stops gracefully on SIGINT or SIGTERM, then raises the signal again once
        # it is done; as an exception, either still lets the clean-up above run.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        with suppress(KeyboardInterrupt):
            server = _ReadyServer(
                uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
            )
            server.run(sockets=[sock])
    print("Demo panel stopped.")


class _ReadyServer(uvicorn.Server):
    """Says "Press Ctrl-C" once the panel answers: after its start-up (the plugin's
    included) and once uvicorn serves, not while a request would still wait."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print("Press Ctrl-C to stop.", flush=True)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    main()
