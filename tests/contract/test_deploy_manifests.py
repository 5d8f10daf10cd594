"""Contract of the deployment files: Dockerfile, docker-compose.yml and deploy/k8s/.

- Every Kubernetes document under deploy/k8s is valid against the pinned Kubernetes version's schema
  (kubernetes-validate, strict: unknown fields are errors). Offline: the schemas ship in the package.
- Every service has exactly a Deployment, a Service, a HorizontalPodAutoscaler and a ConfigMap, probes
  on /healthz and /readyz, and the environment the runtime reads.
- docker-compose.yml runs the same seven services from the one image, plus Kafka, PostgreSQL and Redis.

Fast and offline; the kustomize render is checked only where `kubectl` or `kustomize` is installed, the
compose-spec schema only where check-jsonschema (which vendors it) is installed.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

K8S_VERSION = "1.30.0"  # the oldest Kubernetes minor the manifests must apply to

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = K8S / "overlays"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

SERVICES = ("gateway", "ingest", "ticket", "routing", "translation", "knowledge-base", "compliance")
INFRA = ("kafka", "postgres", "redis")
REGIONS = ("eu", "sg")
SECRET_NAME = "meridian-secrets"
PORT = 8000

# Environment every service gets, and what only the gateway gets.
SECRET_KEYS = {"MERIDIAN_DATABASE_URL", "MERIDIAN_REDIS_URL", "MERIDIAN_SECRET_KEY", "MERIDIAN_INTERNAL_TOKEN"}
GATEWAY_SECRET_KEYS = {"MERIDIAN_OPERATOR_TOKEN"}
CONFIG_KEYS = {
    "MERIDIAN_MODE",
    "MERIDIAN_HOST",
    "MERIDIAN_PORT",
    "MERIDIAN_KAFKA_BOOTSTRAP",
    "MERIDIAN_KAFKA_IDEMPOTENCE",
    "MERIDIAN_KAFKA_FETCH_MAX_WAIT_MS",
    "MERIDIAN_KAFKA_REPLICATION_FACTOR",
    "MERIDIAN_LOG_LEVEL",
}
OPTIONAL_KEYS = {"MERIDIAN_DATA_REGION", "MERIDIAN_SEED_DEMO", "MERIDIAN_LOG_FORMAT"}
GATEWAY_CONFIG_KEYS = {"MERIDIAN_SERVICE_URLS"}
ALL_KEYS = SECRET_KEYS | GATEWAY_SECRET_KEYS | CONFIG_KEYS | OPTIONAL_KEYS | GATEWAY_CONFIG_KEYS


def _load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _k8s_documents() -> list[tuple[str, int, dict]]:
    """Every Kubernetes document under deploy/k8s (kustomization files are kustomize's, not the API's)."""
    out = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for i, d in enumerate(_load_all(path)):
            out.append((str(path.relative_to(ROOT)), i, d))
    return out


def _by_kind(service: str) -> dict[str, dict]:
    docs = _load_all(BASE / f"{service}.yaml")
    return {d["kind"]: d for d in docs}


def _container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "one container per pod"
    return containers[0]


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


# --- the validator itself --------------------------------------------------------------------------------


def test_pinned_kubernetes_schema_ships_offline() -> None:
    assert "1.30.0" in kubernetes_validate.utils.all_versions(), kubernetes_validate.utils.all_versions()


def test_strict_validation_rejects_unknown_fields() -> None:
    """Guards against a validator that silently accepts anything (typos in manifests must fail)."""
    deployment = copy.deepcopy(_by_kind("ticket")["Deployment"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/readyz"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


# --- every Kubernetes document -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,index,doc", _k8s_documents(), ids=[f"{p}#{i}:{d.get('kind')}" for p, i, d in _k8s_documents()]
)
def test_k8s_document_is_valid(path: str, index: int, doc: dict) -> None:
    assert kubernetes_validate.validate(doc, K8S_VERSION, strict=True) == "1.30"
    assert doc["metadata"].get("namespace", "meridian") == "meridian", path
    assert doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "meridian", path


def test_base_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)
    assert len(kustomization["resources"]) == len(set(kustomization["resources"]))
    assert kustomization["namespace"] == "meridian"
    assert {f"{s}.yaml" for s in SERVICES} <= files
    assert {"namespace.yaml", "secrets.template.yaml"} <= files
    # nothing but base/ and overlays/ (kustomize refuses an overlay nested inside its base)
    assert {p.name for p in K8S.iterdir() if not p.name.startswith(".")} <= {"base", "overlays", "README.md"}


def test_namespace() -> None:
    (ns,) = _load_all(BASE / "namespace.yaml")
    assert ns["kind"] == "Namespace" and ns["metadata"]["name"] == "meridian"


def test_secret_template_holds_only_placeholders() -> None:
    (secret,) = _load_all(BASE / "secrets.template.yaml")
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == SECRET_NAME
    assert "data" not in secret, "template values go in stringData, as visible placeholders"
    assert set(secret["stringData"]) == SECRET_KEYS | GATEWAY_SECRET_KEYS
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value, f"{key} must be a placeholder"


# --- per service -------------------------------------------------------------------------------------------


def test_services_match_the_runtime() -> None:
    settings = pytest.importorskip("meridian.settings")
    assert tuple(settings.SERVICE_NAMES) == SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_service_file_has_exactly_the_four_documents(service: str) -> None:
    docs = _load_all(BASE / f"{service}.yaml")
    assert sorted(d["kind"] for d in docs) == sorted(["Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap"])
    api = {d["kind"]: d["apiVersion"] for d in docs}
    assert api == {
        "Deployment": "apps/v1",
        "Service": "v1",
        "HorizontalPodAutoscaler": "autoscaling/v2",
        "ConfigMap": "v1",
    }


@pytest.mark.parametrize("service", SERVICES)
def test_deployment(service: str) -> None:
    kinds = _by_kind(service)
    dep = kinds["Deployment"]
    assert dep["metadata"]["name"] == service
    assert "replicas" not in dep["spec"], "the HPA owns the replica count; a fixed one fights it on every apply"
    selector = dep["spec"]["selector"]["matchLabels"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert selector["app.kubernetes.io/name"] == service

    c = _container(dep)
    assert c["args"] == ["serve", service], "image ENTRYPOINT is `meridian`"
    assert "command" not in c, "keep the image's ENTRYPOINT"
    assert c["image"].split(":")[0] == "meridian"
    assert [p["containerPort"] for p in c["ports"]] == [PORT] and c["ports"][0]["name"] == "http"

    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    if "startupProbe" in c:
        assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["port"] in ("http", PORT)

    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][kind]), f"resources.{kind}"

    assert c["envFrom"] == [{"configMapRef": {"name": kinds["ConfigMap"]["metadata"]["name"]}}]
    secret_refs = {}
    for e in c.get("env", []):
        ref = e["valueFrom"]["secretKeyRef"]
        assert ref["name"] == SECRET_NAME and ref["key"] == e["name"]
        secret_refs[e["name"]] = ref
    expected = SECRET_KEYS | (GATEWAY_SECRET_KEYS if service == "gateway" else set())
    assert set(secret_refs) == expected

    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod.get("enableServiceLinks") is False
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("service", SERVICES)
def test_configmap(service: str) -> None:
    cm = _by_kind(service)["ConfigMap"]
    data = cm["data"]
    allowed = ALL_KEYS - SECRET_KEYS - GATEWAY_SECRET_KEYS
    if service != "gateway":
        allowed -= GATEWAY_CONFIG_KEYS
    assert CONFIG_KEYS <= set(data) <= allowed, "secrets never go in a ConfigMap"
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values are strings"
    assert data["MERIDIAN_MODE"] == "distributed"
    assert data["MERIDIAN_HOST"] == "0.0.0.0"
    assert data["MERIDIAN_PORT"] == str(PORT)
    assert data["MERIDIAN_KAFKA_IDEMPOTENCE"] == "true"
    assert data["MERIDIAN_KAFKA_FETCH_MAX_WAIT_MS"] == "500", "Apache Kafka answers fetches early: poll less"
    assert "MERIDIAN_DATA_REGION" not in data, "the region overlay sets it"
    if service == "gateway":
        urls = json.loads(data["MERIDIAN_SERVICE_URLS"])
        assert set(urls) == set(SERVICES) - {"gateway"}
        for name, url in urls.items():
            # the ClusterIP Service of that name, on its port
            svc = _by_kind(name)["Service"]
            assert url == f"http://{svc['metadata']['name']}:{svc['spec']['ports'][0]['port']}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_object(service: str) -> None:
    kinds = _by_kind(service)
    svc = kinds["Service"]
    assert svc["metadata"]["name"] == service
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", "only the Ingress exposes the gateway"
    pod_labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    (port,) = svc["spec"]["ports"]
    assert port["port"] == PORT and port["targetPort"] in ("http", PORT)


@pytest.mark.parametrize("service", SERVICES)
def test_hpa(service: str) -> None:
    hpa = _by_kind(service)["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_only_the_gateway_is_exposed() -> None:
    (ingress,) = _load_all(BASE / "gateway-ingress.yaml")
    assert ingress["kind"] == "Ingress"
    backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"gateway"}
    for path, _, doc in _k8s_documents():
        if doc["kind"] == "Service":
            assert doc["spec"].get("type", "ClusterIP") == "ClusterIP", path


# --- region overlays -----------------------------------------------------------------------------------------


def _secrets_env_keys(path: Path) -> set[str]:
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return {ln.split("=", 1)[0] for ln in lines if ln and not ln.startswith("#")}


@pytest.mark.parametrize("region", REGIONS)
def test_region_overlay(region: str) -> None:
    overlay = OVERLAYS / region
    k = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert k["resources"] == ["../../base"]
    (patch,) = [p for p in k["patches"] if p["target"]["kind"] == "ConfigMap"]
    ops = yaml.safe_load(patch["patch"])
    assert {"op": "add", "path": "/data/MERIDIAN_DATA_REGION", "value": region} in ops
    (gen,) = k["secretGenerator"]
    assert gen["name"] == SECRET_NAME and gen["behavior"] == "replace" and gen["envs"] == ["secrets.env"]
    assert _secrets_env_keys(overlay / "secrets.env.example") == SECRET_KEYS | GATEWAY_SECRET_KEYS
    assert not (overlay / "secrets.env").exists() or "secrets.env" in (K8S / ".gitignore").read_text()
    assert "overlays/*/secrets.env" in (K8S / ".gitignore").read_text().splitlines()


def _kustomize_cmd() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.mark.parametrize("region", REGIONS)
def test_region_overlay_renders(region: str, tmp_path: Path) -> None:
    cmd = _kustomize_cmd()
    if cmd is None:
        pytest.skip("neither kustomize nor kubectl installed")
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    overlay = tree / "overlays" / region

    # fails closed while the operator has not written secrets.env
    missing = subprocess.run([*cmd, str(overlay)], capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0

    (overlay / "secrets.env").write_text((overlay / "secrets.env.example").read_text())
    done = subprocess.run([*cmd, str(overlay)], capture_output=True, text=True, timeout=60, check=True)
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
        assert d["metadata"]["labels"]["meridian.io/data-region"] == region
    configmaps = [d for d in docs if d["kind"] == "ConfigMap"]
    assert len(configmaps) == len(SERVICES)
    assert all(cm["data"]["MERIDIAN_DATA_REGION"] == region for cm in configmaps)
    (secret,) = [d for d in docs if d["kind"] == "Secret"]
    assert secret["metadata"]["name"] == SECRET_NAME and set(secret["data"]) == SECRET_KEYS | GATEWAY_SECRET_KEYS
    assert sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Deployment") == sorted(SERVICES)


# --- docker compose ------------------------------------------------------------------------------------------


def test_compose_parses_and_lists_the_stack() -> None:
    compose = _compose()
    assert set(compose["services"]) == set(SERVICES) | set(INFRA)


def test_compose_infrastructure() -> None:
    s = _compose()["services"]
    assert s["kafka"]["image"].startswith("apache/kafka:3.9.")
    env = s["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft, no ZooKeeper"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "CONTROLLER://" in env["KAFKA_LISTENERS"] and env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert s["postgres"]["image"] == "pgvector/pgvector:pg17"
    assert re.fullmatch(r"redis:7(\.\d+)*(-alpine)?", s["redis"]["image"])
    for name in INFRA:
        assert "healthcheck" in s[name], name
        assert "ports" not in s[name], f"{name} is not published; only the gateway is"


@pytest.mark.parametrize("service", SERVICES)
def test_compose_service(service: str) -> None:
    compose = _compose()
    s = compose["services"][service]
    assert s["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    images = {compose["services"][n]["image"] for n in SERVICES}
    assert len(images) == 1, "one image for all services, built once"
    assert s["command"] == ["serve", service]
    test = s["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"] and "/healthz" in test[-1]
    deps = s["depends_on"]
    for infra in INFRA:
        assert deps[infra]["condition"] == "service_healthy"
    if service == "gateway":
        assert set(deps) == set(SERVICES) - {"gateway"} | set(INFRA)
        assert all(d["condition"] == "service_healthy" for d in deps.values())
        assert s["ports"] == [f"${{MERIDIAN_GATEWAY_PORT:-{PORT}}}:{PORT}"]
    else:
        assert set(deps) == set(INFRA)
        assert "ports" not in s

    env = s["environment"]
    gateway_only = GATEWAY_SECRET_KEYS | GATEWAY_CONFIG_KEYS
    required = SECRET_KEYS | CONFIG_KEYS | (gateway_only if service == "gateway" else set())
    allowed = ALL_KEYS if service == "gateway" else ALL_KEYS - gateway_only
    assert required <= set(env) <= allowed
    assert env["MERIDIAN_MODE"] == "distributed"
    assert env["MERIDIAN_HOST"] == "0.0.0.0"
    assert str(env["MERIDIAN_PORT"]) == str(PORT)
    assert str(env["MERIDIAN_KAFKA_IDEMPOTENCE"]).lower() == "true"
    assert env["MERIDIAN_KAFKA_BOOTSTRAP"] == "kafka:9092"
    db_url = env["MERIDIAN_DATABASE_URL"]
    assert db_url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in db_url
    assert env["MERIDIAN_REDIS_URL"].startswith("redis://redis:6379/")
    for key in SECRET_KEYS | GATEWAY_SECRET_KEYS:
        if key in env and key not in {"MERIDIAN_DATABASE_URL", "MERIDIAN_REDIS_URL"}:
            # overridable from .env; the fallback must say it is not for real use
            assert re.fullmatch(r"\$\{" + key + r":-[^}]+\}", env[key]), key
    if service == "gateway":
        urls = json.loads(env["MERIDIAN_SERVICE_URLS"])
        assert urls == {n: f"http://{n}:{PORT}" for n in SERVICES if n != "gateway"}


def test_compose_dev_defaults_are_marked() -> None:
    text = COMPOSE_FILE.read_text()
    for key in ("MERIDIAN_INTERNAL_TOKEN", "MERIDIAN_OPERATOR_TOKEN", "POSTGRES_PASSWORD"):
        assert re.search(r"\$\{" + key + r":-dev-only-", text), key


def test_compose_matches_compose_spec_schema() -> None:
    """The compose-spec JSON schema, as vendored by check-jsonschema (offline)."""
    pytest.importorskip("check_jsonschema", reason="check-jsonschema (vendors the compose-spec schema) not installed")
    from importlib import resources

    import jsonschema

    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    jsonschema.validators.validator_for(schema)(schema).validate(_compose())


def test_compose_postgres_init_script_exists() -> None:
    pg = _compose()["services"]["postgres"]
    for volume in pg["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_file(), source


# --- Dockerfile --------------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    ins = _dockerfile_instructions()
    args = dict(a.split("=", 1) for w, a in ins if w == "ARG" and "=" in a)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert args["SERVICES"].strip('"').split() == list(SERVICES)

    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    final = ins[last_from:]
    users = [a for w, a in final if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("ENTRYPOINT", '["meridian"]') in final
    assert ("CMD", '["serve", "gateway"]') in final
    (health,) = [a for w, a in final if w == "HEALTHCHECK"]
    assert '"python"' in health and "/healthz" in health and "curl" not in health
    env = " ".join(a for w, a in final if w == "ENV")
    assert "MERIDIAN_HOST=0.0.0.0" in env, "the runtime binds 127.0.0.1 by default"


def test_dockerignore_is_an_allow_list() -> None:
    lines = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    assert lines[0] == "*"
    assert {"!libs/", "!services/"} <= set(lines)
    assert "**/.env" in lines


def test_deploy_doc() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    for needle in ("docker compose up -d --build", "kubectl apply -k deploy/k8s/overlays/eu", "MERIDIAN_DATA_REGION"):
        assert needle in doc, needle
