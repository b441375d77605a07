#!/usr/bin/env bash
# A one-node Slurm cluster on this host, to try charsuite's Slurm path without a cluster:
#   scripts/slurm_local.sh up       install (apt: slurm-wlm, slurmdbd, munge, mariadb-server) if missing,
#                                   start munged, the cluster's own MariaDB, slurmdbd, slurmctld, slurmd
#   scripts/slurm_local.sh status   what runs, and the node as Slurm sees it
#   scripts/slurm_local.sh down     stop all five that `up` started, by their pids (never a host's own)
# The node is this host: all its cores and 90% of its memory, CPU only. Its configs are
# scripts/slurm/slurm.conf.in and slurmdbd.conf.in, filled in under $CHARSUITE_SLURM_DIR (default
# /tmp/charsuite-slurm); point SLURM_CONF there to use it (`up` prints the line). Accounting (sacct)
# lives in a MariaDB server started for this cluster alone: its data, socket, pid and log under that
# folder, on 127.0.0.1:$CHARSUITE_SLURM_DB_PORT (default 3316); `down` stops it by its own pid file,
# never a database of the host. Needs root (apt, daemons). Idempotent.
set -euo pipefail

STATE="${CHARSUITE_SLURM_DIR:-/tmp/charsuite-slurm}"
CONF="$STATE/slurm.conf"
TEMPLATE="$(cd "$(dirname "$0")" && pwd)/slurm/slurm.conf.in"
DBD_TEMPLATE="$(dirname "$TEMPLATE")/slurmdbd.conf.in"
DB_PORT="${CHARSUITE_SLURM_DB_PORT:-3316}"
DB_PASS=charsuite-local  # guards only this cluster's throw-away accounting database, on loopback
DB_DATA="$STATE/mysql"
DB_SOCK="$STATE/mysql.sock"
DB_PID="$STATE/mysql.pid"
export SLURM_CONF="$CONF"  # slurmdbd reads slurmdbd.conf from the same folder

die() { echo "slurm_local: $*" >&2; exit 2; }
running() { ps -C "$1" -o stat= 2>/dev/null | grep -qv '^Z'; }  # a zombie is not running

install() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v slurmdbd >/dev/null &&
        command -v mariadbd >/dev/null && return
    [ "$(id -u)" = 0 ] || die "installing slurm-wlm, slurmdbd, munge and mariadb-server needs root (or install them first)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm slurmdbd munge mariadb-server >/dev/null
}

start_munge() {
    running munged && return
    [ -s /etc/munge/munge.key ] || /usr/sbin/mungekey --create >/dev/null 2>&1 || die "cannot create /etc/munge/munge.key"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    su -s /bin/sh munge -c /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
    munge -n | unmunge >/dev/null || die "munge does not round-trip a credential"
    mkdir -p "$STATE"
    cp /run/munge/munged.pid "$STATE/munged.pid" 2>/dev/null || pgrep -n -x munged > "$STATE/munged.pid"  # ours
}

write_conf() {
    mkdir -p "$STATE/spool" "$STATE/ctld"
    local host cpus mem fill
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
    fill=(-e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY_MB@|$mem|g" -e "s|@STATE@|$STATE|g"
          -e "s|@DB_PORT@|$DB_PORT|g" -e "s|@DB_PASS@|$DB_PASS|g")
    sed "${fill[@]}" "$TEMPLATE" > "$CONF"
    (umask 077 && sed "${fill[@]}" "$DBD_TEMPLATE" > "$STATE/slurmdbd.conf")  # slurmdbd insists on mode 600
}

sql() { mariadb --no-defaults --socket="$DB_SOCK" -u root -e "$1"; }

start_database() {
    if ! { [ -s "$DB_PID" ] && kill -0 "$(cat "$DB_PID")" 2>/dev/null; }; then
        if [ ! -d "$DB_DATA/mysql" ]; then
            mariadb-install-db --no-defaults --user=root --datadir="$DB_DATA" --skip-test-db \
                --auth-root-authentication-method=socket > "$STATE/mysql-install.log" 2>&1 ||
                die "mariadb-install-db failed; see $STATE/mysql-install.log"
        fi
        # The buffer pool and lock wait slurmdbd asks for; no host config file is read (--no-defaults)
        setsid mariadbd --no-defaults --user=root --datadir="$DB_DATA" --socket="$DB_SOCK" --port="$DB_PORT" \
            --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$DB_PID" --log-error="$STATE/mysql.log" \
            --innodb-buffer-pool-size=128M --innodb-log-file-size=64M --innodb-lock-wait-timeout=900 \
            </dev/null >/dev/null 2>&1 &
        for _ in $(seq 1 60); do sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5; done
        sql "SELECT 1" >/dev/null 2>&1 || die "the accounting database did not start; see $STATE/mysql.log"
    fi
    sql "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
         GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
}

start_dbd() {
    running slurmdbd || slurmdbd
    for _ in $(seq 1 30); do
        timeout 5 sacctmgr -n list cluster >/dev/null 2>&1 && break
        sleep 0.5
    done
    timeout 5 sacctmgr -n list cluster >/dev/null 2>&1 || die "slurmdbd did not answer; see $STATE/slurmdbd.log"
    if ! timeout 5 sacctmgr -n -P list cluster format=cluster | grep -qx charsuite-local; then
        timeout 10 sacctmgr -i add cluster charsuite-local >/dev/null || die "cannot register the cluster with slurmdbd"
    fi
}

up() {
    install
    start_munge
    write_conf
    start_database
    start_dbd
    running slurmctld || slurmctld -f "$CONF"
    running slurmd || slurmd -f "$CONF"
    for _ in $(seq 1 30); do
        if timeout 5 sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
            echo "slurm_local: up - export SLURM_CONF=$CONF"
            return
        fi
        timeout 5 scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
        sleep 1
    done
    die "the node did not come up; see $STATE/slurmctld.log and $STATE/slurmd.log"
}

database_running() { [ -s "$DB_PID" ] && kill -0 "$(cat "$DB_PID")" 2>/dev/null; }

# The pid `up` started a daemon with (its pid file under $STATE), while that process still is that daemon:
# `down` stops these and nothing else, so a site's own slurmctld or munged on a real node is never touched.
our_pid() {
    local pid
    pid="$(cat "$STATE/$1.pid" 2>/dev/null)" || return 1
    [ -n "$pid" ] && [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = "$1" ] && ps -p "$pid" -o stat= | grep -qv '^Z' &&
        echo "$pid"
}

down() {
    local daemon pid
    for daemon in slurmd slurmctld slurmdbd munged; do
        pid="$(our_pid "$daemon")" && kill "$pid" 2>/dev/null || true
    done
    database_running && kill "$(cat "$DB_PID")"  # ours, by its pid file: never a host's database
    for i in $(seq 1 40); do
        local left=""
        for daemon in slurmd slurmctld slurmdbd munged; do our_pid "$daemon" >/dev/null && left="$left $daemon"; done
        database_running && left="$left mariadbd"
        [ -z "$left" ] && { echo "slurm_local: down"; return; }
        if [ "$i" = 20 ]; then
            for daemon in slurmd slurmctld slurmdbd munged; do
                pid="$(our_pid "$daemon")" && kill -KILL "$pid" 2>/dev/null || true
            done
            database_running && kill -KILL "$(cat "$DB_PID")"
        fi
        sleep 0.5
    done
    die "a daemon of ours would not stop:$left"
}

status() {
    if database_running; then echo "accounting database: running"; else echo "accounting database: stopped"; fi
    for daemon in munged slurmdbd slurmctld slurmd; do
        if running "$daemon"; then echo "$daemon: running"; else echo "$daemon: stopped"; fi
    done
    if [ -f "$CONF" ] && running slurmctld; then timeout 5 sinfo 2>/dev/null || true; fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) die "usage: scripts/slurm_local.sh up|down|status" ;;
esac
