# riskseal services image: `riskseal seal`, `riskseal risk worker`, `riskseal verify`.
# Built by docker-compose.yml; see docs/DEPLOYMENT.md.

# --- build: install the project into a self-contained virtualenv ----------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
# src/riskseal/contract/schemas is a symlink to the top-level schemas/ directory.
COPY schemas ./schemas
COPY src ./src

# Smoke checks: the CLI starts, and the installed package carries its Avro schemas
# (package data), not only the code.
RUN python -m venv /opt/riskseal \
 && /opt/riskseal/bin/pip install --upgrade pip \
 && /opt/riskseal/bin/pip install . \
 && /opt/riskseal/bin/riskseal --help > /dev/null \
 && /opt/riskseal/bin/python -c "from riskseal.contract.schemas_set import default_schemas; default_schemas()"

# --- runtime: slim image, non-root user -------------------------------------------------
FROM python:3.11-slim

RUN groupadd --system --gid 10001 riskseal \
 && useradd --system --uid 10001 --gid riskseal --home-dir /var/lib/riskseal \
      --create-home --shell /usr/sbin/nologin riskseal

COPY --from=build /opt/riskseal /opt/riskseal

ENV PATH=/opt/riskseal/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RISKSEAL_PROFILE=production \
    RISKSEAL_DATA_DIR=/var/lib/riskseal

USER 10001:10001
WORKDIR /var/lib/riskseal
VOLUME ["/var/lib/riskseal"]

ENTRYPOINT ["riskseal"]
CMD ["--help"]
