#!/usr/bin/env bash
# A local Apache Cassandra node for tests and development, from Maven Central.
#   scripts/cassandra.sh up      fetch (once), configure, start, wait for CQL
#   scripts/cassandra.sh down    stop cleanly
#   scripts/cassandra.sh status
# Everything lives under .cassandra/ (git-ignored). Idempotent: `up` on a
# running node and `down` on a stopped one do nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

home="$PWD/.cassandra"
lib="$home/lib"
conf="$home/conf"
data="$home/data"
pidfile="$home/cassandra.pid"
log="$home/cassandra.log"
address="${CASSANDRA_ADDRESS:-127.0.0.1}"
cql_port="${CASSANDRA_CQL_PORT:-9042}"
heap="${CASSANDRA_HEAP:-1G}"
wait_seconds="${CASSANDRA_WAIT_SECONDS:-180}"

running() {
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
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
  mkdir -p "$conf" "$data"
  cat >"$conf/cassandra.yaml" <<YAML
cluster_name: scripthost-local
num_tokens: 1
initial_token: 0
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
      - seeds: "$address:7000"
listen_address: $address
rpc_address: $address
storage_port: 7000
native_transport_port: $cql_port
start_native_transport: true
endpoint_snitch: SimpleSnitch
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
auto_snapshot: false
snapshot_before_compaction: false
disk_access_mode: mmap_index_only
write_request_timeout: 10000ms
read_request_timeout: 10000ms
cas_contention_timeout: 5000ms
YAML
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
  # A single local node: no gossip to wait for, no ring to settle.
  echo "-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=100"
  echo "-Dcassandra.config=file://$conf/cassandra.yaml -Dlogback.configurationFile=$conf/logback.xml"
  echo "-Dcassandra.storagedir=$data -Dcassandra.logdir=$home -Dcassandra-foreground=yes"
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
  if ! running; then
    configure
    # shellcheck disable=SC2046
    nohup java $(jvm_flags) -cp "$lib/*" org.apache.cassandra.service.CassandraDaemon \
      >"$log" 2>&1 &
    echo $! >"$pidfile"
  fi
  local waited=0
  until cql_answers; do
    if ! running; then
      echo "Cassandra exited while starting; the end of its log:" >&2
      tail -n 40 "$log" "$home/system.log" >&2 2>/dev/null || true
      exit 1
    fi
    if ((waited >= wait_seconds)); then
      echo "Cassandra did not answer CQL on $address:$cql_port in ${wait_seconds}s" >&2
      tail -n 40 "$home/system.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  echo "Cassandra is up on $address:$cql_port (started in ${waited}s)"
}

down() {
  if ! running; then
    rm -f "$pidfile"
    echo "Cassandra is not running"
    return
  fi
  local pid
  pid="$(cat "$pidfile")"
  kill -TERM "$pid"
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$pidfile"
  echo "Cassandra stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running && cql_answers; then echo up; else echo down; exit 1; fi ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
