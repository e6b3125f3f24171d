"""``skypanel-hubspot sync-contacts``: every panel user sent to HubSpot as a contact, with a
progress bar, resumable, and ``--check`` to see first what HubSpot would refuse."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Engine
from tqdm import tqdm

from skypanel_hubspot_plugin import runtime as runtime_module
from skypanel_hubspot_plugin.audit.trail import Actor
from skypanel_hubspot_plugin.cli_check import add_check_options, check_contacts
from skypanel_hubspot_plugin.cli_runtime import PARKED, UsageError, command_runtime
from skypanel_hubspot_plugin.command_options import seconds, whole_number
from skypanel_hubspot_plugin.common.scrub import scrub
from skypanel_hubspot_plugin.delivery.backfill import DONE
from skypanel_hubspot_plugin.delivery.timings import Timings
from skypanel_hubspot_plugin.delivery.worker import Worker
from skypanel_hubspot_plugin.payloads import HostContext, ListUsers

MAX_PAGE = 10_000  # users asked of the host per page; HubSpot gets batches of 100 anyway
MAX_GIVE_UP_S = 86_400.0
#: How often sync-contacts reads its progress while the worker sends.
PROGRESS_EVERY_S = 0.5
#: Delivery threads of sync-contacts.
SENDERS = 2
USERS_ENV = "SKYPANEL_USERS_SOURCE"


def users_source(spec: str, engine: Engine) -> ListUsers:
    """``module:factory`` → ``factory(engine)``, the host's ``list_users(after, limit)``."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"--users must look like package.module:factory, not {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"--users {spec}: {exc}") from None
    source = factory(engine)
    if not callable(source):
        raise UsageError(
            f"--users {spec}: {attribute}(engine) must return list_users(after, limit)"
        )
    return source  # type: ignore[no-any-return]


def cmd_sync_contacts(args: argparse.Namespace) -> int:
    rt = command_runtime(args)
    list_users = users_source(args.users, rt.store.engine) if args.users else rt.list_users
    if list_users is None:
        raise UsageError("sync-contacts needs --users (or the host's list_users)")
    settings = rt.settings()
    if settings.token is None and (problem := settings.problems.get("hubspot_api_key")):
        print(f"error: {scrub(problem)}", file=sys.stderr)
        return 1
    if args.check:
        if settings.token is None:
            print("error: save an access token first", file=sys.stderr)
            return 1
        return check_contacts(
            rt, list_users, shown=args.show, page_size=args.page_size, as_json=args.json
        )
    if not settings.enabled or settings.token is None:
        print("error: enable HubSpot and save an access token first", file=sys.stderr)
        return 1
    timings = Timings()
    # Two senders: while one waits for the database, the other folds, sends or reads
    # HubSpot's answer. They share the rate limit and claim different records.
    senders = [Worker(rt, timings=timings) for _ in range(SENDERS)]
    try:
        return _sync_contacts(rt, list_users, senders, args.page_size, args.give_up_after)
    finally:
        # The next run need not wait for the lease; if this fails, the lease frees them.
        for sender in senders:
            with suppress(Exception):
                rt.outbox.release(sender.worker_id)


def _sync_contacts(
    rt: runtime_module.Runtime,
    list_users: ListUsers,
    senders: list[Worker],
    page_size: int,
    give_up_after: float,
) -> int:
    # The worker sends on its own thread while users are still being read, so the run
    # takes about as long as HubSpot's rate limit allows, not reading plus sending.
    # Ctrl-C asks both to stop at their next safe point (between two database
    # transactions), so an interrupted run leaves nothing half-written and resumes cleanly.
    # A second Ctrl-C stops at once.
    interrupted = threading.Event()
    failure = ""
    timings = senders[0].timings
    actor = Actor.command_line()
    with _stop_on_ctrl_c(interrupted, *(s.stop_event for s in senders)):
        job = rt.backfills.start_or_resume(actor)
        outcome = "failed"  # until it is known better: an exception ends it too
        for sender in senders:
            sender.start_thread()
        try:
            if job.queued_all_at is None:
                verb = "Resuming" if job.queued else "Starting"
                print(f"{verb} contact backfill {job.id}.", file=sys.stderr)
                with tqdm(desc="Reading users", unit=" users", initial=job.queued) as bar:
                    rt.backfills.queue_all(
                        job,
                        list_users,
                        page_size=page_size,
                        stop=interrupted,
                        on_page=bar.update,
                        timings=timings,
                    )
            elif not interrupted.is_set():
                print(f"Resuming contact backfill {job.id}: every user is queued.", file=sys.stderr)
            progress = rt.backfills.progress(job)
            with tqdm(
                desc="Sending to HubSpot",
                unit=" contacts",
                total=progress.queued,
                initial=progress.delivered + progress.dead,
            ) as bar:
                moved_at = time.monotonic()
                while progress.state != DONE and not interrupted.wait(PROGRESS_EVERY_S):
                    progress = rt.backfills.progress(job)
                    if progress.delivered + progress.dead > bar.n:
                        moved_at = time.monotonic()
                    bar.update(progress.delivered + progress.dead - bar.n)
                    if not rt.settings().enabled:
                        failure = "HubSpot was disabled during the backfill"
                        break
                    error = rt.backfills.last_error(job)
                    bar.set_postfix_str(f"retrying: {scrub(error)[:70]}" if error else "")
                    if error and time.monotonic() - moved_at > give_up_after:
                        failure = (
                            f"no contact reached HubSpot for {give_up_after:g} s; HubSpot's last "
                            f"answer: {scrub(error)}. Nothing is lost: run sync-contacts again "
                            "to resume."
                        )
                        break
            if failure:  # after the bar is closed, so the reason is the last line
                print(f"error: {failure}", file=sys.stderr)
                return 1
            outcome = DONE
        finally:
            for sender in senders:
                sender.stop()
            if interrupted.is_set():
                outcome = "interrupted"
            with suppress(Exception):  # the run's own error is the one to report
                rt.backfills.record_end(job, actor, outcome)
    if interrupted.is_set():
        raise KeyboardInterrupt
    print(
        f"Backfill {progress.id}: {progress.queued} users, {progress.delivered} delivered, "
        f"{progress.dead} parked."
    )
    print(f"Time, summed over {len(senders)} senders: {timings.summary()}.", file=sys.stderr)
    if progress.dead:
        print(f"See why with: skypanel-hubspot deliveries --status {PARKED}", file=sys.stderr)
        return 1
    return 0


@contextmanager
def _stop_on_ctrl_c(*stops: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum: int, frame: object) -> None:
        for stop in stops:
            stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def sync_options(p: argparse.ArgumentParser, host: HostContext | None) -> None:
    given = (host is not None and host.list_users is not None) or USERS_ENV in os.environ
    p.add_argument(
        "--users",
        default=os.environ.get(USERS_ENV),
        required=not given,
        metavar="MODULE:FACTORY",
        help=f"the host's factory(engine) returning list_users(after, limit) "
        f"(default: ${USERS_ENV}, else the host's own list_users)",
    )
    p.add_argument(
        "--page-size",
        type=whole_number(1, MAX_PAGE),
        default=500,
        help=f"users read from the panel per page, 1 to {MAX_PAGE} (default: %(default)s)",
    )
    add_check_options(p)
    p.add_argument(
        "--give-up-after",
        type=seconds(1.0, MAX_GIVE_UP_S),
        default=120.0,
        metavar="SECONDS",
        help="stop with exit 1 when HubSpot keeps failing and no contact got through for this "
        f"long, 1 to {MAX_GIVE_UP_S:g}; running it again resumes (default: %(default)s)",
    )
