"""Command line: ``python -m minihs [--config FILE] [--host H] [--port P] [--database PATH]``.

Once listening, prints exactly one line to stdout, ``minihs listening on http://HOST:PORT``,
so that a script in any language can wait for it. SIGINT and SIGTERM stop it cleanly (exit 0).
A bad configuration prints one line naming the file and key, and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sqlite3
import sys

from minihs._server_imports import import_aiohttp_for_server

import_aiohttp_for_server()

from aiohttp import web  # noqa: E402

from minihs.api import event_loop  # noqa: E402
from minihs.api.app import create_app, runner_options  # noqa: E402
from minihs.config import LOG_LEVELS, Config, ConfigError, load_config  # noqa: E402
from minihs.config import apply_testing_profile  # noqa: E402

# Seconds that open requests get to finish after a shutdown signal.
SHUTDOWN_GRACE_S = 10.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="minihs", description="A small Matrix homeserver.")
    parser.add_argument("--config", help="YAML config file (default: built-in defaults)")
    parser.add_argument("--host", help="address to listen on (overrides listen.host)")
    parser.add_argument("--port", type=int, help="port to listen on; 0 picks a free one")
    parser.add_argument("--database", help="SQLite file, or :memory: (overrides database.path)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="overrides log_level")
    parser.add_argument(
        "--testing",
        action="store_true",
        help="test-fixture profile: in-memory database, cheap hashing, no rate limits, "
        "admin reset endpoint on, no access log (each still overridable by the flags above)",
    )
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    config = load_config(args.config) if args.config else Config()
    if args.testing:
        config = apply_testing_profile(config)
    if args.host is not None:
        config.listen.host = args.host
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise ConfigError("--port: must be between 0 and 65535")
        config.listen.port = args.port
    if args.database is not None:
        config.database = dataclasses.replace(config.database, path=args.database)
    if args.log_level is not None:
        config.log_level = args.log_level
    return config


async def serve(config: Config) -> None:
    app = create_app(config)
    runner = web.AppRunner(
        app, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S, **runner_options(config)
    )
    # Signal handlers first: a supervisor may signal the moment it reads the ready line.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.listen.host, config.listen.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        shown_host = f"[{host}]" if ":" in host else host
        print(f"minihs listening on http://{shown_host}:{port}", flush=True)
        await stop.wait()
    finally:
        # Stops accepting, lets open requests finish, then runs cleanup (closes the database).
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"minihs: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        new_loop = event_loop.loop_factory(config.event_loop)
    except ConfigError as exc:
        print(f"minihs: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        event_loop.run(serve(config), new_loop)
    except OSError as exc:
        print(f"minihs: cannot start: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        # A missing directory, a file that is not SQLite, a schema newer than this code.
        path = config.database.path
        print(f"minihs: cannot open the database {path} (database.path): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
