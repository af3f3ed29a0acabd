"""Documentation stays true to the code: every setting is documented, links resolve."""

from __future__ import annotations

import importlib
import re
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
