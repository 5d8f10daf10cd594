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


def test_no_service_takes_a_port_of_the_gateways_after_the_first(monkeypatch) -> None:
    """The second gateway listens on MERIDIAN_PORT + 1: a service given that port first left it
    unable to bind (seen in a test run)."""
    from meridian.runtime import distributed
    from meridian.settings import PlatformSettings

    offered = iter([8001, 8002, 8001, 9001, 9002, 9003, 9004, 9005, 9006])
    monkeypatch.setattr(distributed.socket, "socket", lambda *a: _Bound(next(offered)))
    _, ports = distributed.service_env(PlatformSettings(port=8000, gateway_processes=3), {})

    assert ports["gateway"] == 8000
    assert not {8001, 8002} & {port for name, port in ports.items() if name != "gateway"}
    assert len(set(ports.values())) == len(ports)


class _Bound:
    def __init__(self, port: int) -> None:
        self._port = port

    def __enter__(self) -> "_Bound":
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def bind(self, _: object) -> None:
        pass

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self._port)
