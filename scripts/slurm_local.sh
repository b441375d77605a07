#!/usr/bin/env bash
# A one-node Slurm cluster on this host, to try charsuite's Slurm path without a cluster:
#   scripts/slurm_local.sh up       install (apt: slurm-wlm, munge) if missing, start munged, slurmctld, slurmd
#   scripts/slurm_local.sh status   what runs, and the node as Slurm sees it
#   scripts/slurm_local.sh down     stop all three; nothing of it keeps running
# The node is this host: all its cores and 90% of its memory, CPU only. Its config is
# scripts/slurm/slurm.conf.in, filled in under $CHARSUITE_SLURM_DIR (default /tmp/charsuite-slurm);
# point SLURM_CONF there to use it (`up` prints the line). Needs root (apt, daemons). Idempotent.
set -euo pipefail

STATE="${CHARSUITE_SLURM_DIR:-/tmp/charsuite-slurm}"
CONF="$STATE/slurm.conf"
TEMPLATE="$(cd "$(dirname "$0")" && pwd)/slurm/slurm.conf.in"
export SLURM_CONF="$CONF"

die() { echo "slurm_local: $*" >&2; exit 2; }
running() { ps -C "$1" -o stat= 2>/dev/null | grep -qv '^Z'; }  # a zombie is not running

install() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return
    [ "$(id -u)" = 0 ] || die "installing slurm-wlm and munge needs root (or install them first)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
}

start_munge() {
    running munged && return
    [ -s /etc/munge/munge.key ] || /usr/sbin/mungekey --create >/dev/null 2>&1 || die "cannot create /etc/munge/munge.key"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
    su -s /bin/sh munge -c /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
    munge -n | unmunge >/dev/null || die "munge does not round-trip a credential"
}

write_conf() {
    mkdir -p "$STATE/spool" "$STATE/ctld"
    local host cpus mem
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
    sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEMORY_MB@|$mem|g" -e "s|@STATE@|$STATE|g" \
        "$TEMPLATE" > "$CONF"
}

up() {
    install
    start_munge
    write_conf
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

down() {
    for daemon in slurmd slurmctld munged; do
        pkill -x "$daemon" 2>/dev/null || true
    done
    for i in $(seq 1 20); do
        running slurmd || running slurmctld || running munged || { echo "slurm_local: down"; return; }
        [ "$i" = 10 ] && for daemon in slurmd slurmctld munged; do pkill -KILL -x "$daemon" 2>/dev/null || true; done
        sleep 0.5
    done
    die "a daemon would not stop: $(pgrep -a 'slurm|munge' | tr '\n' ' ')"
}

status() {
    for daemon in munged slurmctld slurmd; do
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
