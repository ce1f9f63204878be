FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LITELLM_LOCAL_MODEL_COST_MAP=True \
    CORPMAIL_DATA_DIR=/data
WORKDIR /srv/corpmail
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY agents ./agents
COPY migrations ./migrations
COPY sandbox_data ./sandbox_data
RUN pip install --no-cache-dir -e . && mkdir -p /data
EXPOSE 8000
CMD ["corpmail", "serve", "--host", "0.0.0.0", "--port", "8000"]
