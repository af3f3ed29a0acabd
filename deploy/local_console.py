"""What `make run` shows: one readable line per event, coloured by process on a terminal.

`PILNVEIDE_LOG_FORMAT` chooses: `auto` (the default) shows text when the runner's output is a
terminal and JSON otherwise, `text` or `json` force one. In text mode every process logs text
lines (`<PREFIX>_LOG_FORMAT=text`) and the runner prefixes each line with the process's name,
coloured when the output is a terminal (unless `NO_COLOR` is set). In JSON mode the processes
write their JSON lines straight to the runner's output, as in production.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import IO

FORMAT_ENV = "PILNVEIDE_LOG_FORMAT"
#: Environment prefix of each process, for its <PREFIX>_LOG_FORMAT.
PREFIXES = ("CATALOG", "RECORDS", "INDICATORS", "GATEWAY")
COLOURS = ("36", "35", "33", "32", "34")  # cyan, magenta, yellow, green, blue
_TAG = re.compile(r"^\[[\w .-]+\] ")  # "[gateway] …", "[catalog load] …": the prefix says it


def log_format(env: Mapping[str, str], stream: IO[str]) -> str:
    """`text` or `json`, from PILNVEIDE_LOG_FORMAT (auto: text on a terminal)."""
    chosen = env.get(FORMAT_ENV, "auto").strip().lower() or "auto"
    if chosen == "auto":
        return "text" if stream.isatty() else "json"
    if chosen not in ("text", "json"):
        raise SystemExit(f"{FORMAT_ENV} must be auto, text or json, not {chosen!r}")
    return chosen


class Console:
    """The runner's output: its own lines and the processes' lines, one per event."""

    def __init__(self, text: bool, colour: bool, names: Iterable[str]) -> None:
        self.text = text
        self.colour = colour
        self.names = ["run", *names]
        self.width = max(len(name) for name in self.names)
        self._lock = threading.Lock()
        self._pumps: list[threading.Thread] = []

    @classmethod
    def from_env(cls, env: Mapping[str, str], names: Iterable[str]) -> Console:
        """The console PILNVEIDE_LOG_FORMAT and the output stream call for."""
        text = log_format(env, sys.stdout) == "text"
        colour = text and sys.stdout.isatty() and "NO_COLOR" not in env
        return cls(text, colour, names)

    def child_env(self, env: dict[str, str]) -> None:
        """Make the processes log text lines (unless told otherwise) when the console is text."""
        if self.text:
            for prefix in PREFIXES:
                env.setdefault(f"{prefix}_LOG_FORMAT", "text")
            env.setdefault("PYTHONUNBUFFERED", "1")

    def _prefix(self, name: str) -> str:
        label = f"{name:>{self.width}} │"
        if not self.colour:
            return label
        index = self.names.index(name) if name in self.names else 0
        code = "2" if index == 0 else COLOURS[(index - 1) % len(COLOURS)]
        return f"\033[{code}m{label}\033[0m"

    def line(self, name: str, text: str, *, error: bool = False) -> None:
        """One line from a process (or from the runner itself, name "run")."""
        stream = sys.stderr if error and not self.text else sys.stdout
        with self._lock:
            if self.text:
                print(f"{self._prefix(name)} {_TAG.sub('', text)}", file=stream, flush=True)
            else:
                print(f"[{name}] {text}", file=stream, flush=True)

    def say(self, text: str, *, error: bool = False) -> None:
        """A line of the runner's own."""
        self.line("run", text, error=error)

    def plain(self, text: str = "") -> None:
        """A line without prefix (the banner)."""
        with self._lock:
            print(text, flush=True)

    def popen_options(self) -> dict[str, object]:
        """Popen arguments for a process: piped through the console in text mode."""
        if self.text:
            return {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
        return {}

    def pump(self, name: str, child: subprocess.Popen[str]) -> None:
        """Copy a process's piped output, line by line, with its name (text mode only)."""
        if child.stdout is None:
            return

        def copy(stdout: IO[str]) -> None:
            for raw in stdout:
                self.line(name, raw.rstrip("\n"))

        thread = threading.Thread(target=copy, args=(child.stdout,), daemon=True)
        thread.start()
        self._pumps.append(thread)

    def run_step(self, name: str, command: list[str], env: Mapping[str, str]) -> None:
        """Run a preparation step to the end; its output goes through the console."""
        with subprocess.Popen(command, env=env, **self.popen_options()) as child:  # type: ignore[call-overload]
            if child.stdout is not None:
                for raw in child.stdout:
                    self.line(name, raw.rstrip("\n"))
            code = child.wait()
        if code != 0:
            raise SystemExit(f"{name}: `{' '.join(command[2:])}` failed with code {code}")

    def drain(self, timeout_s: float = 5.0) -> None:
        """Let the processes' last lines through before the runner ends."""
        for thread in self._pumps:
            thread.join(timeout=timeout_s)


def own_the_terminal() -> Callable[[], None]:
    """Take the terminal's Ctrl-C for this runner and its processes alone; returns the undo.

    A Ctrl-C reaches every process of the terminal's foreground group. Under `make run` that
    includes make (and uv), which would die of it and report an error whatever the runner does.
    In a process group of its own, made the terminal's foreground group, the runner alone (with
    the processes it starts) gets the Ctrl-C, stops everything and exits 0, and make with it.
    """
    if not sys.stdin.isatty():
        return lambda: None
    fd = sys.stdin.fileno()
    try:
        previous = os.tcgetpgrp(fd)
        os.setpgid(0, 0)
        ignored = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        return lambda: None

    def give_back() -> None:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, previous)
        signal.signal(signal.SIGTTOU, ignored)

    return give_back


def banner(
    console: Console,
    *,
    gateway_port: int,
    services: list[tuple[str, int]],
    admin_id: str,
    admin_secret: str | None,
) -> list[str]:
    """The lines printed once everything answers: URLs, the admin client, commands to try.

    admin_secret None means it came from GATEWAY_ADMIN_CLIENT_SECRET: shown by name only.
    """
    gateway = f"http://127.0.0.1:{gateway_port}"
    secret = admin_secret if admin_secret is not None else "$GATEWAY_ADMIN_CLIENT_SECRET"
    shown_secret = admin_secret or "(the value of GATEWAY_ADMIN_CLIENT_SECRET)"
    host = f"localhost:{gateway_port}"
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    lines = [
        "",
        "Pilnveide is running:",
        f"  {'gateway':<17} {gateway}   docs: {gateway}/docs · {gateway}/redoc",
        *(f"  {name:<17} http://127.0.0.1:{port}" for name, port in services),
        "",
        "Admin API client (created by `gateway prepare`; set GATEWAY_ADMIN_CLIENT_ID and",
        "GATEWAY_ADMIN_CLIENT_SECRET to choose your own):",
        f"  client id      {admin_id}",
        f"  client secret  {shown_secret}",
        "",
        "Try:",
        f"  curl -s {host}/catalog/healthz",
        f'  TOKEN=$(curl -s -u "{admin_id}:{secret}" -d grant_type=client_credentials '
        f"{host}/auth/token | {extract})",
        f'  curl -s -H "Authorization: Bearer $TOKEN" '
        f"'{host}/catalog/v1/measures?plan=LAP-2021-2027'",
        "",
        "Press Ctrl-C to stop.",
        "",
    ]
    for line in lines:
        console.plain(line)
    return lines
