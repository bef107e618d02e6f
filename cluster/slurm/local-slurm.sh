#!/usr/bin/env bash
# A single-node SLURM 22.05 on this machine, for raytrain's slurm tests and for trying
# `raytrain slurm` without a cluster. Idempotent; needs root and Debian/Ubuntu apt.
#
#   cluster/slurm/local-slurm.sh up       install (if needed), configure, start, wait until idle
#   cluster/slurm/local-slurm.sh down     stop the daemons this script started (keeps packages)
#   cluster/slurm/local-slurm.sh status   exit 0 when the node answers and is usable
#
# Why it looks like this (measured on a container without systemd):
# - no systemd: the daemons are started by hand (munged as user munge, slurmctld -i, slurmd);
# - client commands hang on name resolution unless addresses are pinned to 127.0.0.1, so the
#   controller and the node are declared with explicit addresses and every probe uses `timeout`;
# - proctrack/linuxproc + task/none need no cgroups; no accounting daemon (jobcomp/filetxt);
# - CPUs and memory come from `slurmd -C`, so the node matches the machine it runs on.
set -euo pipefail

CONF_DIR=/etc/slurm
STATE=/var/lib/raytrain-slurm
LOGS=/var/log/raytrain-slurm
MARK="# written by raytrain cluster/slurm/local-slurm.sh"
PARTITION=${RAYTRAIN_SLURM_PARTITION:-debug}

die() { echo "local-slurm: $*" >&2; exit 1; }
say() { echo "local-slurm: $*"; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts daemons)"
}

running() { pgrep -x "$1" >/dev/null 2>&1; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
     && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || die "apt-get not found: install slurmctld slurmd slurm-client munge yourself"
  say "installing slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
           slurmctld slurmd slurm-client munge >/dev/null; } \
    || die "apt-get install failed"
}

write_config() {
  local host node_line
  host=$(hostname -s)
  install -d -m 755 "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$LOGS"
  if [ -f "$CONF_DIR/slurm.conf" ] && ! grep -qF "$MARK" "$CONF_DIR/slurm.conf"; then
    die "$CONF_DIR/slurm.conf exists and was not written by this script; not touching it"
  fi
  # `slurmd -C` prints "NodeName=<host> CPUs=.. Boards=.. ... RealMemory=.." and an UpTime line.
  node_line=$(slurmd -C | head -n 1)
  [ -n "$node_line" ] || die "slurmd -C printed nothing"
  cat >"$CONF_DIR/slurm.conf.new" <<CONF
$MARK
ClusterName=raytrain-local
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
JobRequeue=1
MinJobAge=600
KillWait=30
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
${node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  if ! cmp -s "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf" 2>/dev/null; then
    mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"
    CONFIG_CHANGED=1
  else
    rm -f "$CONF_DIR/slurm.conf.new"
  fi
}

start_munge() {
  [ -s /etc/munge/munge.key ] || {
    install -d -o munge -g munge -m 700 /etc/munge
    if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key
    else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  }
  install -d -o munge -g munge -m 755 /run/munge
  running munged || su -s /bin/sh munge -c "/usr/sbin/munged"
  for _ in $(seq 50); do timeout 5 munge -n >/dev/null 2>&1 && return; sleep 0.2; done
  die "munged did not start"
}

start_slurm() {
  if [ "${CONFIG_CHANGED:-0}" = 1 ]; then stop_slurm; fi
  running slurmctld || slurmctld -i
  running slurmd || slurmd
}

stop_slurm() {
  local name pid
  for name in slurmd slurmctld; do
    for pid in $(pgrep -x "$name" || true); do kill "$pid" 2>/dev/null || true; done
  done
  for _ in $(seq 100); do running slurmd || running slurmctld || return 0; sleep 0.1; done
}

node_ready() {
  local state
  state=$(timeout 5 sinfo -h -N -o '%t' 2>/dev/null | head -n 1) || return 1
  case "$state" in idle|mix|alloc|comp) return 0 ;; *) return 1 ;; esac
}

wait_ready() {
  for _ in $(seq 60); do
    if node_ready; then say "ready: $(timeout 5 sinfo -h -N -o '%N %P %t %c CPUs %m MB')"; return 0; fi
    # A node left DOWN/DRAIN by an earlier run comes back with RESUME.
    timeout 5 scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true
    sleep 0.5
  done
  die "node not idle after 30 s; see $LOGS/slurmctld.log and $LOGS/slurmd.log"
}

case "${1:-}" in
  up)
    need_root; install_packages; write_config; start_munge; start_slurm; wait_ready ;;
  down)
    need_root; stop_slurm
    for pid in $(pgrep -x munged || true); do kill "$pid" 2>/dev/null || true; done
    say "stopped" ;;
  status)
    node_ready && { say "ready"; exit 0; }; say "not running"; exit 1 ;;
  *)
    echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
