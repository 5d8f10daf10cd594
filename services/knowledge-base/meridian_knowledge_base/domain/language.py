"""Languages: BCP 47 tags and the PostgreSQL text search configuration used for each.

Articles keep their BCP 47 tag (``pt-BR``, ``zh-Hant``); full-text search needs one of
PostgreSQL's built-in configurations, chosen from the primary subtag. Languages PostgreSQL has no
stemmer for (Chinese, Japanese, Thai, Korean, …) use ``simple``; search then also falls back to a
substring match because ``simple`` does not segment CJK text.
"""

from __future__ import annotations

import re

DEFAULT_LANGUAGE = "en"
SIMPLE = "simple"

# primary subtag -> built-in configuration (the set shipped by PostgreSQL 15 through 18)
TS_CONFIGS: dict[str, str] = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}

ALL_TS_CONFIGS: tuple[str, ...] = tuple(sorted({*TS_CONFIGS.values(), SIMPLE}))

_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class InvalidLanguage(ValueError):
    pass


def normalize_language(tag: str) -> str:
    """Validate a BCP 47 tag and give it its conventional case: ``PT-br`` → ``pt-BR``,
    ``zh-hant-tw`` → ``zh-Hant-TW``. Raises InvalidLanguage."""
    tag = tag.strip().replace("_", "-")
    if len(tag) > 35 or not _TAG.match(tag):
        raise InvalidLanguage(f"{tag!r} is not a BCP 47 language tag")
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())        # script
        elif len(part) == 2 and part.isalpha() or len(part) == 3 and part.isdigit():
            out.append(part.upper())        # region
        else:
            out.append(part.lower())
    return "-".join(out)


def primary_subtag(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def ts_config_for(language: str) -> str:
    """``pt-BR`` → ``portuguese``; ``zh``/``ja``/``th`` (no built-in stemmer) → ``simple``."""
    return TS_CONFIGS.get(primary_subtag(language), SIMPLE)
