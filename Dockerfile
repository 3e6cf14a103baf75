# syntax=docker/dockerfile:1
# Intake's one image: `web`, `worker`, `beat`, `consumer` and `migrate` are commands
# of deploy/entrypoint.py (docs/deploy.md, "The image").
#
# The base is Debian bookworm with Python 3.11, pinned by digest. Where Docker Hub
# cannot be reached, a base made from Debian's own packages does the same job
# (bookworm's python3 is 3.11); scripts/image_smoke.sh builds one with debootstrap:
#   --build-arg BASE_IMAGE=localhost/intake-base:bookworm
# Refresh the digest with `docker buildx imagetools inspect python:3.11-slim-bookworm`.
ARG BASE_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# Every package is pinned in requirements.txt; --no-deps installs exactly those, so
# nothing unpinned comes in through a dependency, and `pip check` proves the set whole.
# Behind a proxy that re-signs TLS, pass its CA as a build secret
# (`--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt`): it is mounted for this
# step only and never stored in a layer.
COPY requirements.txt ./
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-deps --only-binary=:all: -r requirements.txt \
    && /opt/venv/bin/pip check
COPY . .
# Static files collected now, compressed by WhiteNoise, served by the web process.
# The settings module with embedded defaults: the build needs no secret.
RUN DJANGO_SETTINGS_MODULE=config.settings.base DJANGO_STATIC_ROOT=/app/staticfiles INTAKE_VAR_DIR=/tmp/build \
    /opt/venv/bin/python manage.py collectstatic --no-input -v 0 \
    && /opt/venv/bin/python -m compileall -q config dashboard uploader deploy \
    && rm -rf /tmp/build

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="Intake" \
      org.opencontainers.image.description="Files from clients straight into the business's own S3 bucket"
RUN groupadd --system --gid 10001 intake \
    && useradd --system --uid 10001 --gid intake --home-dir /app --no-create-home --shell /usr/sbin/nologin intake
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    INTAKE_VAR_DIR=/tmp/intake
# The code and static files belong to root: the app can read them, never change them.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "deploy.entrypoint", "healthcheck"]
ENTRYPOINT ["python", "-m", "deploy.entrypoint"]
CMD ["web"]
