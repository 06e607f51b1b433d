"""A Synapse to measure beside minihs, in the same benchmark run (scripts/bench_stream.py
``--synapse-python``). Synapse is never a dependency of minihs: point ``--synapse-python`` at the
interpreter of a separate venv where ``matrix-synapse`` is installed.

``SynapseProcess`` generates a configuration in a temporary directory (never in the repository),
adjusts it for benchmarking and runs ``python -m synapse.app.homeserver`` on 127.0.0.1:

- SQLite database, one HTTP listener on 127.0.0.1 on a free port, client resource only;
- open registration without verification (``m.login.dummy``), as the benchmark registers its users;
- every ``rc_*`` rate limit lifted (a benchmark would only measure 429s), as minihs runs with its
  rate limits off;
- bcrypt_rounds 4: the benchmark registers hundreds of users and password hashing is not what is
  measured (minihs runs with its testing profile's cheap hashing for the same reason);
- ``caches.sync_response_cache_duration`` 0: by default Synapse keeps a finished /sync answer for
  2 minutes and gives it again to an identical request, so repeating one initial sync would time
  a cache lookup, not a sync;
- log level WARNING (minihs's benchmark configuration logs warnings only, no access log);
- no trusted key servers: the machine reaches no other homeserver, and nothing here federates;
- presence and everything else as generated (the defaults).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

import aiohttp
import yaml

from benchkit.server import stop_process

START_TIMEOUT_S = 180.0
_LIFTED = {"per_second": 100000, "burst_count": 1000000}

# The rate limit settings of Synapse 1.163 (docs: "Ratelimiting" in the configuration manual).
# Synapse ignores a key it does not know, so a setting older or newer versions lack does no harm.
RATE_LIMITS = {
    "rc_message": _LIFTED,
    "rc_registration": _LIFTED,
    "rc_registration_token_validity": _LIFTED,
    "rc_login": {"address": _LIFTED, "account": _LIFTED, "failed_attempts": _LIFTED},
    "rc_admin_redaction": _LIFTED,
    "rc_joins": {"local": _LIFTED, "remote": _LIFTED},
    "rc_joins_per_room": _LIFTED,
    "rc_3pid_validation": _LIFTED,
    "rc_invites": {"per_room": _LIFTED, "per_user": _LIFTED, "per_issuer": _LIFTED},
    "rc_third_party_invite": _LIFTED,
    "rc_room_creation": _LIFTED,
    "rc_reports": _LIFTED,
    "rc_presence": {"per_user": _LIFTED},
    "rc_delayed_event_mgmt": _LIFTED,
    "rc_media_create": _LIFTED,
    "rc_key_requests": _LIFTED,
}

LOG_CONFIG = {
    "version": 1,
    "formatters": {"precise": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"}},
    "handlers": {"file": {"class": "logging.FileHandler", "formatter": "precise",
                          "filename": "", "encoding": "utf8"}},
    "root": {"level": "WARNING", "handlers": ["file"]},
    "disable_existing_loggers": False,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def synapse_version(python: str) -> str | None:
    import subprocess

    done = subprocess.run([python, "-c", "import synapse; print(synapse.__version__)"],
                          capture_output=True, text=True)
    return done.stdout.strip() or None if done.returncode == 0 else None


class SynapseProcess:
    """A benchmark Synapse in ``workdir``: ``await start(session)``, then ``base_url`` and ``pid``."""

    def __init__(self, python: str, workdir: Path) -> None:
        self.python = python
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self.config_path = workdir / "homeserver.yaml"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    async def _run(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            self.python, "-m", "synapse.app.homeserver", *args, cwd=str(self.workdir),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"synapse {' '.join(args)} failed:\n{out.decode(errors='replace')[-2000:]}")

    async def configure(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self._run("--server-name", "localhost", "--config-path", str(self.config_path),
                        "--data-directory", str(self.workdir), "--generate-config", "--report-stats=no")
        config = yaml.safe_load(self.config_path.read_text())
        port = free_port()
        config["listeners"] = [{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
            "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}],
        }]
        config["database"] = {"name": "sqlite3", "args": {"database": str(self.workdir / "homeserver.db")}}
        config["enable_registration"] = True
        config["enable_registration_without_verification"] = True
        config["bcrypt_rounds"] = 4
        config["trusted_key_servers"] = []
        config["suppress_key_server_warning"] = True
        config["caches"] = {"sync_response_cache_duration": 0}
        config.update(RATE_LIMITS)
        log_config = dict(LOG_CONFIG)
        log_config["handlers"] = {"file": dict(LOG_CONFIG["handlers"]["file"],
                                               filename=str(self.workdir / "homeserver.log"))}
        log_path = self.workdir / "log.yaml"
        log_path.write_text(yaml.safe_dump(log_config))
        config["log_config"] = str(log_path)
        self.config_path.write_text(yaml.safe_dump(config))
        self.base_url = f"http://127.0.0.1:{port}"

    async def start(self, session: aiohttp.ClientSession) -> float:
        """Configure, launch, and wait until /_matrix/client/versions answers 200; the seconds taken."""
        began = time.perf_counter()
        await self.configure()
        self._stderr = open(self.workdir / "stderr.log", "ab")
        self.proc = await asyncio.create_subprocess_exec(
            self.python, "-m", "synapse.app.homeserver", "--config-path", str(self.config_path),
            cwd=str(self.workdir), stdout=self._stderr, stderr=self._stderr)
        while True:
            if self.proc.returncode is not None:
                raise RuntimeError(f"synapse exited {self.proc.returncode}: see {self.workdir}/stderr.log")
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with session.get(self.base_url + "/_matrix/client/versions") as resp:
                    await resp.read()
                    if resp.status == 200:
                        return time.perf_counter() - began
            if time.perf_counter() - began > START_TIMEOUT_S:
                await self.stop()
                raise RuntimeError(f"synapse did not answer within {START_TIMEOUT_S} s")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc is None:
            return
        await stop_process(self.proc)
        self._stderr.close()
        self.proc = None
