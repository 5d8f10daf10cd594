"""Language tags: BCP 47 normalisation and primary-subtag matching."""

from __future__ import annotations

import re
from collections.abc import Iterable

UNDETERMINED = "und"

# language (2-3 letters, or 5-8 registered) then subtags of 1-8 alphanumerics; "_" is accepted as "-"
_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


class InvalidLanguageTag(ValueError):
    pass


def normalise_language(tag: str) -> str:
    """``"pt_BR"`` / ``"pt-BR"`` → ``"pt-br"``; raises InvalidLanguageTag for anything not BCP 47-shaped."""
    value = tag.strip().replace("_", "-").lower()
    if not _TAG.match(value):
        raise InvalidLanguageTag(f"{tag!r} is not a BCP 47 language tag")
    return value


def normalise_languages(tags: Iterable[str]) -> list[str]:
    """Normalised, duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(normalise_language(tag), None)
    return list(seen)


def primary_subtag(tag: str) -> str:
    return tag.strip().replace("_", "-").lower().split("-", 1)[0]


def speaks(languages: Iterable[str], language: str) -> bool:
    """An agent speaks ``language`` when one of their tags has the same primary subtag
    (``"pt-br"`` speaks ``"pt"`` and ``"pt-PT"``). ``"und"`` (undetermined) is spoken by everyone."""
    wanted = primary_subtag(language)
    if not wanted:
        return False
    if wanted == UNDETERMINED:
        return True
    return any(primary_subtag(own) == wanted for own in languages)
