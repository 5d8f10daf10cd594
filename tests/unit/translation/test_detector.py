"""The lingua adapter, offline (models ship with the package)."""

import pytest
from meridian_translation.detector import LanguageDetector
from meridian_translation.domain.detection import DEFAULT_LANGUAGES, DetectionPolicy


@pytest.fixture(scope="module")
def detector():
    return LanguageDetector(DEFAULT_LANGUAGES, DetectionPolicy(), "low")


def test_every_default_language_is_supported():
    LanguageDetector(DEFAULT_LANGUAGES, DetectionPolicy())  # raises on an unsupported code
    with pytest.raises(ValueError):
        LanguageDetector(["en", "xx"], DetectionPolicy())


def test_models_load_lazily(detector):
    fresh = LanguageDetector(("en", "es"), DetectionPolicy())
    assert not fresh.loaded
    fresh.detect_many_sync(["👍"])  # nothing worth detecting: still nothing loaded
    assert not fresh.loaded
    fresh.detect_many_sync(["where is my order"])
    assert fresh.loaded


def test_batch_detection(detector):
    results = detector.detect_many_sync(["¿Dónde está mi pedido?", "Wo ist meine Bestellung?", "👍",
                                         "注文した商品はまだ届いていません。", "我的订单什么时候到？"])
    assert [r.language for r in results] == ["es", "de", "und", "ja", "zh"]
    assert all(0 <= r.confidence <= 1 for r in results)


async def test_one_text_is_detected_like_a_batch_of_one(detector):
    assert (await detector.detect("Bonjour, où est ma commande ?")).language == "fr"
    assert (await detector.detect_many(["Bonjour, où est ma commande ?"]))[0].language == "fr"
