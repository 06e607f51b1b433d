"""Optional py-spy sampling of the server during load phases (``--py-spy DIR``), and its summary."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
from pathlib import Path
from typing import Any


class Profiler:
    """Optional py-spy sampling of a server process for one phase (``--py-spy DIR``).

    Samples only the thread holding the GIL (``--gil``): the Python work of the event loop and
    of the database thread. SQLite's own work runs without the GIL and shows in the CPU split
    instead (``server_other_threads_cpu_us_per_request``: mostly the database thread)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.results: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def phase(self, name: str, pid: int | None):
        if self.directory is None or pid is None or shutil.which("py-spy") is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        out = self.directory / f"{name}.txt"
        proc = await asyncio.create_subprocess_exec(
            "py-spy", "record", "--pid", str(pid), "--rate", "250", "--format", "raw",
            "--output", str(out), "--threads", "--gil",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.3)  # let py-spy attach
        try:
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
            if out.exists():
                top = summarise_collapsed(out)
                self.results[name] = top
                (self.directory / f"{name}.top.txt").write_text(format_profile(name, top))


_LINE_NUMBER = re.compile(r":\d+\)$")


def summarise_collapsed(path: Path, limit: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function (line numbers merged) from py-spy's raw
    (collapsed) output; the raw file keeps the line-level detail."""
    self_counts: dict[str, int] = {}
    total_counts: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for frame in stack.split(";"):
            if frame.startswith("thread ("):
                # Keep which thread it was (the event loop or the database thread), not its id.
                frames.append("[" + frame.split(": ", 1)[-1].strip() + "]")
            else:
                frames.append(_LINE_NUMBER.sub(")", frame))
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        self_counts[leaf] = self_counts.get(leaf, 0) + count
        for frame in set(frames):
            total_counts[frame] = total_counts.get(frame, 0) + count

    def top(counts: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
        return [(name, round(100.0 * n / max(total, 1), 1)) for name, n in ranked]

    return {"samples": total, "self_pct": top(self_counts), "inclusive_pct": top(total_counts)}


def format_profile(name: str, top: dict[str, Any]) -> str:
    lines = [f"== {name}: {top['samples']} samples", "-- self time"]
    lines += [f"{pct:5.1f}%  {fn}" for fn, pct in top["self_pct"]]
    lines.append("-- inclusive time")
    lines += [f"{pct:5.1f}%  {fn}" for fn, pct in top["inclusive_pct"]]
    return "\n".join(lines) + "\n"
