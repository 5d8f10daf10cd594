import pytest
from meridian_translation.domain.detection import (
    DEFAULT_LANGUAGES,
    DetectionPolicy,
    decide,
    iso639_1,
    letter_count,
    parse_languages,
    sample,
)

POLICY = DetectionPolicy(min_confidence=0.5, min_letters=3, max_chars=20)


def test_iso_names_become_lowercase_codes():
    assert iso639_1("EN") == "en" and iso639_1("ZH") == "zh"


def test_best_candidate_above_the_threshold_wins():
    d = decide([("DE", 0.9), ("NL", 0.05), ("EN", 0.03), ("FR", 0.02)], POLICY)
    assert d.language == "de" and d.confidence == 0.9 and d.determined
    assert [c.language for c in d.candidates] == ["de", "nl", "en"]  # top 3


def test_ranking_order_does_not_matter():
    assert decide([("NL", 0.1), ("DE", 0.8)], POLICY).language == "de"


@pytest.mark.parametrize(("confidence", "expected"), [(0.49, "und"), (0.5, "es"), (0.51, "es")])
def test_below_the_threshold_is_undetermined(confidence, expected):
    d = decide([("ES", confidence), ("PT", 0.3), ("IT", 0.2)], POLICY)
    assert d.language == expected
    if expected == "und":
        assert not d.determined and d.confidence == 0.49 and d.candidates[0].language == "es"


def test_no_ranking_is_undetermined():
    d = decide([], POLICY)
    assert d.language == "und" and d.confidence == 0.0 and d.candidates == ()


@pytest.mark.parametrize("text", ["", "   ", "ok", "👍🙏😊", "123 456 !!", "?? 42", "はい"])
def test_short_or_letterless_texts_are_not_detected(text):
    assert sample(text, POLICY) is None


def test_long_texts_are_cut_and_letters_are_counted():
    assert sample("  hola amigo, ¿qué tal? muy bien  ", POLICY) == "hola amigo, ¿qué tal"
    assert letter_count("注文 ok!") == 4
    assert sample("你好吗", POLICY) == "你好吗"


def test_language_settings_are_parsed():
    assert parse_languages("en, ES,pt,en") == ("en", "es", "pt")
    assert parse_languages(["de", "fr"]) == ("de", "fr")
    for bad in ("english,es", "en", "", "e1,es"):
        with pytest.raises(ValueError):
            parse_languages(bad)
    assert len(DEFAULT_LANGUAGES) == 18 and parse_languages(",".join(DEFAULT_LANGUAGES)) == DEFAULT_LANGUAGES
