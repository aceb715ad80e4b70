# The stanzactl worker (and CLI) image. Node is pinned to the release the tests run on.
#   docker build -t stanzactl .
#   docker run --rm stanzactl --help

FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# npm ci runs the package's "prepare" script, which compiles src to dist; dev packages go after.
# The workflows are bundled here once, so a restarted worker polls in a second or two instead of
# running webpack first (STANZACTL_WORKFLOW_BUNDLE below).
RUN npm ci --no-audit --no-fund \
 && node -e "require('@temporalio/worker').bundleWorkflowCode({ workflowsPath: require.resolve('./dist/src/workflows') }).then(({ code }) => require('fs').writeFileSync('dist/workflow-bundle.js', code))" \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production STANZACTL_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
# glibc gives each thread that allocates (the SDK's Rust threads, the workflow thread) malloc arenas
# of its own, up to 8 per core, and their freed pages stay with the process: with 2, 50 clusters'
# worker peaked at 222 MiB instead of 237 (3 minutes, bench/README.md "Fleet budget").
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The bash programs the worker sends to hosts are read from their .sh files below src/ (tsc copies
# no .sh into dist/).
COPY --from=build /app/src ./src
COPY --from=build /app/bin ./bin
# The SSH key, known_hosts, specs and secrets are mounted read-only; the worker writes nothing.
# The node image's own unprivileged user, node (uid 1000), runs it: the mounted key must be
# readable by uid 1000.
USER 1000:1000
# Node 20 lets the main thread's young generation grow to two 16 MiB semi-spaces; 2 MiB each
# bounds it as the worker bounds its workflow thread's (src/worker.ts; docs/deployment-and-security.md).
ENTRYPOINT ["node", "--max-semi-space-size=2", "bin/stanzactl.js"]
CMD ["worker"]
