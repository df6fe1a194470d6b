# syntax=docker/dockerfile:1
# Pier's one image, with three entrypoints on PATH:
#   pier-controller        the controller (Deployment)
#   pier-dataplane         the dataplane (DaemonSet)
#   pier-install-secrets   creates the Redis password and key-ring Secrets (Job)
#
#   docker build -t registry.example.com/pier:0.1.0 .
#
# The build stage installs the workspace with the pinned pnpm, compiles the
# TypeScript, bundles the controller (scripts/bundle-controller.ts: one file with
# what it uses of its dependencies), and deploys each package with only its
# production dependencies;
# the runtime stage is node:24-slim with those two trees, running as uid 1000.

ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION=12.21.0
ENV CI=true
WORKDIR /src
# Package manifests first, so the dependency layer is reused until they change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json ./
COPY packages/shared/package.json packages/shared/tsconfig.json packages/shared/
COPY packages/controller/package.json packages/controller/tsconfig.json packages/controller/
COPY packages/dataplane/package.json packages/dataplane/tsconfig.json packages/dataplane/
COPY packages/standalone/package.json packages/standalone/tsconfig.json packages/standalone/
COPY deploy/package.json deploy/
COPY test/package.json test/
RUN npx --yes "pnpm@${PNPM_VERSION}" install --frozen-lockfile
COPY packages/shared/src packages/shared/src
COPY packages/controller/src packages/controller/src
COPY packages/dataplane/src packages/dataplane/src
COPY packages/standalone/src packages/standalone/src
COPY scripts/bundle-controller.ts scripts/
RUN node_modules/.bin/tsc --build \
  && node scripts/bundle-controller.ts \
  && npx --yes "pnpm@${PNPM_VERSION}" --filter @pier/controller deploy --prod /out/controller \
  && npx --yes "pnpm@${PNPM_VERSION}" --filter @pier/dataplane deploy --prod /out/dataplane

FROM ${NODE_IMAGE}
# The dataplane binds ports 80 and 443 as uid 1000: node gets the file
# capability cap_net_bind_service. It takes effect only where privilege
# escalation is allowed and the bounding set holds it (the DaemonSet); the
# controller and the Job run with no_new_privs, where it is ignored. npm,
# npx, corepack and yarn are not needed at run time and go.
# ip (iproute2) and arping (iputils-arping) are what L2 mode runs to hold and announce
# addresses (docs/l2.md); without --l2 they are never called.
RUN apt-get update \
  && apt-get install -y --no-install-recommends libcap2-bin iproute2 iputils-arping \
  && setcap cap_net_bind_service=+ep /usr/local/bin/node \
  && apt-get purge -y libcap2-bin \
  && apt-get autoremove -y \
  && rm -rf /var/lib/apt/lists/* \
    /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
    /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
COPY --from=build /out/controller /app/controller
COPY --from=build /out/dataplane /app/dataplane
COPY deploy/image/bin/ /usr/local/bin/
ENV NODE_ENV=production
WORKDIR /app
# uid 1000 is the image's `node` user; numeric, so that the kubelet can check
# runAsNonRoot.
USER 1000:1000
EXPOSE 80 443 9090 9091
CMD ["pier-controller", "--help"]
