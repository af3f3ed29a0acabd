"""Documentation stays true to the code: every setting is documented, links resolve."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = [
    ("catalog.settings", "CatalogSettings"),
    ("learning_records.settings", "LearningRecordsSettings"),
    ("indicators.settings", "IndicatorsSettings"),
    ("gateway.settings", "GatewaySettings"),
]


def _env_names(module: str, cls_name: str) -> list[str]:
    cls = getattr(importlib.import_module(module), cls_name)
    prefix = cls.model_config.get("env_prefix", "")
    return [f"{prefix}{name}".upper() for name in cls.model_fields]


@pytest.mark.parametrize(("module", "cls_name"), SETTINGS)
def test_every_setting_is_documented(module: str, cls_name: str) -> None:
    documented = "\n".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))
    missing = [name for name in _env_names(module, cls_name) if f"`{name}`" not in documented]
    assert missing == [], (
        f"document these in docs/ (configuration.md or the service's page): {missing}"
    )


def test_relative_links_in_markdown_resolve() -> None:
    broken = []
    for document in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (document.parent / target).exists():
                broken.append(f"{document.relative_to(ROOT)} -> {target}")
    assert broken == []


#: README commands not run here, and why (a new command must be run or listed with a reason).
NOT_RUN = {
    "make run": "starts the servers and runs until Ctrl-C (tests/test_system.py drives its runner)",
    "make test": "is the whole suite, this test included",
}


def _readme_commands() -> list[str]:
    """The shell commands of README.md's sh code blocks, continuation lines joined."""
    commands = []
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    for block in blocks:
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = re.split(r"\s{2,}#", line)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def _needs_a_server(command: str) -> bool:
    return bool(re.search(r"localhost:|127\.0\.0\.1:|\$TOKEN", command))


def _fresh_shell_environment() -> dict[str, str]:
    """The environment of a newcomer's shell: no uv, nothing of the repository on PATH."""
    path = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        place = Path(entry).resolve()
        if place == ROOT or ROOT in place.parents or (place / "uv").exists():
            continue
        path.append(entry)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(path)
    return env


def test_readme_commands_are_all_accounted_for() -> None:
    commands = _readme_commands()
    assert "make run" in commands and ".venv/bin/records-import --help" in commands
    assert not [c for c in commands if "../" in c], "README commands stay inside the clone"
    unknown = [c for c in NOT_RUN if c not in commands]
    assert unknown == [], f"NOT_RUN names commands README.md no longer has: {unknown}"


@pytest.mark.parametrize(
    "command", [c for c in _readme_commands() if c not in NOT_RUN and not _needs_a_server(c)]
)
def test_readme_command_works_as_written(command: str) -> None:
    # The README's own commands, run by a shell as a reader would type them.
    done = subprocess.run(  # noqa: S602
        command,
        shell=True,
        cwd=ROOT,
        env=_fresh_shell_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{command!r} failed:\n{done.stdout}\n{done.stderr}"
