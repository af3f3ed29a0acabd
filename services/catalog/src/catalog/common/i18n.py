"""Texts in Latvian and English, and the language a client asks for with Accept-Language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, model_validator

from pilnveide_kit.languages import preferred_language as negotiate

LANGUAGES = ("lv", "en")


class LocalizedText(BaseModel):
    """A text in Latvian (as written in the source) and its English translation."""

    model_config = ConfigDict(extra="forbid")

    lv: str | None = None
    en: str | None = None

    @model_validator(mode="after")
    def _one_language_at_least(self) -> LocalizedText:
        if not (self.lv or self.en):
            raise ValueError("give the text in lv or en (or both)")
        return self


#: A text as served: {lv, en} by default, or one string when Accept-Language chose a language.
Text = LocalizedText | str


def text_of(lv: str | None, en: str | None) -> LocalizedText | None:
    """A LocalizedText from two columns, or None when both are empty."""
    if not lv and not en:
        return None
    return LocalizedText(lv=lv, en=en)


def preferred_language(
    accept_language: Annotated[
        str | None,
        Header(
            description="lv or en to receive every text in that language only; "
            "absent or anything else: texts come as {lv, en} objects"
        ),
    ] = None,
) -> str | None:
    """The language chosen by Accept-Language among lv and en (None: both)."""
    return negotiate(accept_language, LANGUAGES)


LanguageDep = Annotated[str | None, Depends(preferred_language)]


def _is_text(value: dict[str, Any]) -> bool:
    return (
        bool(value)
        and set(value) <= {"lv", "en"}
        and all(v is None or isinstance(v, str) for v in value.values())
    )


def localize(value: Any, language: str | None) -> Any:
    """Replace every {lv, en} object with the chosen language's string (the other as fallback)."""
    if language is None:
        return value
    if isinstance(value, dict):
        if _is_text(value):
            other = "en" if language == "lv" else "lv"
            return value.get(language) or value.get(other)
        return {k: localize(v, language) for k, v in value.items()}
    if isinstance(value, list):
        return [localize(v, language) for v in value]
    return value


def respond(
    body: Any,
    language: str | None,
    *,
    status_code: int = 200,
    etag: str | None = None,
) -> JSONResponse:
    """A JSON response in the chosen language(s), with an ETag when given."""
    content = localize(jsonable_encoder(body), language)
    headers = {"Content-Language": language or "lv, en", "Vary": "Accept-Language"}
    if etag:
        headers["ETag"] = etag
    return JSONResponse(content, status_code=status_code, headers=headers)
