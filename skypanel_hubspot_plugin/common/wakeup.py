"""A process-wide wake-up call for sleeping workers: anything that gives them work calls
:func:`wake_all` (a recorded event, a replay, a settings save), and each sleeping worker
waits on the event it :func:`register`\\ ed."""

from __future__ import annotations

import threading
import weakref

_waiting: weakref.WeakSet[threading.Event] = weakref.WeakSet()
_lock = threading.Lock()


def register() -> threading.Event:
    event = threading.Event()
    with _lock:
        _waiting.add(event)
    return event


def unregister(event: threading.Event) -> None:
    with _lock:
        _waiting.discard(event)
    event.set()


def wake_all() -> None:
    """Wakes every sleeping worker of this process."""
    with _lock:
        waiting = list(_waiting)
    for event in waiting:
        event.set()
