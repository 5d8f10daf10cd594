from tests.support.broker import tansu_broker  # noqa: F401  (session fixture)
