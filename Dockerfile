# safetybot: one image for every instance (docker-compose.yml runs two).
#   docker build -t safetybot .
#   docker run --env-file .env safetybot            # `safetybot run`
#   docker run --env-file .env safetybot safetybot db upgrade
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: no tests, no benchmarks, no local data (.dockerignore).
COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY handlers /src/handlers
COPY domain /src/domain
COPY scheduler /src/scheduler
COPY services /src/services
COPY storage /src/storage
COPY content /src/content
COPY tgserver /src/tgserver
RUN pip install /src && rm -rf /src \
    && useradd --system --uid 10001 --home-dir /app --create-home safetybot \
    && mkdir -p /app/data /app/media && chown safetybot:safetybot /app/data /app/media

USER safetybot
WORKDIR /app
# /healthz and /metrics on 9090, reachable from the compose network (publish it to
# nothing public). The webhook, when WEBHOOK_URL is set, listens on 8443.
ENV MEDIA_DIR=/app/media \
    DATABASE_URL=sqlite+aiosqlite:////app/data/safetybot.db \
    LOG_FORMAT=json \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9090
VOLUME ["/app/data", "/app/media"]
EXPOSE 8443 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=4).status != 200)"]
CMD ["safetybot", "run"]
