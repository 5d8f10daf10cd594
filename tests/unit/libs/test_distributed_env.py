"""The Kafka settings `run-distributed` gives its services when it starts its own Tansu broker."""

from meridian.runtime.distributed import ONE_MACHINE_PARTITIONS, own_broker_env


def test_own_broker_settings_fit_one_process_per_service() -> None:
    env = own_broker_env({"PATH": "/bin"}, "127.0.0.1:9092")

    assert env["MERIDIAN_KAFKA_BOOTSTRAP"] == "127.0.0.1:9092"
    assert env["MERIDIAN_KAFKA_IDEMPOTENCE"] == "false"
    assert env["MERIDIAN_KAFKA_PARTITIONS"] == ONE_MACHINE_PARTITIONS == "1"
    assert env["PATH"] == "/bin"


def test_what_the_operator_set_wins_except_what_tansu_cannot_do() -> None:
    env = own_broker_env({"MERIDIAN_KAFKA_PARTITIONS": "6", "MERIDIAN_KAFKA_SESSION_TIMEOUT_MS": "9000",
                          "MERIDIAN_KAFKA_IDEMPOTENCE": "true"}, "127.0.0.1:9092")

    assert env["MERIDIAN_KAFKA_PARTITIONS"] == "6"
    assert env["MERIDIAN_KAFKA_SESSION_TIMEOUT_MS"] == "9000"
    assert env["MERIDIAN_KAFKA_IDEMPOTENCE"] == "false"
