# nd-presence in a container: docs/deployment.md, "A container beside Navidrome" (compose.yaml
# runs it there). `docker build -t nd-presence .` builds it.
#
# test/container.test.ts runs these steps without a container engine. It knows each instruction
# used here and fails on any other, so a step added here cannot be silently skipped there; and it
# refuses a RUN that names an absolute path (it could not map it into its temporary tree), so RUN
# commands work in WORKDIR with relative paths.

# ---- build: install from the lockfile, compile src/ to dist/, drop the dev dependencies.
# The same base as the runtime stage, so that node_modules is built for the Node that runs it.
# Node 22: a maintained LTS (Node 20's support ended in April 2026); the package runs on 20 and up.
FROM node:22-bookworm-slim AS build
WORKDIR /src
# The lockfile alone first, so that the installed dependencies are a layer of their own, built
# again only when they change. Exactly the lockfile's versions; no install scripts: the dev
# tools' own (Deno's download of its binary, which has none for 32-bit ARM) are not needed to
# build, and `prepare` (the build) needs the sources, which come next.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
# .dockerignore keeps the host's node_modules, dist and data out of the context.
COPY . .
RUN npm run build
# What runs needs only the dependencies: TypeScript, Vitest, Deno and tsx stay in this stage.
RUN npm prune --omit=dev --no-audit --no-fund
# The data volume's mount point, empty: the runtime stage copies it with the service's owner.
RUN mkdir volume

# ---- runtime: the base image, and the package as npm would install it. This stage runs no
# command: everything in it is copied, so its content is exactly what is listed here.
FROM node:22-bookworm-slim
# Owned by root, as COPY leaves it: the service cannot change its own code.
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/dist ./dist
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/config.schema.json ./
# /data holds the config and the journal, and is the only path the service writes. It belongs to
# the service's user, so that a named volume, which Docker fills from the image's /data (owner
# included) the first time, is writable too. A bind mount must belong to uid 1000 likewise.
COPY --from=build --chown=1000:1000 /src/volume /data
VOLUME /data
WORKDIR /data
# The config and the journal in /data (the config may be elsewhere: compose.yaml mounts it read-only
# at /config). The HTTP server listens on every interface of the container, so that Navidrome can
# reach the ListenBrainz receiver over the container network; publish the port on the host's
# loopback only (compose.yaml), since the status page shows who plays what.
ENV ND_PRESENCE_CONFIG=/data/nd-presence.json \
    ND_PRESENCE_DATA=/data \
    ND_PRESENCE_HTTP_HOST=0.0.0.0
# The image's `node` user, by number: Kubernetes' runAsNonRoot can check a number, not a name, and
# nothing in the image needs a name.
USER 1000:1000
EXPOSE 4534
# /healthz: 200 when every user who should be connected is READY and every source is healthy.
# Node itself asks it: the slim image has no curl or wget. A config that moves the HTTP server
# (http.port) sets ND_PRESENCE_HEALTHCHECK_URL to match.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch(process.env.ND_PRESENCE_HEALTHCHECK_URL || 'http://127.0.0.1:4534/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, no shell: node is PID 1 and gets `docker stop`'s SIGTERM itself, then clears every
# presence, closes every socket with 1000 and exits 0. The kernel gives PID 1 no default action for
# a signal it does not handle, but nd-presence installs its own handlers (SIGTERM, SIGINT, SIGHUP
# to reload), so that quirk does not apply; it starts no child process, so there is no zombie to
# reap either, and no init (tini, `init: true`) is needed.
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["start"]
