# The product's image: the user-code gRPC server (the default command), and, in docker-compose.yml, also the
# webserver, the daemon, the migration step and every run container (DockerRunLauncher starts runs from it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/discord-sync

WORKDIR /opt/discord-sync

# A non-editable install of the package, with the run launchers of both container deployments (Docker and
# Kubernetes): any process that loads the instance (daemon, webserver, run workers) imports the configured one.
COPY pyproject.toml README.md ./
COPY discord_sync ./discord_sync
COPY migrations ./migrations
RUN pip install ".[docker,k8s]"

# Dagster's instance settings (DAGSTER_HOME is this folder) and a workspace that loads the code in-process, for a
# single-container trial; docker-compose.yml mounts its own dagster.yaml and a workspace naming the code server.
COPY dagster.yaml workspace.yaml ./

RUN useradd --create-home --uid 10001 discord-sync && mkdir -p storage && chown -R discord-sync /opt/discord-sync
USER discord-sync

EXPOSE 4000
CMD ["dagster", "code-server", "start", "-m", "discord_sync.definitions", "-h", "0.0.0.0", "-p", "4000", \
     "--location-name", "discord_sync"]
