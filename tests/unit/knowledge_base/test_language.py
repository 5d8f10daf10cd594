"""BCP 47 tags and the text search configuration chosen for each language."""

from __future__ import annotations

import pytest
from meridian_knowledge_base.domain.language import (
    ALL_TS_CONFIGS,
    InvalidLanguage,
    normalize_language,
    ts_config_for,
)


@pytest.mark.parametrize(("language", "config"), [
    ("en", "english"), ("en-US", "english"), ("es", "spanish"), ("es-419", "spanish"), ("de", "german"),
    ("fr-CA", "french"), ("pt-BR", "portuguese"), ("it", "italian"), ("nl", "dutch"), ("ru", "russian"),
    ("tr", "turkish"), ("nb", "norwegian"), ("sv", "swedish"),
    ("zh", "simple"), ("zh-Hant-TW", "simple"), ("ja", "simple"), ("th", "simple"), ("ko", "simple"),
    ("vi", "simple"), ("ms", "simple"),
])
def test_language_to_ts_config(language: str, config: str) -> None:
    assert ts_config_for(language) == config


def test_every_config_is_builtin_and_simple_is_included() -> None:
    builtin_pg15 = set("arabic armenian basque catalan danish dutch english finnish french german greek hindi "
                       "hungarian indonesian irish italian lithuanian nepali norwegian portuguese romanian russian "
                       "serbian simple spanish swedish tamil turkish yiddish".split())
    assert set(ALL_TS_CONFIGS) <= builtin_pg15
    assert "simple" in ALL_TS_CONFIGS


@pytest.mark.parametrize(("raw", "normal"), [
    ("en", "en"), ("EN", "en"), ("pt-br", "pt-BR"), ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419"),
    ("pt_BR", "pt-BR"), (" de ", "de"),
])
def test_normalize_language(raw: str, normal: str) -> None:
    assert normalize_language(raw) == normal


@pytest.mark.parametrize("bad", ["", "e", "english!", "en--US", "12", "en-", "x" * 40, "en US"])
def test_invalid_language(bad: str) -> None:
    with pytest.raises(InvalidLanguage):
        normalize_language(bad)
