# riskseal services image: `riskseal seal`, `riskseal risk worker`, `riskseal verify`.
# Built by docker-compose.yml; see docs/DEPLOYMENT.md.

# --- build: install the project into a self-contained virtualenv ----------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
# src/riskseal/contract/schemas, src/riskseal/risk/rules and src/riskseal/risk/policies are
# symlinks to these top-level directories: without them the package ships no schemas,
# rules or policies (tests/unit/test_compose.py checks every symlink's target is copied).
COPY schemas ./schemas
COPY rules ./rules
COPY policies ./policies
COPY src ./src

# Smoke checks: the CLI starts, and the installed package carries its package data, not
# only the code: the Avro schemas, and rules and Cedar policies that load and validate.
RUN python -m venv /opt/riskseal \
 && /opt/riskseal/bin/pip install --upgrade pip \
 && /opt/riskseal/bin/pip install . \
 && /opt/riskseal/bin/riskseal --help > /dev/null \
 && /opt/riskseal/bin/python -c "from riskseal.contract.schemas_set import default_schemas; default_schemas()" \
 && /opt/riskseal/bin/python -c "from riskseal.risk.engine import RiskEngine; from riskseal.settings import Settings; RiskEngine.load(Settings(profile='production'), source_id='build')"

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
