#!/usr/bin/env bash
# Apache Cassandra for tests and development, from Maven Central.
#
# One node (what `make test` uses; CASSANDRA_ADDRESS, default 127.0.0.1):
#   scripts/cassandra.sh up      fetch (once), configure, start, wait for CQL
#   scripts/cassandra.sh down    stop cleanly
#   scripts/cassandra.sh status
#
# A cluster of nodes on their own loopback addresses, one data centre per
# address list (GossipingPropertyFileSnitch); CASSANDRA_CLUSTER_DC1 (default
# 127.0.0.11-13) and CASSANDRA_CLUSTER_DC2 (default 127.0.0.14-16, empty for a
# single data centre):
#   scripts/cassandra.sh cluster-up [ADDRESS...]    start these nodes (default: all) and
#                                                   wait until every node sees them Up/Normal
#   scripts/cassandra.sh cluster-down [ADDRESS...]  stop cleanly (default: all)
#   scripts/cassandra.sh cluster-kill ADDRESS...    SIGKILL, as a crash would
#   scripts/cassandra.sh cluster-status             each node's state, seen by the others
#   scripts/cassandra.sh cluster-nodes              "DC ADDRESS" per line
#
# Everything lives under .cassandra/ (git-ignored; the cluster in
# .cassandra/cluster/ADDRESS/). Idempotent: `up` on a running node and `down`
# on a stopped one do nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

root="$PWD/.cassandra"
lib="$root/lib"
cql_port="${CASSANDRA_CQL_PORT:-9042}"
wait_seconds="${CASSANDRA_WAIT_SECONDS:-180}"
cluster_root="$root/cluster"
cluster_dc1="${CASSANDRA_CLUSTER_DC1-127.0.0.11 127.0.0.12 127.0.0.13}"
cluster_dc2="${CASSANDRA_CLUSTER_DC2-127.0.0.14 127.0.0.15 127.0.0.16}"
cluster_heap="${CASSANDRA_CLUSTER_HEAP:-512M}"
cluster_wait_seconds="${CASSANDRA_CLUSTER_WAIT_SECONDS:-300}"
python="${CASSANDRA_PYTHON:-$PWD/.venv/bin/python}"

# The node the functions below act on (see single_node and cluster_node).
home="" conf="" data="" pidfile="" log="" address="" heap="" request_timeout=""
cluster_name="" seeds="" snitch="" initial_token="" dc=""

single_node() {
  home="$root"
  address="${CASSANDRA_ADDRESS:-127.0.0.1}"
  heap="${CASSANDRA_HEAP:-1G}"
  request_timeout=10000ms
  cluster_name="scripthost-local" seeds="$address:7000" snitch=SimpleSnitch
  initial_token=0 dc=""
  node_paths
}

node_paths() {
  conf="$home/conf"
  data="$home/data"
  pidfile="$home/cassandra.pid"
  log="$home/cassandra.log"
}

# Running, and still this node's JVM (a stale pid file may name another process).
running() {
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | grep -qF "$conf/cassandra.yaml"
}

cql_answers() {
  (exec 3<>"/dev/tcp/$address/$cql_port") 2>/dev/null
}

fetch() {
  if [[ -f "$lib/.complete" ]]; then return; fi
  echo "fetching Cassandra from Maven Central into $lib ..."
  rm -rf "$lib"
  mvn -q -f scripts/cassandra/pom.xml dependency:copy-dependencies \
    -DoutputDirectory="$lib" -DincludeScope=runtime
  touch "$lib/.complete"
}

configure() {
  mkdir -p "$conf" "$data" "$home/tmp"
  cat >"$conf/cassandra.yaml" <<YAML
cluster_name: $cluster_name
num_tokens: 1
initial_token: $initial_token
allocate_tokens_for_local_replication_factor: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [$data/data]
commitlog_directory: $data/commitlog
saved_caches_directory: $data/saved_caches
hints_directory: $data/hints
cdc_raw_directory: $data/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
# Mutations larger than half a segment are refused; the registry chunks blobs
# well below this.
commitlog_segment_size: 32MiB
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$seeds"
listen_address: $address
rpc_address: $address
storage_port: 7000
native_transport_port: $cql_port
start_native_transport: true
endpoint_snitch: $snitch
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
auto_snapshot: false
snapshot_before_compaction: false
disk_access_mode: mmap_index_only
write_request_timeout: $request_timeout
read_request_timeout: $request_timeout
cas_contention_timeout: 5000ms
YAML
  if [[ -n "$dc" ]]; then
    # A new cluster has no data to stream: every node takes its token at once,
    # so all of them can start together. Hints carry the registry's 1 MiB blob
    # chunks: Cassandra's default (1 MiB/s, shared out over the other nodes)
    # would take minutes to bring a restarted node what it missed.
    printf 'auto_bootstrap: false\nhinted_handoff_throttle: 16MiB\n' >>"$conf/cassandra.yaml"
    printf 'dc=%s\nrack=rack1\n' "$dc" >"$conf/cassandra-rackdc.properties"
  fi
  cat >"$conf/logback.xml" <<XML
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$home/system.log</file>
    <encoder><pattern>%-5level %date %thread %logger{20} %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
}

# The JVM flags Cassandra's own conf/jvm17-server.options gives for JDK 17.
jvm_flags() {
  local flag
  echo "-Xms$heap -Xmx$heap -Xss256k -XX:+UseG1GC -XX:+ParallelRefProcEnabled"
  echo "-XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m -XX:MaxGCPauseMillis=300"
  echo "-Djdk.attach.allowAttachSelf=true -Djava.net.preferIPv4Stack=true"
  echo "-Dio.netty.tryReflectionSetAccessible=true -Dio.netty.allocator.useCacheForAllThreads=true"
  echo "-Dio.netty.allocator.maxOrder=11"
  for flag in java.base/jdk.internal.misc java.management.rmi/com.sun.jmx.remote.internal.rmi \
    java.rmi/sun.rmi.registry java.rmi/sun.rmi.server java.sql/java.sql java.base/java.lang.ref \
    jdk.unsupported/sun.misc jdk.compiler/com.sun.tools.javac.file jdk.attach/sun.tools.attach; do
    echo "--add-exports $flag=ALL-UNNAMED"
  done
  for flag in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
    java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
    java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal \
    java.base/sun.nio.ch java.base/java.io java.base/java.lang.reflect \
    jdk.compiler/com.sun.tools.javac java.base/java.lang java.base/java.util; do
    echo "--add-opens $flag=ALL-UNNAMED"
  done
  if [[ -n "$dc" ]]; then
    echo "-Dcassandra-rackdc.properties=file://$conf/cassandra-rackdc.properties"
    # Lets a test read one replica's own copy (CONSISTENCY NODE_LOCAL) to
    # check what a restarted node caught up on. Never on a production node.
    echo "-Dcassandra.enable_nodelocal_queries=true -Dcassandra.ring_delay_ms=1000"
    # Gossip drops a peer that has no token yet once it has been silent for
    # half the quarantine delay, which follows the ring delay (1 s here), and
    # until it restarts a node ignores the schema versions of a peer it
    # dropped (CASSANDRA-17883): it never pulls a schema change it missed, and
    # disagrees for good. Nodes that start together on busy cores can be that
    # slow to claim their tokens; Cassandra's default delay (60 s, so 30 s of
    # silence) keeps them.
    echo "-Dcassandra.gossip_quarantine_delay_ms=60000"
    # A node that misses a schema push (it was restarting, or the push was
    # dropped) only catches up at its next pull: by default every 60 s, and
    # not before a minute of uptime. Until then the driver waits for schema
    # agreement, longer than a statement's timeout; a small cluster that
    # restarts nodes on purpose pulls within seconds instead.
    echo "-Dcassandra.schema_pull_interval_ms=2000 -Dcassandra.migration_delay_ms=2000"
  else
    # A single local node: no gossip to wait for, no ring to settle.
    echo "-Dcassandra.ring_delay_ms=100"
  fi
  # Whether the ring is ready is checked from outside (cql_answers, ring.py).
  echo "-Dcassandra.skip_wait_for_gossip_to_settle=0"
  echo "-Dcassandra.config=file://$conf/cassandra.yaml -Dlogback.configurationFile=$conf/logback.xml"
  echo "-Dcassandra.storagedir=$data -Dcassandra.logdir=$home -Dcassandra-foreground=yes"
  # Native libraries the JVM unpacks (lz4's, on every start) go in the node's
  # own directory, not the system's, where a killed node would leave them.
  echo "-Djava.io.tmpdir=$home/tmp"
}

# Start the current node's JVM unless it runs (configuring it afresh).
launch() {
  if running; then return; fi
  configure
  # shellcheck disable=SC2046
  nohup java $(jvm_flags) -cp "$lib/*" org.apache.cassandra.service.CassandraDaemon \
    >"$log" 2>&1 &
  echo $! >"$pidfile"
}

fail_with_log() {
  echo "$1" >&2
  tail -n 40 "$log" "$home/system.log" >&2 2>/dev/null || true
  exit 1
}

up() {
  if running && cql_answers; then
    echo "Cassandra is up on $address:$cql_port"
    return
  fi
  if ! running && cql_answers; then
    echo "a Cassandra this script did not start answers on $address:$cql_port; using it"
    return
  fi
  fetch
  launch
  local waited=0
  until cql_answers; do
    running || fail_with_log "Cassandra exited while starting; the end of its log:"
    ((waited < wait_seconds)) ||
      fail_with_log "Cassandra did not answer CQL on $address:$cql_port in ${wait_seconds}s"
    sleep 1
    waited=$((waited + 1))
  done
  echo "Cassandra is up on $address:$cql_port (started in ${waited}s)"
}

# Signal the current node (SIGTERM lets it drain and tell its peers it leaves);
# false if it was not running.
signal_node() {
  if running; then
    kill "-$1" "$(cat "$pidfile")"
    return 0
  fi
  rm -f "$pidfile"
  return 1
}

# Wait for the signalled node to exit; SIGKILL it after a minute.
await_exit() {
  local pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$pidfile"
}

down() {
  if signal_node TERM; then
    await_exit
    echo "Cassandra stopped"
  else
    echo "Cassandra is not running"
  fi
}

# The cluster

cluster_layout() {
  local address
  for address in $cluster_dc1; do echo "dc1 $address"; done
  for address in $cluster_dc2; do echo "dc2 $address"; done
}

cluster_addresses() {
  cluster_layout | cut -d' ' -f2
}

# Select a cluster node: its directory, data centre, token and the seeds.
cluster_node() {
  local wanted="$1" line position=0 count dc_index
  dc=""
  while read -r line; do
    [[ "${line#* }" == "$wanted" ]] && dc="${line%% *}"
  done < <(cluster_layout)
  [[ -n "$dc" ]] || { echo "$wanted is not a node of the cluster (cluster-nodes lists them)" >&2; exit 2; }
  address="$wanted"
  home="$cluster_root/$address"
  heap="$cluster_heap"
  # Below the registry's 10 s per statement, so a replica that does not
  # answer comes back as Cassandra's own timeout.
  request_timeout=5000ms
  cluster_name="scripthost-cluster" snitch=GossipingPropertyFileSnitch
  seeds="$(cluster_addresses | sed 's/$/:7000/' | paste -sd, -)"
  local members
  if [[ "$dc" == dc1 ]]; then members="$cluster_dc1" dc_index=0; else members="$cluster_dc2" dc_index=1; fi
  count="$(wc -w <<<"$members")"
  for member in $members; do
    [[ "$member" == "$address" ]] && break
    position=$((position + 1))
  done
  initial_token="$(spaced_token "$position" "$count" "$dc_index")"
  node_paths
}

# Murmur3 tokens spread evenly within a data centre; each data centre offset a little.
spaced_token() {
  local position="$1" count="$2" dc_index="$3" step token
  step=$((9223372036854775807 / count * 2))
  token=$((-9223372036854775807 - 1 + dc_index * 100))
  for ((i = 0; i < position; i++)); do token=$((token + step)); done
  echo "$token"
}

# The layout a cluster was created with stays its layout: nodes joining later
# would take over token ranges without the data in them.
check_layout() {
  local wanted
  wanted="$(cluster_layout)"
  mkdir -p "$cluster_root"
  if [[ ! -f "$cluster_root/layout" ]]; then
    echo "$wanted" >"$cluster_root/layout"
  elif [[ "$(cat "$cluster_root/layout")" != "$wanted" ]]; then
    echo "the cluster in $cluster_root was created with another layout:" >&2
    cat "$cluster_root/layout" >&2
    echo "stop it (cluster-down) and remove $cluster_root to start a new one" >&2
    exit 2
  fi
}

ring() {
  local args=() line
  while read -r line; do args+=(--node "${line/ /:}"); done < <(cluster_layout)
  "$python" scripts/cassandra/ring.py --port "$cql_port" "${args[@]}" "$@"
}

cluster_up() {
  local nodes=("$@") node
  ((${#nodes[@]})) || mapfile -t nodes < <(cluster_addresses)
  check_layout
  fetch
  for node in "${nodes[@]}"; do
    cluster_node "$node"
    if ! running && cql_answers; then
      echo "a Cassandra this script did not start answers on $address:$cql_port;" \
        "choose other addresses (CASSANDRA_CLUSTER_DC1, CASSANDRA_CLUSTER_DC2)" >&2
      exit 1
    fi
    launch
  done
  for node in "${nodes[@]}"; do
    cluster_node "$node"
    running || fail_with_log "Cassandra on $node exited while starting; the end of its log:"
  done
  ring wait --timeout "$cluster_wait_seconds" "${nodes[@]}" || {
    cluster_errors
    exit 1
  }
}

# What each node last logged as an error or warning: why it is not Up/Normal
# or disagrees on the schema.
cluster_errors() {
  local node
  for node in $(cluster_addresses); do
    cluster_node "$node"
    echo "--- $node: the last errors and warnings in $home/system.log" >&2
    grep -E '^(ERROR|WARN)|FatClient' "$home/system.log" 2>/dev/null |
      grep -v -e 'prepared unqalified statement' -e 'StartupChecks' -e 'local pause of' |
      tail -n 8 | cut -c1-400 >&2 || true
  done
}

# Signal every node first, then wait: nodes stop together.
cluster_stop() {
  local signal="$1" node signalled=()
  shift
  local nodes=("$@")
  ((${#nodes[@]})) || mapfile -t nodes < <(cluster_addresses)
  for node in "${nodes[@]}"; do
    cluster_node "$node"
    if signal_node "$signal"; then signalled+=("$node"); fi
  done
  for node in "${signalled[@]}"; do
    cluster_node "$node"
    await_exit
    echo "$node stopped (SIG$signal)"
  done
}

case "${1:-}" in
  up) single_node && up ;;
  down) single_node && down ;;
  status) single_node && if running && cql_answers; then echo up; else echo down; exit 1; fi ;;
  cluster-up) shift && cluster_up "$@" ;;
  cluster-down) shift && cluster_stop TERM "$@" ;;
  cluster-kill)
    shift
    (($#)) || { echo "usage: $0 cluster-kill ADDRESS..." >&2; exit 2; }
    cluster_stop KILL "$@"
    ;;
  cluster-status) ring status ;;
  cluster-nodes) cluster_layout ;;
  *)
    echo "usage: $0 up|down|status|cluster-up|cluster-down|cluster-kill|cluster-status|cluster-nodes" >&2
    exit 2
    ;;
esac
