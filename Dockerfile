# erc-demos service image. Not built in this project's CI (no Docker engine there); see README.
# Build stage: all dependencies (TypeScript included), the package build to dist/, then the dev dependencies pruned.
FROM node:20-bookworm-slim AS build
# hnswlib-node and better-sqlite3 compile with node-gyp during npm ci.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# onnxruntime-node's install script downloads its CUDA provider on Linux x64 unless this says skip (it runs on the
# CPU binaries its package ships). The image's npm (10, Node 20's) does not read package.json's allowScripts,
# which denies that script to npm 11.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/build-dist.mjs ./scripts/
COPY src ./src
# npm ci runs the package build (prepare: scripts/build-dist.mjs) once the dependencies are in.
RUN npm ci --no-audit --no-fund
RUN npm prune --omit=dev --no-audit --no-fund

# Runtime stage: the compiled service, its production dependencies, the sample corpus. They stay root's (read-only
# to the service); the service runs as the base image's unprivileged `node` user (uid/gid 1000, numeric so that
# runAsNonRoot-style checks can verify it), and the one place it writes is /app/indexes (DEFAULT_INDEX_DIR: the
# default index is built there, and `build --out indexes/...`), a volume it owns. A fresh named volume mounted there
# takes that ownership; a host directory bind-mounted there must be writable by uid 1000 (chown 1000:1000 it).
FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY data ./data
RUN mkdir -p /app/indexes && chown 1000:1000 /app/indexes
VOLUME ["/app/indexes"]
USER 1000:1000
# GLIBC_TUNABLES: glibc gives large allocations transparent huge pages, so hnswlib's reading of a 1M-row graph (2.2 GB
# in one allocation) takes half the time (docs/PERFORMANCE.md, serving memory and start); npm start sets it too.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/erc-demos.mjs", "serve"]
