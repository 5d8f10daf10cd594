from datetime import UTC, datetime
from uuid import uuid4

import pytest
from meridian_routing.domain.errors import AgentInvalid
from meridian_routing.domain.language import (
    InvalidLanguageTag,
    normalise_language,
    normalise_languages,
    primary_subtag,
    speaks,
)
from meridian_routing.domain.model import apply_update, is_timezone, new_agent, validate_agent_fields

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "expected"), [("en", "en"), ("EN", "en"), ("pt-BR", "pt-br"), ("pt_BR", "pt-br"),
                                               (" zh-Hant-TW ", "zh-hant-tw"), ("fil", "fil")])
def test_language_tags_are_normalised(raw, expected):
    assert normalise_language(raw) == expected


@pytest.mark.parametrize("raw", ["", "e", "english!", "en--us", "12", "en-", "toolongsubtag-x"])
def test_bad_language_tags_are_rejected(raw):
    with pytest.raises(InvalidLanguageTag):
        normalise_language(raw)


def test_duplicates_are_dropped_in_order():
    assert normalise_languages(["es", "EN", "es", "en"]) == ["es", "en"]


def test_primary_subtag_and_speaks():
    assert primary_subtag("pt-BR") == "pt"
    assert speaks(["pt-br", "en"], "pt")
    assert speaks(["en"], "EN-gb")
    assert not speaks(["en"], "es")


@pytest.mark.parametrize(("name", "ok"), [("Europe/Madrid", True), ("Asia/Singapore", True), ("UTC", True),
                                          ("Mars/Olympus", False), ("", False), ("../etc/passwd", False),
                                          ("/etc/localtime", False)])
def test_timezones(name, ok):
    assert is_timezone(name) is ok


def test_agent_fields_are_validated_together():
    with pytest.raises(AgentInvalid) as err:
        validate_agent_fields(name="A", email="not-an-email", languages=[], timezone="Nowhere/City", capacity=0)
    fields = {e["field"] for e in err.value.errors}
    assert fields == {"email", "languages", "timezone", "capacity"}


def test_new_agent_is_offline_with_no_load_and_lowercase_email():
    fields = validate_agent_fields(name=" Ana ", email="Ana@Shop.IO", languages=["ES", "pt-BR"],
                                   timezone="Europe/Madrid", capacity=3)
    agent = new_agent(uuid4(), uuid4(), fields, NOW)
    assert agent.email == "ana@shop.io" and agent.name == "Ana"
    assert agent.languages == ("es", "pt-br") and agent.status.value == "offline"
    assert agent.active_conversations == 0


def test_update_tells_whether_the_agent_can_take_more_work():
    base = new_agent(uuid4(), uuid4(), validate_agent_fields(name="A", email="a@b.io", languages=["en"],
                                                             timezone="UTC", capacity=2), NOW)
    _, more = apply_update(base, validate_agent_fields(capacity=3), NOW)
    assert more
    _, more = apply_update(base, validate_agent_fields(capacity=1), NOW)
    assert not more
    updated, more = apply_update(base, validate_agent_fields(languages=["en", "de"]), NOW)
    assert more and updated.languages == ("en", "de")
    _, more = apply_update(base, validate_agent_fields(name="B"), NOW)
    assert not more
