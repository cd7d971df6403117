# The product's image: the user-code gRPC server (the default command), and, in docker-compose.yml, also the
# webserver, the daemon, the migration step, the HTTP API and every run container (DockerRunLauncher starts runs
# from it). Built in two stages so that no source tree is left where Python imports from: Dagster's code server and
# its run workers put their working directory first on sys.path, and a copied `discord_sync/` there would shadow
# the installed package (which alone holds `discord_sync.migrations`, mapped from the top-level `migrations/`).
#
# BASE_IMAGE: any Debian-like image with Python 3.11 as `python3` and its venv module. scripts/container-check.sh
# builds one from Debian's packages where the official image cannot be pulled.
ARG BASE_IMAGE=python:3.11-slim

# Stage 1: the wheel, built from the checkout. Nothing of this stage but the wheel reaches the image.
FROM ${BASE_IMAGE} AS wheel
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY discord_sync ./discord_sync
COPY migrations ./migrations
RUN python3 -m venv /opt/build-venv && /opt/build-venv/bin/pip wheel --no-deps --wheel-dir /dist .

# Stage 2: the image. Dependencies first, from the hashed lock, so a code change reuses this layer.
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DAGSTER_HOME=/opt/dagster/dagster_home

# The package's dependencies and both container run launchers (Docker and Kubernetes): any process that loads the
# instance (daemon, webserver, run workers) imports the configured one.
COPY requirements/runtime.txt /opt/venv-requirements.txt
RUN python3 -m venv /opt/venv && pip install --require-hashes --no-deps -r /opt/venv-requirements.txt

# The package itself, non-editable, into site-packages; `pip check` proves the lock satisfies it.
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist && pip check

# A numeric non-root user (Kubernetes' runAsNonRoot can check a number, not a name).
RUN groupadd --gid 10001 discord-sync \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /opt/dagster/dagster_home discord-sync \
    && mkdir -p /opt/dagster/dagster_home/storage \
    && chown -R 10001:10001 /opt/dagster/dagster_home

# Dagster's instance settings and a workspace that loads the code in-process (a single-container trial), where
# Dagster's own images and its Helm chart keep them. docker-compose.yml mounts its own over both; the chart mounts
# its instance ConfigMap over dagster.yaml. The working directory holds no Python, so nothing shadows the package.
COPY dagster.yaml workspace.yaml /opt/dagster/dagster_home/
WORKDIR /opt/dagster/dagster_home
USER 10001:10001

EXPOSE 4000
CMD ["dagster", "code-server", "start", "-m", "discord_sync.definitions", "-h", "0.0.0.0", "-p", "4000", \
     "--location-name", "discord-sync"]
