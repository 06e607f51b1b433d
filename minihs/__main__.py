"""Command line: ``python -m minihs`` (the ``minihs`` command). ``--help`` describes it all.

Arguments are parsed, and ``--help``, ``--version`` and ``--print-config`` answered, before
aiohttp or the server is imported: those answer at once, and a bad flag costs no import.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.resources
import json
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Any

from minihs import __version__
from minihs.config import LOG_LEVELS, Config, ConfigError, apply_testing_profile, load_config

# Seconds that open requests get to finish after a shutdown signal.
SHUTDOWN_GRACE_S = 10.0

EXIT_STOPPED = 0
EXIT_CANNOT_START = 1
EXIT_BAD_CONFIGURATION = 2  # also argparse's own code for bad arguments

log = logging.getLogger("minihs")


class StartupError(Exception):
    """The server cannot start; the message is the one line the CLI prints after ``minihs: ``."""


class ScenarioRefused(Exception):
    """The --scenario file broke a rule; the message names the file, the line and the rule."""


def _help_epilog() -> str:
    return """\
settings, weakest first:
  built-in defaults < the --testing profile < the --config file < the flags above

once listening, it prints exactly one line to stdout (logs go to stderr):
  minihs listening on http://HOST:PORT
with the real port when --port 0 asked for a free one. SIGINT or SIGTERM stops it cleanly.
With --scenario, the scenario is loaded before that line, and a second line follows it: the
scenario's names mapped to the real IDs and access tokens, as one line of JSON
({"users": {...}, "rooms": {...}, "messages": {...}}; --scenario-out writes it to a file too).

exit codes:
  0  stopped by SIGINT or SIGTERM
  1  cannot start: the address cannot be listened on (port taken, unknown host) or the
     database cannot be opened (no such directory, not SQLite, in use by another minihs)
  2  bad configuration or arguments (one line on stderr names the file and key, or the
     argument), or a --scenario that cannot be read or breaks a rule (one line names the
     file, the line and the rule; nothing is served)

python -m minihs --print-config > minihs.yaml writes the commented sample configuration.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = Config()
    parser = argparse.ArgumentParser(
        prog="minihs",
        description="A small Matrix homeserver (Client-Server API: accounts, rooms, membership, "
        "mutual rooms).",
        epilog=_help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", metavar="FILE", help="YAML config file (default: none, built-in defaults)"
    )
    parser.add_argument(
        "--host",
        help=f"address to listen on (listen.host; default: {defaults.listen.host})",
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"port to listen on, 0 for a free one (listen.port; default: {defaults.listen.port})",
    )
    parser.add_argument(
        "--database",
        metavar="PATH",
        help=f"SQLite file, or :memory: (database.path; default: {defaults.database.path})",
    )
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        help=f"log_level (default: {defaults.log_level})",
    )
    parser.add_argument(
        "--testing",
        action="store_true",
        help="the test-fixture profile: in-memory database, cheapest password hashing, no rate "
        "limits, no access log, the admin API and the request log on (a --config file and the "
        "flags above still override each of these)",
    )
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        help="load this scenario (YAML or JSON: users, rooms with their members, messages) once "
        "listening, before the ready line; its ID map is printed on the line after it",
    )
    parser.add_argument(
        "--scenario-out",
        metavar="FILE",
        help="also write the --scenario's ID map to FILE (JSON), before the ready line",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the commented sample configuration (every key, with its meaning) and exit",
    )
    parser.add_argument("--version", action="version", version=f"minihs {__version__}")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> Config:
    """Defaults, then the testing profile, then the config file, then the flags."""
    config = apply_testing_profile(Config()) if args.testing else Config()
    if args.config:
        config = load_config(args.config, base=config)
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


def sample_config_text() -> str:
    """config.sample.yaml as shipped inside the package."""
    sample = importlib.resources.files("minihs") / "config.sample.yaml"
    return sample.read_text(encoding="utf-8")


def check_database_directory(path: str) -> None:
    """SQLite's own message for a file in a missing directory is "unable to open database
    file", which does not say which part is wrong."""
    if path == ":memory:" or path.startswith("file:"):
        return
    directory = Path(path).parent
    if not directory.exists():
        raise StartupError(f"cannot open the database {path}: directory {directory} does not exist")
    if not directory.is_dir():
        raise StartupError(f"cannot open the database {path}: {directory} is not a directory")


def describe_sources(args: argparse.Namespace) -> str:
    """Where the settings came from, for the startup log line."""
    base = "testing profile" if args.testing else "built-in defaults"
    return f"{args.config} over the {base}" if args.config else base


async def serve(
    config: Config,
    config_source: str = "built-in defaults",
    scenario: "Scenario | None" = None,
) -> None:
    """Listen until SIGINT or SIGTERM, then stop cleanly. With ``scenario``, load it once
    listening and before the ready line; its ID map follows that line."""
    import asyncio
    import signal

    from aiohttp import web  # imported only once the arguments are known to be good

    from minihs.api.app import create_app, make_runner
    from minihs.api.request import HOMESERVER

    app = create_app(config)
    runner = make_runner(app, config, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S)
    # Signal handlers first: a supervisor may signal the moment it reads the ready line.
    stop = asyncio.Event()
    received: list[str] = []
    loop = asyncio.get_running_loop()

    def stop_on(name: str) -> None:
        received.append(name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_on, signum.name)
    await runner.setup()
    try:
        host, port = config.listen.host, config.listen.port
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            shown = f"[{host}]" if ":" in host else host
            raise StartupError(f"cannot listen on {shown}:{port}: {exc.strerror or exc}") from None
        bound_host, bound_port = runner.addresses[0][:2]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        url = f"http://{shown_host}:{bound_port}"
        ids = None if scenario is None else await scenario.load(app[HOMESERVER])
        print(f"minihs listening on {url}", flush=True)
        if ids is not None:
            print(json.dumps(ids, separators=(",", ":")), flush=True)
        database = config.database.path
        if database != ":memory:" and not database.startswith("file:"):
            database = str(Path(database).resolve())
        log.info(
            "started: minihs %s, server name %s, database %s, config %s, listening on %s",
            __version__, config.server_name, database, config_source, url,
        )
        await stop.wait()
    finally:
        # Stops accepting, lets open requests finish, then runs cleanup (closes the database).
        await runner.cleanup()
    log.info("stopped on %s: open requests finished, database closed", ", ".join(received))


@dataclasses.dataclass
class Scenario:
    """A --scenario file, read before anything starts."""

    path: str
    text: bytes
    out: str | None

    @classmethod
    def read(cls, path: str, out: str | None) -> "Scenario":
        try:
            return cls(path, Path(path).read_bytes(), out)
        except OSError as exc:
            raise ConfigError(f"--scenario: cannot read {path}: {exc.strerror or exc}") from None

    async def load(self, homeserver: Any) -> dict[str, Any]:
        from minihs.domain.scenarios.document import syntax_of
        from minihs.spec.errors import MatrixError

        try:
            ids = await homeserver.load_scenario(
                self.text, source=self.path, syntax=syntax_of(self.path)
            )
        except MatrixError as error:
            raise ScenarioRefused(f"{error.errcode}: {error.message}") from None
        if self.out is not None:
            try:
                Path(self.out).write_text(json.dumps(ids, indent=2) + "\n", encoding="utf-8")
            except OSError as exc:
                raise StartupError(f"cannot write {self.out} (--scenario-out): {exc.strerror or exc}") from None
        return ids


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.print_config:
        sys.stdout.write(sample_config_text())
        return EXIT_STOPPED
    from minihs.api import event_loop  # asyncio's import alone is 40 ms: not for --help

    try:
        config = build_config(args)
        new_loop = event_loop.loop_factory(config.event_loop)
        if args.scenario_out is not None and args.scenario is None:
            raise ConfigError("--scenario-out: needs --scenario")
        scenario = None if args.scenario is None else Scenario.read(args.scenario, args.scenario_out)
    except ConfigError as exc:
        print(f"minihs: configuration error: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        check_database_directory(config.database.path)
        event_loop.run(serve(config, describe_sources(args), scenario), new_loop)
    except ScenarioRefused as exc:
        print(f"minihs: scenario refused: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    except StartupError as exc:
        print(f"minihs: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except sqlite3.Error as exc:
        # A file that is not SQLite, a schema newer than this code, a directory not writable.
        path = config.database.path
        print(f"minihs: cannot open the database {path} (database.path): {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except OSError as exc:
        print(f"minihs: cannot start: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    return EXIT_STOPPED


if __name__ == "__main__":
    sys.exit(main())
