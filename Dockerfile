# syntax=docker/dockerfile:1
# Build stage: resolve exactly what uv.lock pins into /app/.venv.
FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --compile-bytecode
COPY src ./src
RUN uv sync --frozen --no-dev --compile-bytecode
# the project itself is an editable install (src/), which --compile-bytecode leaves alone: compile it here,
# or every new container compiles Keel's ~470 modules at its first start (~0.8 s of CPU, issue 12)
RUN /app/.venv/bin/python -m compileall -q /app/src

# Runtime stage: no compilers, no uv, a non-root user.
FROM python:3.11-slim AS runtime
RUN useradd --create-home --uid 10001 keel
WORKDIR /app
COPY --from=build --chown=keel:keel /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 KEEL_ENV=production HOST=0.0.0.0 PORT=8000
USER keel
RUN mkdir -p /app/var
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"
STOPSIGNAL SIGTERM
CMD ["keel", "serve"]
