#!/usr/bin/env bash
# A private sshd on 127.0.0.1 and a throwaway account, to test `ray up` with the on-prem
# cluster file (Ray's `local` provider) on one machine. Idempotent; needs root and apt.
#
#   cluster/local-sshd.sh up       install openssh-server + rsync, create the account and a
#                                  throwaway key, start sshd (ListenAddress 127.0.0.1)
#   cluster/local-sshd.sh down     stop that sshd, delete the account and the key
#   cluster/local-sshd.sh status   exit 0 when the account is reachable with the key
#
# Why a separate account: `ray up`/`ray down` run `ray stop` on the node, which stops every
# Ray process its user may signal. As this unprivileged account it cannot touch anyone
# else's Ray on the machine.
set -euo pipefail

ACCOUNT=${RAYTRAIN_SSH_USER:-raytrain-ssh}
DIR=/var/lib/raytrain-sshd
KEY=$DIR/id_ed25519

die() { echo "local-sshd: $*" >&2; exit 1; }
say() { echo "local-sshd: $*"; }

reachable() {
  [ -r "$KEY" ] || return 1
  timeout 20 ssh -i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$ACCOUNT@127.0.0.1" true 2>/dev/null
}

up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  if ! command -v sshd >/dev/null && [ ! -x /usr/sbin/sshd ] || ! command -v rsync >/dev/null; then
    command -v apt-get >/dev/null || die "apt-get not found: install openssh-server and rsync"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends openssh-server openssh-client rsync >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
             openssh-server openssh-client rsync >/dev/null; } || die "apt-get install failed"
  fi
  id "$ACCOUNT" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$ACCOUNT"
  # No password, but not locked: sshd (without PAM) refuses locked accounts even with a key.
  usermod -p "*" "$ACCOUNT"
  install -d -m 700 "$DIR"
  [ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N "" -C "raytrain throwaway" -f "$KEY"
  local home; home=$(getent passwd "$ACCOUNT" | cut -d: -f6)
  install -d -m 700 -o "$ACCOUNT" -g "$ACCOUNT" "$home/.ssh"
  install -m 600 -o "$ACCOUNT" -g "$ACCOUNT" "$KEY.pub" "$home/.ssh/authorized_keys"
  ssh-keygen -A >/dev/null
  install -d -m 755 /run/sshd
  cat >"$DIR/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port 22
PidFile $DIR/sshd.pid
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowUsers $ACCOUNT
UsePAM no
MaxStartups 50:30:100
MaxSessions 50
CONF
  if ! { [ -f "$DIR/sshd.pid" ] && kill -0 "$(cat "$DIR/sshd.pid")" 2>/dev/null; }; then
    /usr/sbin/sshd -f "$DIR/sshd_config"
  fi
  for _ in $(seq 50); do reachable && { say "ready: $ACCOUNT@127.0.0.1 with key $KEY"; return; }; sleep 0.2; done
  die "sshd does not accept the key"
}

down() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  if [ -f "$DIR/sshd.pid" ]; then kill "$(cat "$DIR/sshd.pid")" 2>/dev/null || true; fi
  if id "$ACCOUNT" >/dev/null 2>&1; then
    local uid pid; uid=$(id -u "$ACCOUNT")
    for pid in $(ps -o pid= -u "$uid" || true); do kill "$pid" 2>/dev/null || true; done
    sleep 1
    userdel -r "$ACCOUNT" 2>/dev/null || userdel "$ACCOUNT" || true
  fi
  rm -rf "$DIR"
  say "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) reachable && { say "ready"; exit 0; }; say "not running"; exit 1 ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
