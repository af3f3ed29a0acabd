"""docker-compose.yml, the Dockerfile and the Kubernetes manifests, validated without a Docker
engine or a cluster: schema-validated where a schema exists, and checked against the code."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
K8S_DIR = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.30.0"
APP_SERVICES = {
    "catalog": ("catalog.cli", 8001, "CATALOG"),
    "learning-records": ("learning_records.cli", 8002, "RECORDS"),
    "indicators": ("indicators.cli", 8003, "INDICATORS"),
    "gateway": ("gateway.cli", 8000, "GATEWAY"),
}


@cache
def _subcommands(module: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True
    ).stdout


def _python_commands(command: Any) -> list[tuple[str, str]]:
    """(module, subcommand) pairs a compose/k8s command runs."""
    text = command if isinstance(command, str) else " ".join(command)
    return re.findall(r"python -m ([\w.]+) (\w+)", text)


# --- docker-compose.yml ----------------------------------------------------------------------


def test_compose_runs_postgres_and_every_process() -> None:
    services = COMPOSE["services"]
    assert "postgres" in services
    for name in APP_SERVICES:
        assert name in services, name
        assert f"{'records' if name == 'learning-records' else name}-migrate" in services


def test_compose_creates_one_database_per_service() -> None:
    init_sql = (ROOT / "deploy/postgres/init-databases.sql").read_text()
    created = set(re.findall(r"CREATE DATABASE (\w+);", init_sql))
    for name, spec in COMPOSE["services"].items():
        for key, value in (spec.get("environment") or {}).items():
            if key.endswith("_DATABASE_URL"):
                database = str(value).rsplit("/", 1)[1]
                assert database in created, f"{name}: {database} is not created"


def test_compose_long_running_services_have_health_checks_and_wait_for_migrations() -> None:
    services = COMPOSE["services"]
    for name, (_module, port, _prefix) in APP_SERVICES.items():
        spec = services[name]
        check = " ".join(spec["healthcheck"]["test"])
        assert f":{port}/" in check
        assert spec["depends_on"]["postgres"]["condition"] == "service_healthy"
        migrate = [k for k, v in spec["depends_on"].items() if k.endswith("-migrate")]
        assert (
            migrate
            and spec["depends_on"][migrate[0]]["condition"] == "service_completed_successfully"
        )
        assert spec["environment"][f"{APP_SERVICES[name][2]}_MIGRATE_ON_START"] == "false"


def test_compose_takes_secrets_from_the_environment() -> None:
    raw = (ROOT / "docker-compose.yml").read_text()
    for secret in (
        "POSTGRES_PASSWORD",
        "RECORDS_PSEUDONYM_PEPPER",
        "GATEWAY_ADMIN_CLIENT_SECRET",
        "GATEWAY_INDICATORS_CLIENT_SECRET",
        "GATEWAY_RECORDS_CLIENT_SECRET",
        "GATEWAY_SIGNING_KEY_PEM",
    ):
        assert f"${{{secret}:?" in raw, f"{secret} must be required from the environment"
    for spec in COMPOSE["services"].values():
        for key, value in (spec.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "PEPPER", "KEY_PEM")):
                assert "${" in str(value), f"{key} is hard-coded"


def test_compose_commands_exist_in_the_code() -> None:
    for name, spec in COMPOSE["services"].items():
        if "command" not in spec:
            continue
        for module, subcommand in _python_commands(spec["command"]):
            assert subcommand in _subcommands(module), f"{name}: {module} has no '{subcommand}'"


def test_compose_builds_with_the_dockerfile_args_it_declares() -> None:
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    for spec in COMPOSE["services"].values():
        if "build" in spec:
            assert (ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]).exists()
            for arg in spec["build"]["args"]:
                assert f"ARG {arg}" in dockerfile
            module = spec["build"]["args"]["MODULE"]
            assert "serve" in _subcommands(module)


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_locked_and_non_root() -> None:
    lines = (ROOT / "deploy/Dockerfile").read_text().splitlines()
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert any("uv sync --frozen" in line for line in lines)
    final = lines[lines.index(stages[-1]) :]
    user = [line for line in final if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("root", "0"))
    for line in lines:
        if line.startswith("COPY ") and "--from" not in line:
            source = line.split()[1]
            assert (ROOT / source).exists(), f"COPY source {source} does not exist"


# --- Kubernetes ----------------------------------------------------------------------------------


def _manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    documents = []
    for resource in kustomization["resources"]:
        documents += [d for d in yaml.safe_load_all((K8S_DIR / resource).read_text()) if d]
    return documents


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("index", range(len(_manifests())))
def test_manifest_is_valid_kubernetes(index: int) -> None:
    kubernetes_validate.validate(_manifests()[index], K8S_VERSION, strict=True)


def test_every_process_has_a_deployment_with_probes_resources_and_a_service() -> None:
    documents = _manifests()
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    for name, (_module, port, prefix) in APP_SERVICES.items():
        pod = deployments[name]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        assert container["securityContext"]["runAsNonRoot"] is True
        assert container["ports"][0]["containerPort"] == port
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env[f"{prefix}_PORT"] == str(port) and env[f"{prefix}_HOST"] == "0.0.0.0"  # noqa: S104 (inside a pod)
        for module_name, subcommand in _python_commands(pod["initContainers"][0]["command"]):
            assert subcommand in _subcommands(module_name)
        selector = services[name]["spec"]["selector"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        assert services[name]["spec"]["ports"][0]["port"] == port


def test_configured_upstream_urls_match_service_ports() -> None:
    config = next(d for d in _manifests() if d["kind"] == "ConfigMap")["data"]
    for key, url in config.items():
        if key.endswith("_URL") and url.startswith("http://"):
            parsed = urlsplit(url)
            assert parsed.hostname in APP_SERVICES, key
            assert APP_SERVICES[parsed.hostname][1] == parsed.port, key


# --- Revocation -------------------------------------------------------------------------------


def test_every_service_consults_the_gateways_revocation_view() -> None:
    """docker-compose and Kubernetes point the services at /auth/revocations (make run too:
    tests/test_system.py)."""
    config = next(d for d in _manifests() if d["kind"] == "ConfigMap")["data"]
    for name, (_module, _port, prefix) in APP_SERVICES.items():
        if name == "gateway":
            continue
        key = f"{prefix}_AUTH_REVOCATIONS_URL"
        assert COMPOSE["services"][name]["environment"][key] == (
            "http://gateway:8000/auth/revocations"
        )
        assert config[key] == "http://gateway:8000/auth/revocations"


# --- Scaling out ------------------------------------------------------------------------------


def test_every_stateless_process_has_an_autoscaler_that_owns_its_replica_count() -> None:
    documents = _manifests()
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    autoscalers = {
        d["spec"]["scaleTargetRef"]["name"]: d
        for d in documents
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert set(autoscalers) == set(APP_SERVICES)
    for name, hpa in autoscalers.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        assert hpa["metadata"]["namespace"] == deployments[name]["metadata"]["namespace"]
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        # Scaling on CPU needs a CPU request on every container, and a target the limit allows.
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        limit_m = _millicores(container["resources"]["limits"]["cpu"])
        assert _millicores(metric["resource"]["target"]["averageValue"]) < limit_m
        assert "cpu" in container["resources"]["requests"]
        # A replica count in the Deployment would be reset by every `kubectl apply`.
        assert "replicas" not in deployments[name]["spec"]


def _millicores(value: str | int) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def test_gateway_replicas_share_their_rate_limits_through_redis() -> None:
    """Compose and Kubernetes run a Redis and point the gateway at it (docs/security.md)."""
    from gateway.settings import GatewaySettings

    assert "rate_limit_redis_url" in GatewaySettings.model_fields
    config = next(d for d in _manifests() if d["kind"] == "ConfigMap")["data"]
    url = urlsplit(config["GATEWAY_RATE_LIMIT_REDIS_URL"])
    services = {d["metadata"]["name"]: d for d in _manifests() if d["kind"] == "Service"}
    assert url.scheme == "redis"
    assert services[url.hostname]["spec"]["ports"][0]["port"] == url.port
    gateway = COMPOSE["services"]["gateway"]
    compose_url = gateway["environment"]["GATEWAY_RATE_LIMIT_REDIS_URL"]
    assert urlsplit(compose_url.split(":-", 1)[1].rstrip("}")).hostname in COMPOSE["services"]
    assert "redis" in gateway["depends_on"]
    assert "healthcheck" in COMPOSE["services"]["redis"]
