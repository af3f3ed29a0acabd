"""Personal codes never reach the LRS's tables, indexes, answers or logs.

An account whose homePage is one of RECORDS_XAPI_PERSONAL_CODE_HOME_PAGES carries a personal code
as its name. Before a statement is validated, hashed, stored or indexed (and before an `agent`
parameter is looked up) every such account, wherever it appears in the JSON, is replaced by its
pseudonymous form: homePage RECORDS_XAPI_PSEUDONYM_HOME_PAGE, name the keyed pseudonym the rest
of learning-records uses (`people.pseudonyms.pseudonymise`). A deviation from the xAPI
specification, documented in docs/xapi.md.
"""

from __future__ import annotations

from typing import Any

from learning_records.people.pseudonyms import InvalidPersonalCode, pseudonymise
from learning_records.xapi.protocol import XapiBadRequest
from learning_records.xapi.settings import XapiSettings


class PersonalCodes:
    """Replaces personal-code accounts by pseudonymous ones with the deployment's pepper."""

    def __init__(self, settings: XapiSettings, pepper: str) -> None:
        self.home_pages = {h.rstrip("/") for h in settings.personal_code_home_pages}
        self.pseudonym_home_page = settings.pseudonym_home_page
        self.pepper = pepper

    def is_personal(self, account: Any) -> bool:
        """Whether a JSON value is an account carrying a personal code."""
        return (
            isinstance(account, dict)
            and isinstance(account.get("homePage"), str)
            and account["homePage"].rstrip("/") in self.home_pages
        )

    def pseudonymous_account(self, account: dict[str, Any]) -> dict[str, Any]:
        """The pseudonymous form of a personal-code account; 400 when the name is no code."""
        name = account.get("name")
        try:
            if not isinstance(name, str):
                raise InvalidPersonalCode("the name is not a string")
            pseudonym = pseudonymise(name, self.pepper)
        except InvalidPersonalCode as exc:
            raise XapiBadRequest(
                f"An account under a personal-code homePage must name a valid personal code ({exc})"
            ) from None
        return {"homePage": self.pseudonym_home_page, "name": pseudonym}

    def replace(self, value: Any) -> tuple[Any, bool]:
        """A copy of a JSON value with every personal-code account pseudonymised; and whether
        any was."""
        if isinstance(value, list):
            items = [self.replace(item) for item in value]
            return [item for item, _ in items], any(changed for _, changed in items)
        if not isinstance(value, dict):
            return value, False
        out: dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            if key == "account" and self.is_personal(item):
                out[key] = self.pseudonymous_account(item)
                changed = True
            else:
                out[key], inner = self.replace(item)
                changed = changed or inner
        return out, changed

    def statement(self, statement: Any) -> Any:
        """A statement with no personal code left; 400 for a signed statement that names one
        (its signature, stored as an attachment, would keep the code)."""
        replaced, changed = self.replace(statement)
        if changed and _is_signed(statement):
            raise XapiBadRequest(
                "A signed statement cannot name a personal code: sign it with the pseudonymous"
                " account instead"
            )
        return replaced

    def agent(self, agent: Any) -> Any:
        """An Agent or Group (an `agent` parameter) with no personal code left."""
        return self.replace(agent)[0]


def _is_signed(statement: Any) -> bool:
    if not isinstance(statement, dict):
        return False
    attachments = list(statement.get("attachments") or [])
    target = statement.get("object")
    if isinstance(target, dict):
        attachments += list(target.get("attachments") or [])
    return any(
        isinstance(a, dict)
        and a.get("usageType") == "http://adlnet.gov/expapi/attachments/signature"
        for a in attachments
    )
