# syntax=docker/dockerfile:1
#
# One image for every Meridian service. The service a container runs is chosen by its command:
#
#     docker run meridian serve ticket        # ENTRYPOINT is `meridian`, default CMD `serve gateway`
#
# docker-compose.yml and deploy/k8s/ run this same image with `serve <service>` (see docs/deploy.md).
#
# The packages are installed *editable* from /app on purpose: each service keeps its Alembic
# migrations beside its package (services/<name>/migrations/, outside meridian_<name>/), and they are
# found relative to the source tree. A plain wheel install would leave them behind.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

# The services baked into the image (directories under services/).
ARG SERVICES="gateway ingest ticket routing translation knowledge-base compliance"

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers only in this stage, for any dependency that ships no wheel for this platform.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/meridian
ENV PATH=/opt/meridian/bin:$PATH

WORKDIR /app
COPY libs/ ./libs/
COPY services/ ./services/

# One pip call so that each service's dependency on meridian-libs resolves to ./libs, not PyPI.
# ($args holds local paths only: DL3013 does not apply. The pip cache is a BuildKit cache mount: DL3042.)
# hadolint ignore=DL3013,DL3042,SC2086
RUN --mount=type=cache,target=/root/.cache/pip \
    set -eu; \
    args="-e ./libs"; \
    for s in ${SERVICES}; do \
        test -f "./services/$s/pyproject.toml" || { echo "services/$s/pyproject.toml missing" >&2; exit 1; }; \
        args="$args -e ./services/$s"; \
    done; \
    pip install $args; \
    pip check; \
    python -m compileall -q /app/libs /app/services

# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG MERIDIAN_UID=10001

LABEL org.opencontainers.image.title="meridian" \
      org.opencontainers.image.description="Meridian customer-service platform: one image, every service (meridian serve <service>)"

RUN groupadd --system --gid "${MERIDIAN_UID}" meridian \
    && useradd --system --uid "${MERIDIAN_UID}" --gid meridian --home-dir /home/meridian \
       --create-home --shell /usr/sbin/nologin meridian

# Same paths as in the build stage: the editable installs in the venv point at /app.
COPY --from=build /opt/meridian /opt/meridian
COPY --from=build /app /app

ENV PATH=/opt/meridian/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MERIDIAN_MODE=distributed \
    MERIDIAN_HOST=0.0.0.0 \
    MERIDIAN_PORT=8000 \
    MERIDIAN_DATA_DIR=/home/meridian/data

WORKDIR /home/meridian
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER ${MERIDIAN_UID}:${MERIDIAN_UID}

EXPOSE 8000

# Liveness only (/healthz): dependency trouble shows on /readyz and must not restart the container.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MERIDIAN_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["meridian"]
CMD ["serve", "gateway"]
