# corpmail: the API server and CLI. Dependencies first (a cached layer), then the code (editable install:
# corpmail runs from its checkout, migrations/ and sandbox_data/ beside the packages).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LITELLM_LOCAL_MODEL_COST_MAP=True \
    CORPMAIL_DATA_DIR=/data
WORKDIR /srv/corpmail
COPY pyproject.toml ./
RUN python -c "import subprocess, sys, tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--no-cache-dir', '--quiet', *deps])"
COPY . .
RUN pip install --no-cache-dir --quiet --no-deps -e . \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin corpmail \
 && mkdir -p /data && chown corpmail:corpmail /data
USER corpmail
LABEL org.opencontainers.image.title=corpmail
VOLUME /data
EXPOSE 8000
CMD ["corpmail", "serve", "--host", "0.0.0.0", "--port", "8000"]
