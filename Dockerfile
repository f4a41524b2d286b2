# The Audio Exchange app: daphne serving pages, static files (WhiteNoise) and WebSockets.
# Built and run by deploy/docker-compose.yml; see docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app

# Dependencies first: this layer is reused until requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Collected once, at build, so every replica serves the same hashed files. DEBUG=0 selects
# the manifest storage; the development key only passes settings' check and signs nothing.
RUN DEBUG=0 ALLOW_DEV_SECRET_KEY=1 python manage.py collectstatic --noinput -v0

# An unprivileged user owns only the media directory (a volume in compose).
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /data/media \
    && chown app:app /data/media
USER app

EXPOSE 8000
# exec: daphne becomes the process that receives SIGTERM and drains sockets with 1001.
# BEHIND_PROXY=1 (compose) trusts X-Forwarded-For: only nginx may reach this port (compose publishes none).
CMD ["scripts/web.sh"]
