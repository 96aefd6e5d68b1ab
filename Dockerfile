# The sandbox as a container: `docker build -t mockyard .`, then
#   docker run -p 9000:9000 -e MOCKYARD_ADMIN_TOKEN=... mockyard
# serves this workspace on port 9000 with an embedded SQLite state, or, with
# -e MOCKYARD_STATE=postgresql://USER:PASSWORD@HOST:5432/DB, on a shared PostgreSQL state
# (compose.yaml runs two replicas that way). Off loopback the admin API needs a token:
# without MOCKYARD_ADMIN_TOKEN the container refuses to start, with one line saying so.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MOCKYARD_CACHE_DIR=/tmp/mockyard-cache

WORKDIR /app

# The engine first, so editing the workspace does not reinstall the dependencies.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && python -m compileall -q /app/src

COPY mockyard.yaml ./
COPY specs ./specs
COPY handlers ./handlers
COPY fixtures ./fixtures
RUN python -m compileall -q /app/handlers

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mockyard
USER mockyard

EXPOSE 9000
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen(r.Request('http://127.0.0.1:9000/__mockyard/health', headers={'Authorization': 'Bearer ' + os.environ.get('MOCKYARD_ADMIN_TOKEN', '')}), timeout=2)"]
ENTRYPOINT ["mockyard", "serve", "--workspace", "/app", "--host", "0.0.0.0", "--port", "9000"]
