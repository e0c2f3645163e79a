# postboard: one image for every role. `docker build -t postboard .`, then `docker run postboard --role read` or
# `docker run -e ROLE=read postboard` (a --role flag wins over ROLE). Settings are environment variables (docs/operations.md, Configuration).
ARG NODE_VERSION=24

# Compile TypeScript with the full toolchain.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
RUN npm run build

# Production dependencies only: no compiler, test runner or linter reaches the runtime image.
FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# The commit the image is built from, for pb_build_info: `docker build --build-arg BUILD_COMMIT=$(git rev-parse HEAD) .`
ARG BUILD_COMMIT=unknown
# Listen on every interface inside the container (the CLI's own default stays 127.0.0.1).
ENV HOST=0.0.0.0 PORT=8080 BUILD_COMMIT=${BUILD_COMMIT}
WORKDIR /app
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN chmod 755 dist/src/cli.js && ln -s /app/dist/src/cli.js /usr/local/bin/postboard
# The image's unprivileged user; nothing here needs to write to the filesystem.
USER 1000:1000
EXPOSE 8080
# Readiness, not liveness: 200 (ok or degraded) is healthy, 503 (a required dependency down, or shutting down) is not.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/ready').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"
# SIGTERM starts the graceful shutdown (src/server.ts); allow it 20 s before a SIGKILL.
STOPSIGNAL SIGTERM
ENTRYPOINT ["postboard"]
CMD []
