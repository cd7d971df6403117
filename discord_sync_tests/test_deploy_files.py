"""The deployment files say what the product needs: docker-compose.yml, the Helm values for Dagster's chart (checked
against the chart's schema), the Dockerfile (its install steps run in a clean venv), all consistent with
dagster.yaml. No container runtime runs here, so the files are read, not run."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url

from discord_sync.cli import build_parser
from discord_sync.store.database import create_db_engine, dagster_postgres_environment
from discord_sync_tests.fault_harness import REPO as REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
PRODUCT_SERVICES = ("migrate", "code-server", "webserver", "daemon", "api")
SECRETS = ("DATABASE_URL", "DISCORD_BOT_TOKEN", "ANONYMIZATION_KEY")
# The code location's one name: `[tool.dg]`, the workspaces, compose, the image's command and the Helm chart.
CODE_LOCATION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dg"]["project"]["code_location_name"]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def without_required_and_remote_refs(schema: object) -> object:
    """The chart's schema for an overlay: `required` dropped (the chart's own values.yaml fills the rest) and the
    kubernetesjsonschema.dev `$ref`s dropped (no network in tests; each keeps its own `type`)."""
    if isinstance(schema, dict):
        return {
            key: without_required_and_remote_refs(value)
            for key, value in schema.items()
            if key != "required" and not (key == "$ref" and str(value).startswith("http"))
        }
    if isinstance(schema, list):
        return [without_required_and_remote_refs(item) for item in schema]
    return schema


def chart_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((DEPLOY / "helm" / "dagster-chart-values.schema.json").read_text())
    return jsonschema.Draft7Validator(without_required_and_remote_refs(schema))


@pytest.mark.unit
def test_helm_values_validate_against_the_dagster_chart_schema_and_a_typo_would_not():
    values = load(DEPLOY / "helm" / "values.yaml")
    validator = chart_validator()
    assert [e.message for e in validator.iter_errors(values)] == []
    assert set(values) <= set(validator.schema["properties"]), "a top-level key the chart does not know"
    typo = copy.deepcopy(values)
    typo["runLauncher"]["config"]["k8sRunLauncher"]["envSecret"] = [{"name": "x"}]
    assert not validator.is_valid(typo)
    typo = copy.deepcopy(values)
    typo["concurrency"]["runs"]["tagConcurrencyLimits"][0]["limits"] = 1
    assert not validator.is_valid(typo)


@pytest.mark.unit
def test_helm_values_carry_dagster_yaml_settings_and_the_product_secrets():
    values = load(DEPLOY / "helm" / "values.yaml")
    instance = load(REPO_ROOT / "dagster.yaml")
    postgres_db = instance["storage"]["postgres"]["postgres_db"]
    assert values["postgresql"]["postgresqlParams"] == postgres_db["params"]
    assert values["postgresql"]["postgresqlScheme"] == postgres_db["scheme"]
    assert values["pythonLogs"]["managedPythonLoggers"] == instance["python_logs"]["managed_python_loggers"]
    # The run queue in the chart's top-level `concurrency` block (rendered only when enabled), not in the run
    # coordinator's config: the chart fails to render when both set a limit.
    concurrency = values["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["runs"]["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert concurrency["runs"]["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator" and "config" not in coordinator
    assert values["retention"]["schedule"]["purgeAfterDays"] == instance["retention"]["schedule"]["purge_after_days"]
    assert values["retention"]["sensor"]["purgeAfterDays"] == instance["retention"]["sensor"]["purge_after_days"]

    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"][:2] == ["-m", "discord_sync.definitions"]
    # The chart names the code location after the deployment in the webserver's workspace: the same name everywhere.
    args = deployment["codeServerArgs"]
    assert deployment["name"] == args[args.index("--location-name") + 1] == CODE_LOCATION
    secret_names = {s["name"] for s in deployment["envSecrets"]}
    assert secret_names == {s["name"] for s in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]}
    secrets = {
        d["metadata"]["name"]: d for d in yaml.safe_load_all((DEPLOY / "helm" / "secrets.example.yaml").read_text())
    }
    for name in secret_names:
        assert set(SECRETS) <= set(secrets[name]["stringData"])
    assert "postgresql-password" in secrets["dagster-postgresql-secret"]["stringData"]

    job = load(DEPLOY / "helm" / "migrate-job.yaml")
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["discord-sync", "migrate"]
    assert container["image"] == f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    assert_only_the_database_secret(container, secret_names)
    assert_non_root_with_resources(job["spec"]["template"]["spec"], container)

    api, service = yaml.safe_load_all((DEPLOY / "helm" / "api.yaml").read_text())
    [container] = api["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["discord-sync", "api"]
    assert container["image"] == f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    assert_only_the_database_secret(container, secret_names)
    assert_non_root_with_resources(api["spec"]["template"]["spec"], container)
    assert container["livenessProbe"]["tcpSocket"]["port"] == container["readinessProbe"]["httpGet"]["port"]
    env = {item["name"]: item for item in container["env"]}
    assert {"DAGSTER_HOME", "DAGSTER_WEBSERVER_URL", "DAGSTER_PG_PASSWORD"} <= set(env)
    port = int(container["command"][container["command"].index("--port") + 1])
    assert service["spec"]["ports"][0]["targetPort"] == port == container["readinessProbe"]["httpGet"]["port"]


def assert_only_the_database_secret(container: dict, secret_names: set[str]) -> None:
    """The product's own manifests (migration, API) take DATABASE_URL from the secret, not the sync secrets."""
    assert "envFrom" not in container, "the whole secret would bring the bot token and the anonymization key"
    [database] = [item for item in container["env"] if item["name"] == "DATABASE_URL"]
    assert database["valueFrom"]["secretKeyRef"]["name"] in secret_names
    assert database["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_URL"


def assert_non_root_with_resources(pod: dict, container: dict) -> None:
    """The image's numeric user, no privilege escalation, and requests and a memory limit."""
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and "memory" in container["resources"]["limits"]


def _compose_environment(service: dict) -> dict[str, str]:
    """A service's environment with `${VAR:?...}` / `${VAR:-default}` filled in as compose would, from examples."""
    examples = {"POSTGRES_PASSWORD": "s3cret"}

    def fill(value: str) -> str:
        return re.sub(
            r"\$\{(\w+)(?::[?-]([^}]*))?\}",
            lambda m: examples.get(m.group(1), m.group(2) if m.group(0).find(":-") > 0 else f"<{m.group(1)}>"),
            str(value),
        )

    return {key: fill(value) for key, value in service["environment"].items()}


@pytest.mark.unit
def test_compose_runs_every_process_of_the_product_from_one_image_on_one_database():
    compose = load(REPO_ROOT / "docker-compose.yml")
    services = compose["services"]
    assert set(services) == {"postgres", *PRODUCT_SERVICES}
    image = services["code-server"]["image"]
    for name in PRODUCT_SERVICES:
        service = services[name]
        assert service["image"] == image, name
        env = _compose_environment(service)
        assert "DATABASE_URL" in env, name
        # The bot token and the anonymization key only where runs are planned (the code server resolves their
        # resources) and started (the daemon's run launcher copies them into each run container).
        sync_secrets = {"DISCORD_BOT_TOKEN", "ANONYMIZATION_KEY"} & set(env)
        assert sync_secrets == (
            {"DISCORD_BOT_TOKEN", "ANONYMIZATION_KEY"} if name in ("code-server", "daemon") else set()
        )
        # Dagster's storage variables name the very database DATABASE_URL names: no split of state.
        derived = dagster_postgres_environment(env["DATABASE_URL"])
        assert {k: env[k] for k in derived} == derived, name
    postgres = services["postgres"]["environment"]
    url = make_url(_compose_environment(services["migrate"])["DATABASE_URL"])
    assert (url.host, url.username, url.database) == ("postgres", postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])

    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("code-server", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["code-server"]["environment"]["DAGSTER_CURRENT_IMAGE"] == image
    command = services["code-server"]["command"]
    assert command[:5] == ["dagster", "code-server", "start", "-m", "discord_sync.definitions"]
    location = command[command.index("--location-name") + 1]

    workspace = load(DEPLOY / "docker" / "workspace.yaml")["load_from"][0]["grpc_server"]
    assert (workspace["host"], str(workspace["port"]), workspace["location_name"]) == (
        "code-server",
        command[command.index("-p") + 1],
        location,
    )
    assert location == CODE_LOCATION
    for path in (REPO_ROOT / "workspace.yaml", DEPLOY / "docker" / "workspace.yaml"):
        [entry] = load(path)["load_from"]
        assert next(iter(entry.values()))["location_name"] == CODE_LOCATION, path
    [cmd] = [json.loads(args) for keyword, args in dockerfile_stages()[-1] if keyword == "CMD"]
    assert cmd[cmd.index("--location-name") + 1] == CODE_LOCATION
    assert services["webserver"]["command"][0] == "dagster-webserver"
    health = {name: " ".join(services[name]["healthcheck"]["test"]) for name in ("code-server", "webserver", "api")}
    assert f"dagster api grpc-health-check -p {command[command.index('-p') + 1]}" in health["code-server"]
    assert "/server_info" in health["webserver"] and "/healthz" in health["api"]
    for name, needs in (("webserver", "code-server"), ("daemon", "code-server"), ("api", "webserver")):
        assert services[name]["depends_on"][needs]["condition"] == "service_healthy", name
    # Cancelling stops a run's container from the webserver's process: it needs the Docker socket as the daemon does.
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["webserver"]["volumes"]
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["daemon"]["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in services["webserver"]["ports"])

    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    used = {services[name]["command"][1] for name in PRODUCT_SERVICES if services[name]["command"][0] == "discord-sync"}
    assert used <= subcommands and {"migrate", "api"} <= used


@pytest.mark.unit
def test_compose_dagster_yaml_is_the_repository_one_plus_the_docker_run_launcher():
    compose = load(REPO_ROOT / "docker-compose.yml")
    repository = load(REPO_ROOT / "dagster.yaml")
    docker = load(DEPLOY / "docker" / "dagster.yaml")
    launcher = docker.pop("run_launcher")
    docker.pop("run_monitoring")
    assert docker == repository
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    config = launcher["config"]
    assert config["network"] == compose["networks"]["discord-sync"]["name"]
    product_env = set(compose["services"]["daemon"]["environment"])
    assert set(config["env_vars"]) == product_env, "a run container would miss a setting the daemon has"
    volume = config["container_kwargs"]["volumes"][0].split(":")[0]
    assert volume == compose["volumes"]["discord-sync-storage"]["name"]


def dockerfile_instructions(text: str | None = None) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (keyword, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (REPO_ROOT / "Dockerfile").read_text() if text is None else text)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]  # type: ignore[misc]


def dockerfile_stages(text: str | None = None) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, its FROM first (the ARGs before the first FROM belong to none)."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions(text):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, args))
    return stages


def final_stage_copies(text: str | None = None) -> list[tuple[list[str], str]]:
    """What the image's last stage copies from the build context: (sources, absolute destination), each
    destination resolved against the WORKDIR in force at that COPY, as Docker does."""
    workdir, copies = "/", []
    for keyword, args in dockerfile_stages(text)[-1]:
        if keyword == "WORKDIR":
            workdir = str(Path(workdir, args))
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, target = args.split()
            destination = str(Path(workdir, target))  # an absolute target replaces the WORKDIR
            copies.append((sources, destination + ("/" if target.endswith("/") or target in (".", "./") else "")))
    return copies


def final_workdir(text: str | None = None) -> str:
    """The working directory of the image's processes: the code server, the daemon and every run worker."""
    [*_, workdir] = [args for keyword, args in dockerfile_stages(text)[-1] if keyword == "WORKDIR"] or ["/"]
    return workdir


def lay_out_final_stage(root: Path, text: str | None = None) -> Path:
    """Copy into `root` (the image's `/`) what the last stage copies from the build context; return its WORKDIR."""
    for sources, destination in final_stage_copies(text):
        for source in sources:
            target = root / destination.lstrip("/")
            if destination.endswith("/"):
                target = target / Path(source).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(REPO_ROOT / source, target, dirs_exist_ok=True)
            else:
                shutil.copy(REPO_ROOT / source, target)
    workdir = root / final_workdir(text).lstrip("/")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def build_wheel(tmp_path: Path) -> Path:
    """The wheel of this checkout, built (as the image's first stage does) from a copy of what it needs."""
    source = tmp_path / "wheel-source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    for folder in ("discord_sync", "migrations"):
        shutil.copytree(REPO_ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    step = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert step.returncode == 0, step.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("discord_sync-*.whl")
    return wheel


IMPORT_FROM_WORKDIR = (
    "import discord_sync, discord_sync.migrations as m;"
    "assert 'site-packages' in discord_sync.__file__, discord_sync.__file__;"
    "print(m.__file__)"
)


@pytest.mark.unit
def test_dockerfile_builds_the_wheel_apart_and_installs_it_from_the_lock_as_a_numeric_user():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "the wheel is built in a stage of its own"
    [base] = [args for keyword, args in dockerfile_instructions() if keyword == "ARG" and args.startswith("BASE_")]
    assert base == "BASE_IMAGE=python:3.11-slim"
    assert all(stage[0][1].split()[0] == "${BASE_IMAGE}" for stage in stages)

    final = stages[-1]
    copied = [source for sources, _ in final_stage_copies() for source in sources]
    assert all((REPO_ROOT / path).exists() for path in copied)
    assert not {"discord_sync", "migrations", "pyproject.toml", "."} & {p.rstrip("/") for p in copied}, (
        "the image must hold the installed package only, no source tree"
    )
    runs = [args for keyword, args in final if keyword == "RUN"]
    [lock_install] = [i for i, args in enumerate(runs) if "--require-hashes" in args]
    assert "-r /opt/venv-requirements.txt" in runs[lock_install]
    assert ("requirements/runtime.txt", "/opt/venv-requirements.txt") in [
        (sources[0], destination) for sources, destination in final_stage_copies()
    ]
    [wheel_install] = [i for i, args in enumerate(runs) if ".whl" in args]
    assert lock_install < wheel_install, "dependencies before the wheel, so a code change keeps their layer"
    assert "--no-deps" in runs[wheel_install] and " -e " not in runs[wheel_install]

    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env
    assert (["dagster.yaml", "workspace.yaml"], "/opt/dagster/dagster_home/") in final_stage_copies()
    [user] = [args for keyword, args in final if keyword == "USER"]
    assert all(part.isdigit() and int(part) > 0 for part in user.split(":")), user
    [cmd] = [json.loads(args) for keyword, args in final if keyword == "CMD"]
    assert cmd[:5] == ["dagster", "code-server", "start", "-m", "discord_sync.definitions"]


@pytest.mark.e2e
def test_the_image_workdir_does_not_shadow_the_installed_package(tmp_path):
    """Dagster's code server and run workers put their working directory first on sys.path (as `python -c`
    does): from the image's WORKDIR, laid out as the last stage copies it, `discord_sync.migrations` must come from
    the installed wheel. The single-stage Dockerfile copied `discord_sync/` there and failed this."""
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
    workdir = lay_out_final_stage(tmp_path / "image")
    found = subprocess.run(
        [str(python), "-c", IMPORT_FROM_WORKDIR], cwd=workdir, capture_output=True, text=True, env={"PATH": "/bin"}
    )
    assert found.returncode == 0, found.stderr[-2000:]
    assert "site-packages/discord_sync/migrations/__init__.py" in found.stdout


@pytest.mark.e2e
def test_the_image_install_gives_a_working_product_from_its_workdir(pg_server_url, tmp_path):
    """The image's install steps (the hashed lock, then the wheel without dependencies) in a fresh venv; then, from
    the image's WORKDIR as its last stage lays it out, migrate an empty database and load the code location and the
    instance the way the containers do."""
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    for step_args in (
        ["--require-hashes", "--no-deps", "-r", str(REPO_ROOT / "requirements" / "runtime.txt")],
        ["--no-deps", str(wheel)],
    ):
        step = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *step_args], capture_output=True, text=True, timeout=900
        )
        assert step.returncode == 0, step.stderr[-3000:]
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, f"the lock does not satisfy the package: {check.stdout}"

    workdir = lay_out_final_stage(tmp_path / "image")
    name = f"discord_sync_image_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    # The WORKDIR is DAGSTER_HOME in the image: its dagster.yaml is the one the processes read.
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "DATABASE_URL": url, "DAGSTER_HOME": str(workdir)}
    env.update(dagster_postgres_environment(url))
    try:
        migrate = subprocess.run(
            [str(venv / "bin" / "discord-sync"), "migrate"], env=env, cwd=workdir, capture_output=True, text=True
        )
        assert migrate.returncode == 0, migrate.stderr
        loads = subprocess.run(
            [
                str(python),
                "-c",
                f"{IMPORT_FROM_WORKDIR};"
                "import dagster as dg, dagster_docker, dagster_k8s, discord_sync.definitions as d;"
                "i = dg.DagsterInstance.get(); i.add_dynamic_partitions('tenants', ['acme']);"
                "print(sorted(d.defs.resolve_asset_graph().get_all_asset_keys()))",
            ],
            env={**env, "DISCORD_BOT_TOKEN": "x", "ANONYMIZATION_KEY": "image-check-key-0123456789"},
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        assert loads.returncode == 0, loads.stderr
        assert "messages" in loads.stdout
        with create_db_engine(url).connect() as conn:
            tables = set(conn.execute(sa.text("SELECT schemaname || '.' || tablename FROM pg_tables")).scalars())
        assert {"public.messages", "public.tenants", "dagster.runs", "dagster.dynamic_partitions"} <= tables
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
