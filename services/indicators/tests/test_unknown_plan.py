"""A plan the catalog does not know is a 404 problem, not a 503 (the catalog answered)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from indicators.main import create_app
from indicators.settings import IndicatorsSettings
from indicators.sources.memory import MemoryCatalog, MemoryRecords
from indicators.sources.protocols import PlanNotFound
from indicators.sources.types import IndicatorInfo
from pilnveide_kit.testing import TokenFactory


class CatalogOfOnePlan(MemoryCatalog):
    """The catalog as the HTTP source sees it: a plan it lacks is PlanNotFound."""

    async def indicators(self, plan: str) -> list[IndicatorInfo]:
        if plan != "LAP-2021-2027":
            raise PlanNotFound(f"The catalog has no plan {plan!r}")
        return await super().indicators(plan)


@pytest.mark.parametrize("path", ["/v1/plan/progress", "/v1/results"])
def test_plan_progress_and_results_of_an_unknown_plan_are_404(
    path: str, settings: IndicatorsSettings, tokens: TokenFactory
) -> None:
    app = create_app(settings, records=MemoryRecords(), catalog=CatalogOfOnePlan())
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = tokens.headers("indicators:read")
        answer = client.get(f"{path}?plan=NOPE", headers=headers)
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("plan-not-found")
        assert client.get(path, headers=headers).status_code == 200
