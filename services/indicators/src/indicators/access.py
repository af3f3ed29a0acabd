"""The indicators service's one access rule: whose figures a caller sees, who changes what.

The service reads learning-records with its own unrestricted service client, so the caller's
institution restriction holds only if it is applied here, to every question:
- Results (one indicator, lists, plan progress, explain, Annex 3 norms) are computed over the
  caller's institutions only: a restricted client's records questions name its institutions
  and nothing else, so its totals, breakdown rows and explain members are its own; an
  unrestricted client's cover every institution.
- Definitions and observations hold for every institution (they decide everyone's figures):
  only an unrestricted client with indicators:write may change them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from pilnveide_kit.auth import Principal, require
from pilnveide_kit.errors import Forbidden


class GlobalData(Forbidden):
    """A restricted client tried to change what holds for every institution."""

    slug, title = "global-data", "Global Data"


def results_scope(principal: Principal) -> frozenset[str] | None:
    """The institutions a caller's results are computed over (None: every institution)."""
    return principal.institutions


def global_writer(principal: Annotated[Principal, require("indicators:write")]) -> Principal:
    """An unrestricted writer; 403 for a client restricted to some institutions."""
    if principal.restricted:
        raise GlobalData(
            "Indicator definitions and observations apply to every institution; "
            "a client restricted to some institutions cannot change them"
        )
    return principal


#: A route dependency: indicators:write, and no institution restriction.
GlobalWriter = Annotated[Principal, Depends(global_writer)]
