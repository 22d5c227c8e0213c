#!/usr/bin/env bash
# Local infrastructure for Timebridge, without Docker:
#   - a single-node Apache Kafka broker (KRaft, combined broker+controller) run from its
#     Maven Central jars on the installed JDK;
#   - a private PostgreSQL cluster (Debian's `postgresql` package binaries) in the state dir.
#
# Usage: bash deploy/local/infra.sh {install|up|down|status|logs [kafka|postgres]|reset}
# See deploy/local/README.md for the environment variables and what each command does.
set -euo pipefail

# --------------------------------------------------------------------------- settings

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${SCRIPT_DIR}/../.." && pwd)"

# Absolute path for a possibly relative one (relative to the current directory).
abspath() { if [[ "$1" == /* ]]; then echo "$1"; else echo "${PWD}/$1"; fi; }

STATE_DIR="$(abspath "${TIMEBRIDGE_STATE_DIR:-${REPO_DIR}/.local}")"
CACHE_DIR="$(abspath "${TIMEBRIDGE_CACHE_DIR:-${HOME}/.cache/timebridge}")"

KAFKA_HOST=127.0.0.1
KAFKA_PORT="${TIMEBRIDGE_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${TIMEBRIDGE_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HEAP_OPTS="${TIMEBRIDGE_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_READY_TIMEOUT="${TIMEBRIDGE_KAFKA_READY_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${TIMEBRIDGE_KAFKA_STOP_TIMEOUT:-60}"

PG_HOST=127.0.0.1
PG_PORT="${TIMEBRIDGE_PG_PORT:-15432}"
PG_USER=timebridge
PG_PASSWORD=timebridge
PG_DATABASES=(tb_ingest tb_mapping tb_conflict_resolver tb_invoice_export tb_reporting tb_contracts tb_credentials)
PG_SUPERUSER=postgres   # bootstrap superuser of the private cluster (unix-socket access only)

KAFKA_POM="${SCRIPT_DIR}/kafka/pom.xml"
KAFKA_LOG4J="${SCRIPT_DIR}/kafka/log4j2.properties"
KAFKA_READY_PY="${SCRIPT_DIR}/kafka_ready.py"

KAFKA_STATE="${STATE_DIR}/kafka"
KAFKA_DATA="${KAFKA_STATE}/data"
KAFKA_PROPS="${KAFKA_STATE}/server.properties"
KAFKA_CLUSTER_ID_FILE="${KAFKA_STATE}/cluster.id"
KAFKA_PID_FILE="${KAFKA_STATE}/kafka.pid"
KAFKA_LOG="${KAFKA_STATE}/kafka.log"

PG_STATE="${STATE_DIR}/postgres"
PG_DATA="${PG_STATE}/data"
PG_SOCKET_DIR="${PG_STATE}/run"
PG_LOG="${PG_STATE}/postgres.log"

# --------------------------------------------------------------------------- helpers

log() { printf '[infra] %s\n' "$*"; }
warn() { printf '[infra] WARNING: %s\n' "$*" >&2; }
die() {
    printf '[infra] ERROR: %s\n' "$*" >&2
    exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Run a command with root privileges (directly when root, through sudo when available).
as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run '$*' (not root and no sudo); install it by hand and retry"
    fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these packages by hand: $*"
    if [[ "${APT_UPDATED}" -eq 0 ]]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

now_ms() { date +%s%3N; }

# Seconds (one decimal) elapsed since a now_ms timestamp.
elapsed_s() { awk -v ms="$(($(now_ms) - $1))" 'BEGIN { printf "%.1f", ms / 1000 }'; }

# Is something accepting TCP connections on 127.0.0.1:$1?
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Resident memory of a pid in MiB, from /proc (procps may be missing on minimal systems).
rss_mib() {
    local kb
    kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)"
    if [[ -n "${kb}" ]]; then echo "$((kb / 1024)) MiB"; else echo "?"; fi
}

cmdline_of() {
    tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true
}

# Is pid $1 a live process (exists and is not a zombie waiting to be reaped)?
proc_alive() {
    [[ "$1" =~ ^[0-9]+$ ]] || return 1
    local state
    state="$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)"
    [[ -n "${state}" && "${state}" != "Z" && "${state}" != "X" ]]
}

# The PostgreSQL server refuses to run as root: when root, run its tools as `postgres`.
PG_OS_USER=""
resolve_pg_os_user() {
    if is_root; then
        id -u postgres >/dev/null 2>&1 || die "system user 'postgres' is missing (is the postgresql package installed?)"
        PG_OS_USER=postgres
    else
        PG_OS_USER="$(id -un)"
    fi
}

as_pg() {
    if is_root; then
        runuser -u "${PG_OS_USER}" -- "$@"
    else
        "$@"
    fi
}

PG_BIN=""
find_pg_bin() {
    local initdb
    initdb="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "${initdb}" ]]; then
        PG_BIN="$(dirname "${initdb}")"
        return 0
    fi
    return 1
}

pg_version() { "${PG_BIN}/postgres" --version | awk '{print $3}'; }

kafka_version() {
    sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "${KAFKA_POM}" | head -n 1
}

KAFKA_VERSION="$(kafka_version)"
[[ -n "${KAFKA_VERSION}" ]] || die "could not read <kafka.version> from ${KAFKA_POM}"
KAFKA_LIBS="${CACHE_DIR}/kafka-${KAFKA_VERSION}-libs"
KAFKA_LIBS_MARKER="${KAFKA_LIBS}/.complete"

pom_digest() { sha256sum "${KAFKA_POM}" | cut -d' ' -f1; }

# --------------------------------------------------------------------------- install

install_packages() {
    local pkgs=()
    command -v java >/dev/null 2>&1 || pkgs+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
    command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
    find_pg_bin || pkgs+=(postgresql)
    if [[ "${#pkgs[@]}" -gt 0 ]]; then
        apt_install "${pkgs[@]}"
    fi
    command -v java >/dev/null 2>&1 || die "java still missing after install"
    command -v mvn >/dev/null 2>&1 || die "mvn still missing after install"
    find_pg_bin || die "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) still missing after install"
}

# Fetch the broker jars into the cache (outside the clone). Maven downloads into a
# ".partial" sibling that replaces the cache dir only once complete; the marker inside holds
# the pom's digest, so a half download is retried, an edited pom triggers a fresh fetch, and
# a running broker never sees its jar dir half-filled.
install_kafka_libs() {
    local want
    want="$(pom_digest)"
    if [[ -f "${KAFKA_LIBS_MARKER}" && "$(cat "${KAFKA_LIBS_MARKER}")" == "${want}" ]]; then
        return 0
    fi
    local partial="${KAFKA_LIBS}.partial" mvn_log="${CACHE_DIR}/kafka-${KAFKA_VERSION}-mvn.log" start
    log "fetching Kafka ${KAFKA_VERSION} jars with Maven into ${KAFKA_LIBS}"
    rm -rf "${partial}"
    mkdir -p "${partial}"
    start="$(now_ms)"
    # Maven's output goes to a log next to the cache (shown only on failure).
    if ! mvn -B -q -Dstyle.color=never -f "${KAFKA_POM}" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="${partial}" >"${mvn_log}" 2>&1; then
        tail -n 40 "${mvn_log}" >&2
        die "Maven could not fetch the Kafka jars (full output: ${mvn_log}); re-run to retry"
    fi
    [[ -f "${partial}/kafka_2.13-${KAFKA_VERSION}.jar" ]] || die "kafka_2.13-${KAFKA_VERSION}.jar missing after fetch"
    echo "${want}" >"${partial}/.complete"
    rm -rf "${KAFKA_LIBS}"
    mv "${partial}" "${KAFKA_LIBS}"
    log "fetched $(find "${KAFKA_LIBS}" -name '*.jar' | wc -l) jars ($(du -sh "${KAFKA_LIBS}" | cut -f1)) in $(elapsed_s "${start}") s"
}

cmd_install() {
    install_packages
    install_kafka_libs
    log "installed: $(java -version 2>&1 | head -n 1); PostgreSQL $(pg_version) in ${PG_BIN}; Kafka ${KAFKA_VERSION} jars in ${KAFKA_LIBS}"
}

# --------------------------------------------------------------------------- kafka

# Prints the broker pid if the pid file names a live process that is our broker.
kafka_pid() {
    [[ -f "${KAFKA_PID_FILE}" ]] || return 1
    local pid
    pid="$(tr -dc '0-9' <"${KAFKA_PID_FILE}")"
    proc_alive "${pid}" || return 1
    local cmd
    cmd="$(cmdline_of "${pid}")"
    [[ "${cmd}" == *"kafka.Kafka ${KAFKA_PROPS}"* ]] || return 1
    echo "${pid}"
}

java_cp() { echo "${KAFKA_LIBS}/*"; }

write_kafka_config() {
    cat >"${KAFKA_PROPS}" <<EOF
# Generated by deploy/local/infra.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT},CONTROLLER://${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${KAFKA_DATA}

# Single node: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Timebridge creates its topics explicitly.
auto.create.topics.enable=false
num.partitions=3
log.retention.hours=168
group.initial.rebalance.delay.ms=0

# On a restart the new controller keeps the previous broker incarnation's session alive
# for broker.session.timeout.ms (default 9 s) and rejects the new registration with
# DUPLICATE_BROKER_REGISTRATION until then: restarts took ~12.6 s. 4 s still tolerates a
# 3 s stall with heartbeats every second.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
EOF
}

# Prints the cluster id: the one the data dir was formatted with if any, else the stored
# one, else a new one from `StorageTool random-uuid` (generated once, kept in the state dir).
kafka_cluster_id() {
    local id=""
    if [[ -f "${KAFKA_DATA}/meta.properties" ]]; then
        id="$(sed -n 's/^cluster\.id=//p' "${KAFKA_DATA}/meta.properties" | tr -d '[:space:]')"
    elif [[ -s "${KAFKA_CLUSTER_ID_FILE}" ]]; then
        id="$(tr -d '[:space:]' <"${KAFKA_CLUSTER_ID_FILE}")"
    else
        id="$(java -Xmx128m -Dlog4j2.configurationFile="${KAFKA_LOG4J}" -cp "$(java_cp)" kafka.tools.StorageTool random-uuid | tail -n 1 | tr -d '[:space:]')"
        log "generated Kafka cluster id ${id}" >&2
    fi
    [[ "${id}" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "invalid Kafka cluster id '${id}' (from ${KAFKA_CLUSTER_ID_FILE} or ${KAFKA_DATA}/meta.properties); 'infra.sh reset' starts over"
    [[ "$(cat "${KAFKA_CLUSTER_ID_FILE}" 2>/dev/null)" == "${id}" ]] || echo "${id}" >"${KAFKA_CLUSTER_ID_FILE}"
    echo "${id}"
}

format_kafka_storage() {
    local cid="$1"
    if [[ -f "${KAFKA_DATA}/meta.properties" ]]; then
        return 0
    fi
    log "formatting Kafka storage in ${KAFKA_DATA} (cluster id ${cid})"
    java -Xmx256m -Dlog4j2.configurationFile="${KAFKA_LOG4J}" -cp "$(java_cp)" \
        kafka.tools.StorageTool format --cluster-id="${cid}" -c "${KAFKA_PROPS}" --ignore-formatted
}

kafka_fail() {
    warn "$1"
    if [[ -f "${KAFKA_LOG}" ]]; then
        printf '[infra] ---- last 50 lines of %s ----\n' "${KAFKA_LOG}" >&2
        tail -n 50 "${KAFKA_LOG}" >&2
        printf '[infra] ----\n' >&2
    fi
    exit 1
}

kafka_up() {
    local pid cid
    if pid="$(kafka_pid)"; then
        log "Kafka already running (pid ${pid}); reusing it"
        cid="$(kafka_cluster_id)"
        python3 "${KAFKA_READY_PY}" --host "${KAFKA_HOST}" --port "${KAFKA_PORT}" --cluster-id="${cid}" \
            --pid "${pid}" --timeout "${KAFKA_READY_TIMEOUT}" --quiet ||
            kafka_fail "the running Kafka (pid ${pid}) does not answer on ${KAFKA_HOST}:${KAFKA_PORT}"
        return 0
    fi
    rm -f "${KAFKA_PID_FILE}"
    local port
    for port in "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}"; do
        if port_open "${port}"; then
            die "port ${port} is already in use by another process; free it or set TIMEBRIDGE_KAFKA_PORT / TIMEBRIDGE_KAFKA_CONTROLLER_PORT"
        fi
    done

    mkdir -p "${KAFKA_DATA}"
    write_kafka_config
    cid="$(kafka_cluster_id)"
    format_kafka_storage "${cid}"

    log "starting Kafka ${KAFKA_VERSION} (heap ${KAFKA_HEAP_OPTS}), log: ${KAFKA_LOG}"
    printf '\n===== %s infra.sh: starting Kafka %s =====\n' "$(date -Is)" "${KAFKA_VERSION}" >>"${KAFKA_LOG}"
    local start heap
    read -r -a heap <<<"${KAFKA_HEAP_OPTS}"
    start="$(now_ms)"
    # A new session (setsid) detaches the broker from this shell and its terminal; the
    # inner shell writes its own pid and then becomes java (exec keeps the pid).
    # shellcheck disable=SC2016  # $$ and "$@" are expanded by the inner shell
    setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "${KAFKA_PID_FILE}" \
        java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="${KAFKA_LOG4J}" \
        -cp "$(java_cp)" kafka.Kafka "${KAFKA_PROPS}" \
        </dev/null >>"${KAFKA_LOG}" 2>&1 &

    local waited=0 launched
    until pid="$(kafka_pid)"; do
        launched="$(tr -dc '0-9' 2>/dev/null <"${KAFKA_PID_FILE}" || true)"
        if [[ -n "${launched}" ]] && ! proc_alive "${launched}"; then
            rm -f "${KAFKA_PID_FILE}"
            kafka_fail "Kafka (pid ${launched}) exited right after launch"
        fi
        if ((waited >= 100)); then
            kafka_fail "Kafka did not start (no live process behind ${KAFKA_PID_FILE} after 10 s)"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    log "Kafka pid ${pid}; waiting up to ${KAFKA_READY_TIMEOUT} s for it to answer ApiVersions + Metadata"
    local rc=0
    python3 "${KAFKA_READY_PY}" --host "${KAFKA_HOST}" --port "${KAFKA_PORT}" --cluster-id="${cid}" \
        --pid "${pid}" --timeout "${KAFKA_READY_TIMEOUT}" || rc=$?
    if [[ "${rc}" -ne 0 ]]; then
        if [[ "${rc}" -eq 2 ]]; then
            rm -f "${KAFKA_PID_FILE}"
            kafka_fail "Kafka exited during startup"
        fi
        kafka_fail "Kafka not ready after ${KAFKA_READY_TIMEOUT} s (still running as pid ${pid}; 'infra.sh down' stops it)"
    fi
    log "Kafka ready $(elapsed_s "${start}") s after launch (pid ${pid}, RSS $(rss_mib "${pid}"))"
}

kafka_down() {
    local pid
    if ! pid="$(kafka_pid)"; then
        if [[ -f "${KAFKA_PID_FILE}" ]]; then
            log "Kafka not running (removing stale pid file)"
            rm -f "${KAFKA_PID_FILE}"
        else
            log "Kafka not running"
        fi
        return 0
    fi
    log "stopping Kafka (pid ${pid})"
    kill -TERM "${pid}" 2>/dev/null || true
    local waited=0
    while proc_alive "${pid}" && ((waited < KAFKA_STOP_TIMEOUT * 10)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if proc_alive "${pid}"; then
        warn "Kafka did not stop within ${KAFKA_STOP_TIMEOUT} s; sending SIGKILL"
        kill -KILL "${pid}" 2>/dev/null || true
        while proc_alive "${pid}"; do sleep 0.1; done
    fi
    rm -f "${KAFKA_PID_FILE}"
    log "Kafka stopped after $((waited / 10)).$((waited % 10)) s"
}

kafka_status() {
    local pid
    if pid="$(kafka_pid)"; then
        local probe
        if probe="$(python3 "${KAFKA_READY_PY}" --host "${KAFKA_HOST}" --port "${KAFKA_PORT}" --timeout 0 2>&1)"; then
            echo "kafka:    running  pid ${pid}  bootstrap ${KAFKA_HOST}:${KAFKA_PORT}  controller ${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}  RSS $(rss_mib "${pid}")"
            return 0
        fi
        echo "kafka:    running  pid ${pid}  but NOT answering on ${KAFKA_HOST}:${KAFKA_PORT} (${probe##*last error: })"
        return 1
    fi
    echo "kafka:    stopped  (${KAFKA_HOST}:${KAFKA_PORT})"
    return 1
}

# --------------------------------------------------------------------------- postgres

pg_ctl_() { as_pg "${PG_BIN}/pg_ctl" "$@"; }

pg_pid() { head -n 1 "${PG_DATA}/postmaster.pid" 2>/dev/null || echo "?"; }

# Running = postmaster.pid names a live postmaster of *this* data dir (a dead, zombie or
# reused pid in a stale postmaster.pid does not count).
pg_running() {
    local pid
    pid="$(pg_pid)"
    proc_alive "${pid}" || return 1
    [[ "$(cmdline_of "${pid}")" == *"-D ${PG_DATA}"* ]]
}

# Superuser psql over the private unix socket.
pg_psql() {
    as_pg "${PG_BIN}/psql" -X -q -v ON_ERROR_STOP=1 -h "${PG_SOCKET_DIR}" -p "${PG_PORT}" -U "${PG_SUPERUSER}" -d postgres
}

# When root, the `postgres` user must be able to traverse every parent of the state dir.
ensure_traversable() {
    is_root || return 0
    local dir="${PG_STATE}"
    while [[ "${dir}" != "/" ]]; do
        dir="$(dirname "${dir}")"
        if ! runuser -u "${PG_OS_USER}" -- test -x "${dir}"; then
            log "granting search (x) permission on ${dir} so user ${PG_OS_USER} can reach ${PG_STATE}"
            chmod o+x "${dir}"
        fi
    done
}

# Remove a lock file left by a postmaster that no longer runs (killed, crashed, machine
# restored), together with any extra files given. The postmaster itself treats a lock
# whose pid still exists as live, which includes an exited but not yet reaped process
# and an unrelated process that reused the pid.
pg_remove_stale_lock() {
    local lock="$1" pid
    shift
    [[ -f "${lock}" ]] || return 0
    pid="$(head -n 1 "${lock}" 2>/dev/null | tr -dc '0-9')"
    if proc_alive "${pid}" && [[ "$(cmdline_of "${pid}")" == *postgres* ]]; then
        return 0 # a postgres process really holds it: let the postmaster report the conflict
    fi
    log "removing stale ${lock} (pid ${pid:-?} is not a running postmaster)"
    rm -f "${lock}" "$@"
}

pg_prepare_dirs() {
    mkdir -p "${PG_STATE}"
    ensure_traversable
    mkdir -p "${PG_SOCKET_DIR}"
    if is_root; then
        chown "${PG_OS_USER}:" "${PG_STATE}" "${PG_SOCKET_DIR}"
        [[ -d "${PG_DATA}" ]] && chown -R "${PG_OS_USER}:" "${PG_DATA}"
        touch "${PG_LOG}" && chown "${PG_OS_USER}:" "${PG_LOG}"
    fi
    chmod 700 "${PG_SOCKET_DIR}"
}

pg_initdb() {
    [[ -f "${PG_DATA}/PG_VERSION" ]] && return 0
    log "initialising PostgreSQL cluster in ${PG_DATA}"
    rm -rf "${PG_DATA}"
    mkdir -p "${PG_DATA}"
    is_root && chown "${PG_OS_USER}:" "${PG_DATA}"
    chmod 700 "${PG_DATA}"
    # Unix socket: trust (the socket dir is 0700, private to the server's user);
    # TCP: scram-sha-256 passwords.
    as_pg "${PG_BIN}/initdb" -D "${PG_DATA}" -U "${PG_SUPERUSER}" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"${PG_STATE}/initdb.log" 2>&1 ||
        {
            cat "${PG_STATE}/initdb.log" >&2
            die "initdb failed"
        }
    echo "include_if_exists = 'timebridge.conf'" | as_pg tee -a "${PG_DATA}/postgresql.conf" >/dev/null
}

pg_write_config() {
    # Rewritten on every start so port changes take effect.
    as_pg tee "${PG_DATA}/timebridge.conf" >/dev/null <<EOF
# Generated by deploy/local/infra.sh on every start; edit the script, not this file.
listen_addresses = '${PG_HOST}'
port = ${PG_PORT}
unix_socket_directories = '${PG_SOCKET_DIR}'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
# Every service keeps a pool and the integration suite starts many at once: 100 ran out under load.
max_connections = 300
EOF
}

# Idempotent: creates what is missing and re-asserts password, privileges and owners.
# (psql runs each statement on its own, as CREATE DATABASE needs; \gexec runs the
# statement that the query before it produced, if any.)
pg_bootstrap_sql() {
    local db
    {
        cat <<EOF
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '${PG_USER}', '${PG_PASSWORD}')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${PG_USER}') \gexec
ALTER ROLE ${PG_USER} WITH LOGIN CREATEDB PASSWORD '${PG_PASSWORD}';
EOF
        for db in "${PG_DATABASES[@]}"; do
            cat <<EOF
SELECT format('CREATE DATABASE %I OWNER %I', '${db}', '${PG_USER}')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '${db}') \gexec
ALTER DATABASE ${db} OWNER TO ${PG_USER};
EOF
        done
    } | pg_psql
}

pg_up() {
    resolve_pg_os_user
    find_pg_bin || die "PostgreSQL binaries missing; run 'infra.sh install'"
    pg_prepare_dirs
    if pg_running; then
        log "PostgreSQL already running (pid $(pg_pid)); reusing it"
    else
        if port_open "${PG_PORT}"; then
            die "port ${PG_PORT} is already in use by another process; free it or set TIMEBRIDGE_PG_PORT"
        fi
        pg_remove_stale_lock "${PG_DATA}/postmaster.pid"
        pg_remove_stale_lock "${PG_SOCKET_DIR}/.s.PGSQL.${PG_PORT}.lock" "${PG_SOCKET_DIR}/.s.PGSQL.${PG_PORT}"
        pg_initdb
        pg_write_config
        log "starting PostgreSQL ($(pg_version)), log: ${PG_LOG}"
        local start
        start="$(now_ms)"
        # -w waits until the server accepts connections (pg_ctl removes a stale postmaster.pid itself).
        if ! pg_ctl_ start -D "${PG_DATA}" -l "${PG_LOG}" -w -t 60 -s; then
            warn "PostgreSQL failed to start; last 50 lines of ${PG_LOG}:"
            tail -n 50 "${PG_LOG}" >&2
            exit 1
        fi
        log "PostgreSQL started in $(elapsed_s "${start}") s (pid $(pg_pid))"
    fi
    "${PG_BIN}/pg_isready" -q -h "${PG_HOST}" -p "${PG_PORT}" -t 30 ||
        die "pg_isready: PostgreSQL does not accept TCP connections on ${PG_HOST}:${PG_PORT}"
    pg_bootstrap_sql
    log "PostgreSQL ready: role ${PG_USER}, databases ${PG_DATABASES[*]}"
}

pg_down() {
    if ! pg_running; then
        log "PostgreSQL not running"
        return 0
    fi
    resolve_pg_os_user
    find_pg_bin || die "PostgreSQL binaries missing, cannot run pg_ctl stop"
    local pid start
    pid="$(pg_pid)"
    start="$(now_ms)"
    log "stopping PostgreSQL (pid ${pid})"
    if ! pg_ctl_ stop -D "${PG_DATA}" -m fast -w -t 60 -s; then
        warn "fast shutdown did not finish in 60 s; trying immediate"
        pg_ctl_ stop -D "${PG_DATA}" -m immediate -w -t 30 -s || die "PostgreSQL (pid ${pid}) did not stop; see ${PG_LOG}"
    fi
    log "PostgreSQL stopped after $(elapsed_s "${start}") s"
}

pg_status() {
    if pg_running && find_pg_bin; then
        if "${PG_BIN}/pg_isready" -q -h "${PG_HOST}" -p "${PG_PORT}" -t 5; then
            echo "postgres: running  pid $(pg_pid)  ${PG_HOST}:${PG_PORT}  socket ${PG_SOCKET_DIR}"
            return 0
        fi
        echo "postgres: running  pid $(pg_pid)  but NOT accepting connections on ${PG_HOST}:${PG_PORT}"
        return 1
    fi
    echo "postgres: stopped  (${PG_HOST}:${PG_PORT})"
    return 1
}

# --------------------------------------------------------------------------- commands

print_endpoints() {
    cat <<EOF
[infra] ---------------------------------------------------------------
[infra] Kafka bootstrap servers : ${KAFKA_HOST}:${KAFKA_PORT}   (controller ${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}, auto topic creation OFF)
[infra] PostgreSQL              : ${PG_HOST}:${PG_PORT}   user ${PG_USER} / password ${PG_PASSWORD}
EOF
    local db
    for db in "${PG_DATABASES[@]}"; do
        echo "[infra]   postgresql://${PG_USER}:${PG_PASSWORD}@${PG_HOST}:${PG_PORT}/${db}"
    done
    cat <<EOF
[infra] State (data, logs, pids): ${STATE_DIR}
[infra] ---------------------------------------------------------------
EOF
}

cmd_up() {
    cmd_install
    mkdir -p "${STATE_DIR}"
    pg_up
    kafka_up
    print_endpoints
}

cmd_down() {
    kafka_down
    pg_down
    # Anything still running with this state dir on its command line would be an orphan.
    # (The pattern is read from a file so that grep's own command line does not match.)
    local leftovers f pid
    leftovers="$(grep -l -a -F -f <(printf '%s/\n' "${STATE_DIR}") /proc/[0-9]*/cmdline 2>/dev/null || true)"
    if [[ -n "${leftovers}" ]]; then
        warn "processes still running from ${STATE_DIR}:"
        for f in ${leftovers}; do
            pid="${f#/proc/}"
            pid="${pid%/cmdline}"
            printf '  %s %s\n' "${pid}" "$(cmdline_of "${pid}")" >&2
        done
        return 1
    fi
    log "no process from ${STATE_DIR} left running"
}

cmd_status() {
    local rc=0
    kafka_status || rc=3
    pg_status || rc=3
    echo "state:    ${STATE_DIR}"
    return "${rc}"
}

cmd_logs() {
    local which="${1:-all}" lines="${TIMEBRIDGE_LOG_LINES:-100}"
    case "${which}" in
    kafka) tail -n "${lines}" "${KAFKA_LOG}" ;;
    postgres | pg) tail -n "${lines}" "${PG_LOG}" ;;
    all)
        echo "==> ${KAFKA_LOG} <=="
        tail -n "${lines}" "${KAFKA_LOG}" 2>/dev/null || echo "(none)"
        echo "==> ${PG_LOG} <=="
        tail -n "${lines}" "${PG_LOG}" 2>/dev/null || echo "(none)"
        ;;
    *) die "usage: infra.sh logs [kafka|postgres|all]" ;;
    esac
}

cmd_reset() {
    case "${STATE_DIR}" in
    "" | / | "${HOME}" | "${REPO_DIR}") die "refusing to delete state dir '${STATE_DIR}'" ;;
    esac
    cmd_down
    if [[ -d "${STATE_DIR}" ]]; then
        log "deleting ${STATE_DIR}"
        rm -rf "${STATE_DIR}"
    fi
}

usage() {
    cat <<EOF
Usage: bash deploy/local/infra.sh COMMAND

  install            install java/maven/postgresql if missing; fetch the Kafka jars into the cache
  up                 install, then start Kafka and PostgreSQL (reuses what already runs), wait until ready
  down               stop both (PostgreSQL fast shutdown, Kafka SIGTERM then SIGKILL after ${KAFKA_STOP_TIMEOUT} s)
  status             show both; exit 0 when both run, 3 otherwise
  logs [kafka|postgres|all]   print the last \${TIMEBRIDGE_LOG_LINES:-100} log lines
  reset              down, then delete the state dir (${STATE_DIR})
EOF
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "${cmd}" in
    install) cmd_install ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 64
        ;;
    esac
}

main "$@"
