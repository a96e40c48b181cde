# One image for every routeplex service; docker-compose.yml picks the entry point per container.
FROM node:20-slim
RUN npm i -g pnpm@12.4.2
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile --prod=false
ENV NODE_ENV=production
USER node
# e.g. services/router/src/main.ts, services/feedback/src/main.ts, services/insights/src/main.ts, services/gateway/src/main.ts
# --max-semi-space-size: a larger young generation for request-scoped garbage (see scripts/start).
# The tracing hook by path: the workspace root does not depend on @routeplex/platform, so its package
# name does not resolve from /app.
ENTRYPOINT ["node", "--max-semi-space-size=32", "--import", "tsx", "--import", "/app/packages/platform/src/otel-hook.ts"]
