# One image for every routeplex service; docker-compose.yml picks the entry point per container.
FROM node:20-slim
RUN npm i -g pnpm@12.4.2
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile --prod=false
ENV NODE_ENV=production
USER node
# e.g. services/router/src/main.ts, services/feedback/src/main.ts, services/insights/src/main.ts, services/gateway/src/main.ts
ENTRYPOINT ["node", "--import", "tsx", "--import", "@routeplex/platform/otel-hook"]
