# Builds and runs the registry as a non-root user; the data folder is a volume.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data \
    PORT=5000
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN groupadd --system registry && useradd --system --gid registry --home-dir /data registry \
    && mkdir -p /data && chown registry:registry /data
USER registry
VOLUME ["/data"]
EXPOSE 5000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The same node flags as `npm start` (a test checks they agree): --max-semi-space-size=4 caps V8's young
# generation, which otherwise grows to 3 × 16 MB under a burst of small requests and stays resident.
CMD ["node", "--max-semi-space-size=4", "dist/main.js"]
