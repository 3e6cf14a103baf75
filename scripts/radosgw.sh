#!/usr/bin/env bash
# Start/stop a throwaway single-node Ceph RADOS Gateway (strict S3) for tests.
#
#   scripts/radosgw.sh install          install Debian packages if radosgw is missing
#   scripts/radosgw.sh start DIR PORT   fresh cluster in DIR, S3 on 127.0.0.1:PORT;
#                                       last stdout line: endpoint=... access_key=... secret_key=...
#   scripts/radosgw.sh stop DIR         SIGTERM all daemons, wait, remove DIR (idempotent)
#
# Why radosgw: unlike permissive fakes it enforces SigV4 signatures, expiry,
# POST policies and CORS, so tests see what real S3 would reject.
# One mon + one memstore OSD + radosgw (beast), no mgr, no systemd, all on 127.0.0.1.
#
# Env: RGW_MEMSTORE_BYTES (OSD RAM store size, default 1 GiB; size it above the test data:
#        once full the OSD silently drops writes, PUTs hang and radosgw needs SIGKILL to stop),
#      RGW_START_TIMEOUT (seconds per start step, default 60),
#      RGW_STOP_TIMEOUT (seconds per daemon before SIGKILL, default 20).
set -euo pipefail

ACCESS_KEY="INTAKETESTACCESSKEY0"
SECRET_KEY="intake-test-secret-key-not-a-real-one-00"   # 40 chars, fixed test value
MEMSTORE_BYTES="${RGW_MEMSTORE_BYTES:-1073741824}"
STEP_TIMEOUT="${RGW_START_TIMEOUT:-60}"

die() { echo "radosgw.sh: error: $*" >&2; exit 1; }
log() { echo "radosgw.sh: $*" >&2; }

# Print the last lines of the given logs (default: every log in DIR) on failure.
log_tail() {
    local dir=$1 f n=12; shift
    local files=("$@")
    [ ${#files[@]} -gt 0 ] || { files=("$dir"/log/*); n=6; }
    for f in "${files[@]}"; do
        [ -s "$f" ] || continue
        echo "---- tail $f ----" >&2
        tail -n "$n" "$f" >&2
    done
}

# Failed start: show log tails, terminate whatever already runs, keep DIR for inspection.
fail() {
    local dir=$1 msg=$2; shift 2
    echo "radosgw.sh: error: $msg" >&2
    log_tail "$dir" "$@"
    kill_daemons "$dir" 10 || true
    echo "radosgw.sh: daemons stopped; logs kept in $dir (remove with: $0 stop $dir)" >&2
    exit 1
}

# wait_until SECONDS PIDFILE CMD...: poll CMD every 0.3 s until it succeeds; give up when
# time runs out, CMD exits 99, or the daemon behind PIDFILE ("-" for none) has died.
wait_until() {
    local limit=$1 pidf=$2; shift 2
    local end=$((SECONDS + limit))
    local rc
    while :; do
        rc=0; "$@" >/dev/null 2>>"$dir/log/wait.out" || rc=$?
        [ "$rc" = 0 ] && return 0
        [ "$rc" = 99 ] && return 1   # the check itself says: give up
        if [ "$pidf" != - ] && [ -e "$pidf" ] && ! pid_alive "$pidf"; then
            echo "radosgw.sh: $(basename "$pidf" .pid) exited during startup" >&2
            return 1
        fi
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.3
    done
}

cmd_install() {
    if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null \
        && command -v ceph-osd >/dev/null && command -v radosgw-admin >/dev/null; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "installing packages needs root"
    local pkgs="radosgw ceph-mon ceph-osd ceph-common"
    log "installing $pkgs from Debian (one time, about a minute)"
    # Another apt may hold the dpkg lock: wait for it (bounded) instead of failing.
    local apt=(apt-get -qq -y -o DPkg::Lock::Timeout=600 --no-install-recommends)
    export DEBIAN_FRONTEND=noninteractive
    if ! "${apt[@]}" install $pkgs >/tmp/radosgw-install.log 2>&1; then
        "${apt[@]}" update >>/tmp/radosgw-install.log 2>&1 || true
        "${apt[@]}" install $pkgs >>/tmp/radosgw-install.log 2>&1 \
            || { tail -n 20 /tmp/radosgw-install.log >&2; die "apt-get install $pkgs failed"; }
    fi
    command -v radosgw >/dev/null || die "radosgw still missing after install"
}

write_conf() {
    local dir=$1 port=$2
    cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $(cat "$dir/fsid")
mon host = [v2:127.0.0.1:$MON_PORT]
mon initial members = a
public network = 127.0.0.1/32
ms bind ipv6 = false
ms bind ipv4 = true
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
osd crush chooseleaf type = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
rgw crypt require ssl = false

[client.admin]
keyring = $dir/keyring.admin

[mon]
mon data = $dir/mon
# Commit map changes every 0.1 s instead of 1 s: each pool creation waits for one.
paxos propose interval = 0.1
keyring = $dir/keyring.mon

[osd]
osd data = $dir/osd
keyring = $dir/osd/keyring
osd max object name len = 256
osd max object namespace len = 64
# On SIGTERM: tell the mon, then exit at once (memstore is not written out).
osd fast shutdown = true

[client.rgw]
keyring = $dir/keyring.rgw
rgw frontends = beast endpoint=127.0.0.1:$port
rgw dns name = 127.0.0.1
rgw zonegroup = default
rgw zone = default
rgw enable usage log = false
rgw thread pool size = 64
CONF
}

# Find a free TCP port on 127.0.0.1 for the monitor.
free_port() {
    python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# True if the pid in file $1 is a live (non-zombie) process.
pid_alive() {
    local pid state
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    [ "${state:0:1}" != Z ]
}

cmd_start() {
    local dir=${1:-} port=${2:-}
    [ -n "$dir" ] && [ -n "$port" ] || die "usage: $0 start DIR PORT"
    [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number"
    command -v radosgw >/dev/null || die "radosgw not installed; run: $0 install"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "127.0.0.1:$port is already in use"
    fi
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
        die "$dir is not empty (stop the previous cluster first: $0 stop $dir)"
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    mkdir -p "$dir"/{run,log,mon,osd}
    local c="$dir/ceph.conf"
    local CEPH=(timeout "$STEP_TIMEOUT" ceph -c "$c" --connect-timeout "$STEP_TIMEOUT")
    MON_PORT=$(free_port)
    cat /proc/sys/kernel/random/uuid >"$dir/fsid"
    write_conf "$dir" "$port"

    # --- keys and monitor ---------------------------------------------------
    {
        ceph-authtool "$dir/keyring.mon" --create-keyring --gen-key -n mon. --cap mon 'allow *' &&
        ceph-authtool "$dir/keyring.admin" --create-keyring --gen-key -n client.admin \
            --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' &&
        ceph-authtool "$dir/keyring.rgw" --create-keyring --gen-key -n client.rgw \
            --cap mon 'allow rw' --cap osd 'allow rwx' &&
        ceph-authtool "$dir/keyring.mon" --import-keyring "$dir/keyring.admin" &&
        ceph-authtool "$dir/keyring.mon" --import-keyring "$dir/keyring.rgw"
    } >"$dir/log/keys.out" 2>&1 || fail "$dir" "ceph-authtool failed" "$dir/log/keys.out"
    monmaptool --create --fsid "$(cat "$dir/fsid")" --addv a "[v2:127.0.0.1:$MON_PORT]" \
        "$dir/monmap" >"$dir/log/monmap.out" 2>&1 || fail "$dir" "monmaptool failed" "$dir/log/monmap.out"
    ceph-mon -c "$c" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring.mon" \
        >"$dir/log/mkfs-mon.out" 2>&1 || fail "$dir" "ceph-mon --mkfs failed" "$dir/log/mkfs-mon.out"
    ceph-mon -c "$c" -i a >"$dir/log/mon.out" 2>&1 || fail "$dir" "ceph-mon failed to start" "$dir/log/mon.out" "$dir/log/mon.a.log"
    wait_until "$STEP_TIMEOUT" "$dir/run/mon.a.pid" "${CEPH[@]}" mon stat \
        || fail "$dir" "monitor did not answer within ${STEP_TIMEOUT}s" "$dir/log/mon.a.log" "$dir/log/mon.out"

    # --- OSD on memstore ----------------------------------------------------
    local uuid id
    uuid=$(cat /proc/sys/kernel/random/uuid)
    id=$("${CEPH[@]}" osd new "$uuid" 2>>"$dir/log/osd-new.out") || fail "$dir" "ceph osd new failed" "$dir/log/osd-new.out"
    [ "$id" = 0 ] || fail "$dir" "unexpected osd id '$id'"
    ceph-osd -c "$c" -i 0 --mkfs --mkkey --osd-uuid "$uuid" --no-mon-config \
        >"$dir/log/mkfs-osd.out" 2>&1 || fail "$dir" "ceph-osd --mkfs failed" "$dir/log/mkfs-osd.out"
    "${CEPH[@]}" auth add osd.0 osd 'allow *' mon 'allow profile osd' -i "$dir/osd/keyring" \
        >>"$dir/log/osd-new.out" 2>&1 || fail "$dir" "ceph auth add osd.0 failed" "$dir/log/osd-new.out"
    ceph-osd -c "$c" -i 0 >"$dir/log/osd.out" 2>&1 || fail "$dir" "ceph-osd failed to start" "$dir/log/osd.out" "$dir/log/osd.0.log"
    wait_until "$STEP_TIMEOUT" "$dir/run/osd.0.pid" osd_up \
        || fail "$dir" "osd.0 not up within ${STEP_TIMEOUT}s" "$dir/log/osd.0.log" "$dir/log/osd.out"

    # --- S3 user + gateway --------------------------------------------------
    # radosgw-admin creates the realm/zonegroup/zone pools on first use.
    timeout "$STEP_TIMEOUT" radosgw-admin -c "$c" -n client.admin user create --uid=intake-test \
        --display-name="Intake tests" --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" \
        >"$dir/log/user-create.out" 2>&1 || fail "$dir" "radosgw-admin user create failed" "$dir/log/user-create.out" "$dir/log/client.admin.log"
    radosgw -c "$c" -n client.rgw >"$dir/log/rgw.out" 2>&1 || fail "$dir" "radosgw failed to start" "$dir/log/rgw.out" "$dir/log/client.rgw.log"
    wait_until "$STEP_TIMEOUT" "$dir/run/client.rgw.pid" s3_answers "$port" \
        || fail "$dir" "radosgw is not serving S3 on 127.0.0.1:$port (see log below)" \
            "$dir/log/client.rgw.log" "$dir/log/rgw.out"
    echo "endpoint=http://127.0.0.1:$port access_key=$ACCESS_KEY secret_key=$SECRET_KEY"
}

osd_up() { "${CEPH[@]}" osd dump 2>/dev/null | grep -q '^osd\.0 up'; }

# Anonymous ListBuckets returns an S3 XML document once the gateway serves requests.
# radosgw stays alive after its frontend fails to bind, so watch its log for that.
s3_answers() {
    if grep -q 'failed initializing frontend' "$dir/log/client.rgw.log" 2>/dev/null; then
        return 99
    fi
    curl -s -m 3 "http://127.0.0.1:$1/" | grep -q 'ListAllMyBucketsResult'
}

cmd_stop() {
    local dir=${1:-}
    [ -n "$dir" ] || die "usage: $0 stop DIR"
    [ -e "$dir" ] || return 0
    [ -f "$dir/ceph.conf" ] || [ -d "$dir/run" ] \
        || die "$dir does not look like a radosgw.sh cluster dir; not removing"
    kill_daemons "$dir" "${RGW_STOP_TIMEOUT:-20}" || die "daemons in $dir will not exit; not removing it"
    rm -rf "$dir"
}

# SIGTERM each daemon and wait for it (SIGKILL after TIMEOUT seconds).
kill_daemons() {
    local dir=$1 limit=$2 name pidf pid
    # Gateway first (it needs the OSD to shut down cleanly), then the OSD (it tells the
    # mon it is going down, so the mon must still run; wait for it before removing DIR:
    # memstore can write its store out on a slow shutdown), then the monitor.
    for name in client.rgw osd.0 mon.a; do
        pidf="$dir/run/$name.pid"
        pid_alive "$pidf" || continue
        pid=$(cat "$pidf")
        # Only signal the daemon we started (pid files may be stale after a reboot).
        grep -qE 'ceph-mon|ceph-osd|radosgw' "/proc/$pid/comm" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_pid_exit "$pid" "$limit"; then
            log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_pid_exit "$pid" 10 || return 1
        fi
    done
}

wait_pid_exit() {
    local pid=$1 end=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        # A zombie counts as gone (we are not its parent; init reaps it).
        [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ] && return 0
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.2
    done
}

case "${1:-}" in
    install) cmd_install ;;
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    *) echo "usage: $0 install | start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
