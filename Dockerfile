# The demo as a container: built in one stage, run from a slim image with the binary alone
# (its migrations, templates and static files are compiled in). docs/deploy.md explains each
# step; deploy/check-dockerfile.sh runs the same steps where `docker build` cannot run.
#   docker build -t canter-demo . && docker run -p 8000:8000 -e CANTER_SECRET_KEY=... canter-demo

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p demo

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /app --create-home canter
COPY --from=build /src/target/release/demo /usr/local/bin/demo
WORKDIR /app
USER canter
ENV CANTER_DEBUG=false \
    CANTER_SERVER__BIND=0.0.0.0:8000 \
    CANTER_ALLOWED_HOSTS=localhost,127.0.0.1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:8000/healthz/ || exit 1
# The database is migrated and the static files collected at each start (both are idempotent);
# the server then takes the process over and stops gracefully on SIGTERM.
CMD ["sh", "-c", "demo migrate && demo collectstatic --noinput && exec demo runserver"]
