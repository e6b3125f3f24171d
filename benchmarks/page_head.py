"""What ``skypanel_page_head`` costs a page: median time per call through the plugin manager.

Compares the plugin's hook (cached settings, chat enabled) with a bare pluggy hook that
returns a constant string, on the same plugin manager machinery. Prints both and the ratio.

    python benchmarks/page_head.py [--calls 20000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import pluggy
from sqlalchemy import create_engine, event

from skypanel_hubspot_plugin import HostContext, PageContext, hookimpl, hookspecs, plugin_manager
from skypanel_hubspot_plugin.runtime import current
from skypanel_hubspot_plugin.settings.secrets import generate_key

TOKEN = "pat-na1-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


class ConstantHead:
    @hookimpl
    def skypanel_page_head(self, page: PageContext) -> str:
        return '<script src="https://example.invalid/x.js"></script>'


def per_call_ns(hook: pluggy.HookCaller, page: PageContext, calls: int, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(calls):
            hook(page=page)
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        pm = plugin_manager()
        pm.hook.skypanel_startup(
            host=HostContext(
                engine=engine, secret_keys=[generate_key()], hubspot_base_url="http://127.0.0.1:9"
            )
        )
        current().store.save(
            {
                "hubspot_enabled": True,
                "hubspot_portal_id": "12345678",
                "hubspot_api_key": TOKEN,
                "hubspot_chat_enabled": True,
                "hubspot_region": "eu1",
            }
        )
        page = PageContext(path="/", csp_nonce="n0nce")
        assert pm.hook.skypanel_page_head(page=page), "chat loader expected"

        bare = pluggy.PluginManager("skypanel")
        bare.add_hookspecs(hookspecs)
        bare.register(ConstantHead())

        statements: list[str] = []
        main = threading.main_thread()

        def count(*args: object) -> None:  # the page's thread only, not the settings watcher
            if threading.current_thread() is main:
                statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        plugin_ns = per_call_ns(pm.hook.skypanel_page_head, page, args.calls, args.repeats)
        sql_per_page = len(statements) / (args.calls * args.repeats)
        bare_ns = per_call_ns(bare.hook.skypanel_page_head, page, args.calls, args.repeats)
        pm.hook.skypanel_shutdown()
        engine.dispose()

    print(f"skypanel_page_head (plugin, cached settings): {plugin_ns / 1000:8.2f} µs/call (median)")
    print(f"bare pluggy hook returning a constant:        {bare_ns / 1000:8.2f} µs/call (median)")
    print(
        f"ratio: {plugin_ns / bare_ns:.1f}x (goal: at most 3x)   "
        f"({args.calls} calls x {args.repeats} repeats)"
    )
    print(f"SQL statements per page: {sql_per_page:g} (goal: 0)")


if __name__ == "__main__":
    main()
