# One image for the five services; docker-compose.yml picks the app with APP.
FROM node:20-bookworm-slim AS build
WORKDIR /trainyard
COPY package.json package-lock.json ./
# Every workspace's package.json, or npm ci finds the lock file out of step with the tree.
COPY libs/contracts/package.json libs/contracts/
COPY libs/config/package.json libs/config/
COPY libs/telemetry/package.json libs/telemetry/
COPY libs/messaging/package.json libs/messaging/
COPY libs/persistence/package.json libs/persistence/
COPY libs/storage/package.json libs/storage/
COPY libs/runtime/package.json libs/runtime/
COPY libs/testing/package.json libs/testing/
COPY libs/charts/package.json libs/charts/
COPY libs/search/package.json libs/search/
COPY libs/tracking/package.json libs/tracking/
COPY libs/run-flags/package.json libs/run-flags/
COPY tools/cli/package.json tools/cli/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /trainyard
ENV NODE_ENV=production
COPY --from=build /trainyard /trainyard
ARG APP=scheduler
ENV APP=${APP}
# Owned by node so a named volume mounted here (the broker's SSH key, agent bundles) is writable.
RUN mkdir -p /var/lib/trainyard && chown node:node /var/lib/trainyard
USER node
CMD ["sh", "-c", "exec node --max-semi-space-size=2 --heap-growing-percent=100 --require ./apps/$APP/dist/instrumentation.js ./apps/$APP/dist/main.js"]
