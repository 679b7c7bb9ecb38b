#!/usr/bin/env bash
# Local test services for pipewarden: a real Apache Kafka broker (KRaft, single node)
# and a real Elasticsearch 8 node, both run from jars fetched from Maven Central.
#
#   services.sh fetch                          download jars into the cache (idempotent)
#   services.sh start [kafka|elasticsearch|all] fetch if needed, start, wait until ready; keeps the data
#                                              of an earlier run (a stop/start loses nothing)
#   services.sh stop  [kafka|elasticsearch|all] SIGTERM, then SIGKILL after a grace period
#   services.sh reset [kafka|elasticsearch|kafka-cluster|all] stop, then delete the data
#   services.sh status                         print the state of each service
#   services.sh env                            print KAFKA_BROKERS=... and ELASTICSEARCH_URL=...
#   services.sh fetch-tools                    download Kafka's tool jars (kafka-tools: ProducerPerformance,
#                                              for npm run bench) into their own cache folder; not part of
#                                              fetch, so a broker's jars are never touched by it
#   services.sh tools-classpath                fetch-tools, then print the class path of the tools
#
#   services.sh start kafka-cluster            a separate three-broker KRaft cluster for fault tests
#   services.sh stop kafka-cluster             (replication factor 3, min.insync.replicas 2), with its
#                                              own ports and data; not part of `all`
#   services.sh kill-broker N                  SIGKILL broker N (1-3) of the cluster; `start kafka-cluster`
#                                              brings it back with its data
#   services.sh cluster-env                    print KAFKA_CLUSTER_BROKERS=...
#
# Environment:
#   PIPEWARDEN_CACHE    cache root (default ~/.cache/pipewarden); jars go to <cache>/services/
#   PIPEWARDEN_RUN_DIR  run root (default <repo>/.run); data/logs/pids go to <run>/services/
#   PW_KAFKA_PORT (19092), PW_KAFKA_CONTROLLER_PORT (19093),
#   PW_ES_PORT (19200, HTTP), PW_ES_TRANSPORT_PORT (19300, node-to-node, loopback only)
#   PW_KAFKA_CLUSTER_PORT (19192: brokers on 19192-19194, their controllers on 19195-19197)
#   PW_SERVICES_TIMEOUT readiness timeout in seconds per service (default 180)
#
# Elasticsearch note: there is no Elasticsearch 8 "cluster runner" on Maven Central
# (org.codelibs:elasticsearch-cluster-runner stops at 7.10.2.0). Instead this script
# fetches the real server jar org.elasticsearch:elasticsearch plus the published module
# org.elasticsearch.plugin:transport-netty4 (HTTP + transport), and starts an
# org.elasticsearch.node.Node from a small launcher compiled here with javac. A small
# plugin written here stands in for two endpoints whose modules are not published:
# GET/HEAD / (rest-root) and PUT /_data_stream/{name} (data-streams).
set -euo pipefail

KAFKA_VERSION=3.9.2
SLF4J_VERSION=1.7.36
ES_VERSION=8.19.21
LAUNCHER_REV=1   # bump when the Java sources below change

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
CACHE_DIR="${PIPEWARDEN_CACHE:-$HOME/.cache/pipewarden}/services"
RUN_DIR="${PIPEWARDEN_RUN_DIR:-$REPO_ROOT/.run}/services"

KAFKA_PORT="${PW_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${PW_KAFKA_CONTROLLER_PORT:-19093}"
ES_PORT="${PW_ES_PORT:-19200}"
ES_TRANSPORT_PORT="${PW_ES_TRANSPORT_PORT:-19300}"
KC_PORT="${PW_KAFKA_CLUSTER_PORT:-19192}"
TIMEOUT="${PW_SERVICES_TIMEOUT:-180}"
STOP_GRACE=20

KAFKA_CACHE="$CACHE_DIR/kafka"
KAFKA_TOOLS_CACHE="$CACHE_DIR/kafka-tools"
ES_CACHE="$CACHE_DIR/elasticsearch"
KAFKA_RUN="$RUN_DIR/kafka"
ES_RUN="$RUN_DIR/elasticsearch"
KC_RUN="$RUN_DIR/kafka-cluster"

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not on PATH"; }

# ---------------------------------------------------------------- fetch

write_pom() { # file artifactId dependencies-xml
  cat >"$1" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pipewarden.local</groupId>
  <artifactId>$2</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$3
  </dependencies>
</project>
EOF
}

dep() { printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' "$1" "$2" "$3"; }

mvn_copy() { # pom outdir
  local pom="$1" out="$2" mlog="${1%.xml}.log"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out" >"$mlog" 2>&1; then
    tail -n 40 "$mlog" >&2
    die "maven could not fetch the dependencies of $pom (log: $mlog)"
  fi
}

fetch_kafka() {
  local stamp="kafka_2.13-$KAFKA_VERSION slf4j-reload4j-$SLF4J_VERSION"
  if [[ -f "$KAFKA_CACHE/.complete" && "$(cat "$KAFKA_CACHE/.complete")" == "$stamp" ]]; then return 0; fi
  log "fetching Kafka $KAFKA_VERSION from Maven Central into $KAFKA_CACHE/lib"
  mkdir -p "$KAFKA_CACHE"
  rm -rf "$KAFKA_CACHE/lib" "$KAFKA_CACHE/.complete"
  write_pom "$KAFKA_CACHE/pom.xml" pw-kafka \
    "$(dep org.apache.kafka kafka_2.13 "$KAFKA_VERSION")$(printf '\n')$(dep org.slf4j slf4j-reload4j "$SLF4J_VERSION")"
  mvn_copy "$KAFKA_CACHE/pom.xml" "$KAFKA_CACHE/lib"
  echo "$stamp" >"$KAFKA_CACHE/.complete"
}

# Kafka's command-line tools (org.apache.kafka:kafka-tools, same version as the broker), in a folder of their
# own: the broker's lib/ is not rewritten while a broker runs from it.
fetch_kafka_tools() {
  local stamp="kafka-tools-$KAFKA_VERSION slf4j-reload4j-$SLF4J_VERSION"
  if [[ -f "$KAFKA_TOOLS_CACHE/.complete" && "$(cat "$KAFKA_TOOLS_CACHE/.complete")" == "$stamp" ]]; then return 0; fi
  need java
  need mvn
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/.fetch.lock"
  flock 9
  if [[ ! -f "$KAFKA_TOOLS_CACHE/.complete" || "$(cat "$KAFKA_TOOLS_CACHE/.complete")" != "$stamp" ]]; then
    log "fetching kafka-tools $KAFKA_VERSION from Maven Central into $KAFKA_TOOLS_CACHE/lib"
    mkdir -p "$KAFKA_TOOLS_CACHE"
    rm -rf "$KAFKA_TOOLS_CACHE/lib" "$KAFKA_TOOLS_CACHE/.complete"
    write_pom "$KAFKA_TOOLS_CACHE/pom.xml" pw-kafka-tools \
      "$(dep org.apache.kafka kafka-tools "$KAFKA_VERSION")$(printf '\n')$(dep org.slf4j slf4j-reload4j "$SLF4J_VERSION")"
    mvn_copy "$KAFKA_TOOLS_CACHE/pom.xml" "$KAFKA_TOOLS_CACHE/lib"
    cat >"$KAFKA_TOOLS_CACHE/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
    echo "$stamp" >"$KAFKA_TOOLS_CACHE/.complete"
  fi
  flock -u 9
  exec 9>&-
}

write_es_sources() { # srcdir
  local src="$1"
  mkdir -p "$src/launcher" "$src/plugin/pipewarden"
  cat >"$src/launcher/PwEsNode.java" <<'EOF'
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.PluginsLoader;

/** Starts one Elasticsearch node in this JVM: args = home httpPort transportPort modulesDir. */
public class PwEsNode {
  public static void main(String[] args) throws Exception {
    Path home = Path.of(args[0]).toAbsolutePath();
    int httpPort = Integer.parseInt(args[1]);
    int transportPort = Integer.parseInt(args[2]);
    Path modules = Path.of(args[3]).toAbsolutePath();
    Path config = home.resolve("config");
    Files.createDirectories(config);
    Files.createDirectories(home.resolve("plugins"));
    Files.writeString(config.resolve("log4j2.properties"), String.join("\n",
        "status = error",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n",
        "rootLogger.level = info",
        "rootLogger.appenderRef.console.ref = console",
        "logger.deprecation.name = org.elasticsearch.deprecation",
        "logger.deprecation.level = error",
        ""));
    Settings settings = Settings.builder()
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("cluster.name", "pipewarden-test")
        .put("node.name", "pw-es-1")
        .put("network.host", "127.0.0.1")
        .put("http.port", httpPort)
        .put("transport.port", transportPort)
        .put("discovery.type", "single-node")
        .put("cluster.routing.allocation.disk.threshold_enabled", false)
        .put("action.destructive_requires_name", false)
        .build();
    LogConfigurator.configureESLogging();
    Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> "pw-es-1");
    LogConfigurator.setNodeName("pw-es-1");
    LogConfigurator.configure(env, true);
    // Server runs from the class path here (not as a named module), so plugins load
    // through class loaders and the server's qualified-exports service is skipped.
    PluginsLoader plugins = PluginsLoader.createPluginsLoader(
        PluginsLoader.loadModulesBundles(modules), Set.of(), Map.of(), false);
    Node node = new Node(env, plugins);
    node.start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
        node.awaitClose(15, TimeUnit.SECONDS);
      } catch (Exception e) {
        e.printStackTrace();
      }
    }, "pw-es-shutdown"));
    System.err.println("pipewarden: elasticsearch node started, http on 127.0.0.1:" + httpPort);
    Thread.currentThread().join();
  }
}
EOF
  cat >"$src/plugin/pipewarden/PwExtrasPlugin.java" <<'EOF'
package pipewarden;

import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.elasticsearch.Build;
import org.elasticsearch.action.ActionListener;
import org.elasticsearch.action.admin.indices.create.AutoCreateAction;
import org.elasticsearch.action.admin.indices.create.CreateIndexRequest;
import org.elasticsearch.action.admin.indices.create.CreateIndexResponse;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.common.bytes.BytesArray;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

/**
 * Stand-ins for REST endpoints whose modules are not published on Maven Central:
 * GET and HEAD / (module rest-root), PUT /_data_stream/{name} (module data-streams).
 */
public class PwExtrasPlugin extends Plugin implements ActionPlugin {
  @Override
  public Collection<RestHandler> getRestHandlers(Settings settings, NamedWriteableRegistry registry,
      RestController controller, ClusterSettings clusterSettings, IndexScopedSettings indexScopedSettings,
      SettingsFilter settingsFilter, IndexNameExpressionResolver resolver, Supplier<DiscoveryNodes> nodes,
      Predicate<NodeFeature> features) {
    return List.of(new RootHandler(settings), new CreateDataStreamHandler());
  }

  static final class RootHandler extends BaseRestHandler {
    private final Settings settings;

    RootHandler(Settings settings) { this.settings = settings; }

    @Override public String getName() { return "pipewarden_root"; }

    @Override public List<Route> routes() {
      return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
    }

    @Override protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
      return channel -> {
        if (request.method() == RestRequest.Method.HEAD) {
          channel.sendResponse(new RestResponse(RestStatus.OK, RestResponse.TEXT_CONTENT_TYPE, BytesArray.EMPTY));
          return;
        }
        Build build = Build.current();
        XContentBuilder b = channel.newBuilder();
        b.startObject();
        b.field("name", settings.get("node.name", "pw-es-1"));
        b.field("cluster_name", settings.get("cluster.name", "elasticsearch"));
        b.field("cluster_uuid", "_na_");
        b.startObject("version");
        b.field("number", build.version());
        b.field("build_flavor", build.flavor());
        b.field("build_type", "maven");
        b.field("build_hash", build.hash());
        b.field("build_date", build.date());
        b.field("build_snapshot", build.isSnapshot());
        b.field("lucene_version", org.apache.lucene.util.Version.LATEST.toString());
        b.field("minimum_wire_compatibility_version", build.minWireCompatVersion());
        b.field("minimum_index_compatibility_version", build.minIndexCompatVersion());
        b.endObject();
        b.field("tagline", "You Know, for Search");
        b.endObject();
        channel.sendResponse(new RestResponse(RestStatus.OK, b));
      };
    }
  }

  /** Creates a data stream through the server's auto-create path (needs a matching data-stream template). */
  static final class CreateDataStreamHandler extends BaseRestHandler {
    @Override public String getName() { return "pipewarden_create_data_stream"; }

    @Override public List<Route> routes() {
      return List.of(new Route(RestRequest.Method.PUT, "/_data_stream/{name}"));
    }

    @Override protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
      String name = request.param("name");
      return channel -> client.execute(AutoCreateAction.INSTANCE,
          new CreateIndexRequest(name).cause("create data stream api"),
          new ActionListener<CreateIndexResponse>() {
            @Override public void onResponse(CreateIndexResponse response) {
              try {
                XContentBuilder b = channel.newBuilder();
                b.startObject().field("acknowledged", response.isAcknowledged()).endObject();
                channel.sendResponse(new RestResponse(RestStatus.OK, b));
              } catch (Exception e) {
                onFailure(e);
              }
            }

            @Override public void onFailure(Exception e) {
              try {
                channel.sendResponse(new RestResponse(channel, e));
              } catch (Exception inner) {
                inner.addSuppressed(e);
              }
            }
          });
    }
  }
}
EOF
}

fetch_elasticsearch() {
  local stamp="elasticsearch-$ES_VERSION launcher-$LAUNCHER_REV"
  if [[ -f "$ES_CACHE/.complete" && "$(cat "$ES_CACHE/.complete")" == "$stamp" ]]; then return 0; fi
  need javac
  need jar
  log "fetching Elasticsearch $ES_VERSION from Maven Central into $ES_CACHE/lib"
  mkdir -p "$ES_CACHE"
  rm -rf "$ES_CACHE/lib" "$ES_CACHE/modules" "$ES_CACHE/launcher" "$ES_CACHE/src" "$ES_CACHE/netty4" \
    "$ES_CACHE/.complete"
  write_pom "$ES_CACHE/pom.xml" pw-elasticsearch "$(dep org.elasticsearch elasticsearch "$ES_VERSION")"
  write_pom "$ES_CACHE/pom-netty4.xml" pw-elasticsearch-netty4 \
    "$(dep org.elasticsearch.plugin transport-netty4 "$ES_VERSION")"
  mvn_copy "$ES_CACHE/pom.xml" "$ES_CACHE/lib"
  mvn_copy "$ES_CACHE/pom-netty4.xml" "$ES_CACHE/netty4"

  # Module dir for transport-netty4: its own jars only (those already in lib/ would
  # trip the jar-hell check), and its descriptor without 'modulename' because the
  # server runs from the class path rather than as a named module.
  local mod="$ES_CACHE/modules/transport-netty4" j
  mkdir -p "$mod"
  for j in "$ES_CACHE/netty4"/*.jar; do
    [[ -e "$ES_CACHE/lib/$(basename "$j")" ]] || cp "$j" "$mod/"
  done
  unzip -p "$mod/transport-netty4-$ES_VERSION.jar" META-INF/es-plugins/transport-netty4/plugin-descriptor.properties \
    | grep -v '^modulename=' >"$mod/plugin-descriptor.properties"
  grep -q '^classname=' "$mod/plugin-descriptor.properties" || die "transport-netty4 plugin descriptor not found"
  rm -rf "$ES_CACHE/netty4"

  write_es_sources "$ES_CACHE/src"
  mkdir -p "$ES_CACHE/launcher" "$ES_CACHE/src/plugin-classes" "$ES_CACHE/modules/pipewarden-extras"
  javac -nowarn -d "$ES_CACHE/launcher" -cp "$ES_CACHE/lib/*" "$ES_CACHE/src/launcher/PwEsNode.java" \
    || die "could not compile the Elasticsearch launcher"
  javac -nowarn -d "$ES_CACHE/src/plugin-classes" -cp "$ES_CACHE/lib/*" "$ES_CACHE/src/plugin/pipewarden/PwExtrasPlugin.java" \
    || die "could not compile the pipewarden-extras plugin"
  jar cf "$ES_CACHE/modules/pipewarden-extras/pipewarden-extras.jar" -C "$ES_CACHE/src/plugin-classes" .
  cat >"$ES_CACHE/modules/pipewarden-extras/plugin-descriptor.properties" <<EOF
description=pipewarden test stand-ins for rest-root and data-streams endpoints
version=$ES_VERSION
name=pipewarden-extras
classname=pipewarden.PwExtrasPlugin
java.version=17
elasticsearch.version=$ES_VERSION
EOF
  echo "$stamp" >"$ES_CACHE/.complete"
}

fetch_all() {
  need java
  need mvn
  mkdir -p "$CACHE_DIR"
  # Serialise concurrent fetches (e.g. two test runs starting at once).
  exec 9>"$CACHE_DIR/.fetch.lock"
  flock 9
  local t0=$SECONDS
  fetch_kafka
  fetch_elasticsearch
  flock -u 9
  exec 9>&-
  if (( SECONDS - t0 > 1 )); then log "fetch done in $((SECONDS - t0))s"; fi
}

# ---------------------------------------------------------------- process helpers

pid_of() { # service -> prints pid if its process is alive, else nothing
  local pidfile="$RUN_DIR/$1.pid" pid marker
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  case "$1" in kafka | kafka-cluster-*) marker="kafka.Kafka" ;; elasticsearch) marker="PwEsNode" ;; esac
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$marker"; then
    echo "$pid"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

kafka_healthy() {
  port_open "$KAFKA_PORT" || return 1
  timeout 60 java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$KAFKA_CACHE/lib/*" \
    -Dlog4j.configuration="file:$KAFKA_RUN/tools-log4j.properties" \
    kafka.admin.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
    >"$KAFKA_RUN/healthcheck.out" 2>&1 \
    && grep -q "127.0.0.1:$KAFKA_PORT" "$KAFKA_RUN/healthcheck.out"
}

es_healthy() {
  curl -fsS -m 15 "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=10s" 2>/dev/null \
    | grep -qE '"status":"(yellow|green)"'
}

kc_client_port() { echo $((KC_PORT + $1 - 1)); }
kc_controller_port() { echo $((KC_PORT + 3 + $1 - 1)); }

kc_broker_healthy() { # n
  local port
  port="$(kc_client_port "$1")"
  port_open "$port" || return 1
  timeout 60 java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$KAFKA_CACHE/lib/*" \
    -Dlog4j.configuration="file:$KC_RUN/broker-$1/tools-log4j.properties" \
    kafka.admin.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$port" \
    >"$KC_RUN/healthcheck-$1.out" 2>&1 \
    && grep -q "127.0.0.1:$port" "$KC_RUN/healthcheck-$1.out"
}

healthy() {
  case "$1" in
    kafka) kafka_healthy ;;
    elasticsearch) es_healthy ;;
    kafka-cluster-*) kc_broker_healthy "${1#kafka-cluster-}" ;;
  esac
}

logfile() {
  case "$1" in
    kafka) echo "$KAFKA_RUN/kafka.log" ;;
    elasticsearch) echo "$ES_RUN/elasticsearch.log" ;;
    kafka-cluster-*) echo "$KC_RUN/broker-${1#kafka-cluster-}/kafka.log" ;;
  esac
}

stop_one() {
  local svc="$1" pid i
  pid="$(pid_of "$svc")"
  if [[ -n "$pid" ]]; then
    log "stopping $svc (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_GRACE * 4; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$svc did not stop within ${STOP_GRACE}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
  fi
  rm -f "$RUN_DIR/$svc.pid"
}

# ---------------------------------------------------------------- launch

new_cluster_id() { # 16 random bytes, base64url like Kafka's own ids
  local id="-"
  # One in 64 starts with "-", which the storage tool's argument parser takes for an option: draw again.
  while [[ "$id" == -* ]]; do id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"; done
  echo "$id"
}

kafka_format() { # rundir properties [cluster id]: formats the storage once; formatted data is kept as is
  local run="$1" props="$2" cluster_id="${3:-}" dir
  dir="$(sed -n 's/^log.dirs=//p' "$props")"
  if [[ -f "$dir/meta.properties" ]]; then
    log "keeping the Kafka data in $dir (services.sh reset deletes it)"
    return 0
  fi
  [[ -n "$cluster_id" ]] || cluster_id="$(new_cluster_id)"
  if ! java -Xmx128m -cp "$KAFKA_CACHE/lib/*" -Dlog4j.configuration="file:$run/tools-log4j.properties" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$props" >"$run/format.log" 2>&1; then
    cat "$run/format.log" >&2
    die "formatting the Kafka storage in $dir failed"
  fi
}

write_kafka_log4j() { # dir: the broker's and the tools' log4j configurations
  cat >"$1/log4j.properties" <<'L4J'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
L4J
  cat >"$1/tools-log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
}

launch_kafka_cluster_broker() { # n
  local n="$1" run="$KC_RUN/broker-$1" voters="" i cluster_id
  mkdir -p "$run/data"
  for i in 1 2 3; do voters+="${voters:+,}$i@127.0.0.1:$(kc_controller_port "$i")"; done
  cat >"$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(kc_client_port "$n"),CONTROLLER://127.0.0.1:$(kc_controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(kc_client_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run/data
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
auto.create.topics.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
# A dead broker is fenced (and its partitions get new leaders) after 4 s rather than 9 s.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
num.network.threads=1
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
PROPS
  write_kafka_log4j "$run"
  # One cluster id for the three brokers, drawn once and kept beside their data.
  [[ -f "$KC_RUN/cluster.id" ]] || new_cluster_id >"$KC_RUN/cluster.id"
  cluster_id="$(cat "$KC_RUN/cluster.id")"
  kafka_format "$run" "$run/server.properties" "$cluster_id"
  log "starting Kafka cluster broker $n on 127.0.0.1:$(kc_client_port "$n") (controller $(kc_controller_port "$n"))"
  # Small heaps: three JVMs on a small shared machine.
  setsid nohup java -Xms96m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ActiveProcessorCount=1 \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$run/log4j.properties" \
    -cp "$KAFKA_CACHE/lib/*" kafka.Kafka "$run/server.properties" \
    >"$run/kafka.log" 2>&1 </dev/null &
  local pid=$! i
  # setsid may fork (when it leads its process group), so $! can be a parent that exits at once: record
  # the broker's own pid, found by its configuration file.
  for ((i = 0; i < 50; i++)); do
    pid="$(pgrep -f "kafka.Kafka $run/server.properties" | head -n 1 || true)"
    [[ -n "$pid" ]] && break
    sleep 0.1
  done
  echo "${pid:-$!}" >"$RUN_DIR/kafka-cluster-$n.pid"
}

launch_kafka() {
  # The data stays across stop/start (`reset` deletes it): only the configuration is written again.
  mkdir -p "$KAFKA_RUN/data"
  cat >"$KAFKA_RUN/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_RUN/data
num.partitions=3
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
EOF
  write_kafka_log4j "$KAFKA_RUN"
  kafka_format "$KAFKA_RUN" "$KAFKA_RUN/server.properties"
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
  setsid nohup java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:ActiveProcessorCount=2 \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$KAFKA_RUN/log4j.properties" \
    -cp "$KAFKA_CACHE/lib/*" kafka.Kafka "$KAFKA_RUN/server.properties" \
    >"$KAFKA_RUN/kafka.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/kafka.pid"
}

launch_elasticsearch() {
  # The data (under home/) stays across stop/start; `reset` deletes it.
  mkdir -p "$ES_RUN/home" "$ES_RUN/tmp"
  log "starting Elasticsearch $ES_VERSION on http://127.0.0.1:$ES_PORT (transport $ES_TRANSPORT_PORT)"
  setsid nohup java -Xms512m -Xmx1g -XX:+UseG1GC -XX:ActiveProcessorCount=2 \
    -Djava.io.tmpdir="$ES_RUN/tmp" -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Dlog4j2.formatMsgNoLookups=true -Dlog4j2.disable.jmx=true \
    -Dio.netty.noUnsafe=true -Dio.netty.recycler.maxCapacityPerThread=0 \
    -Des.networkaddress.cache.ttl=60 -Des.networkaddress.cache.negative.ttl=10 \
    -cp "$ES_CACHE/launcher:$ES_CACHE/lib/*" PwEsNode \
    "$ES_RUN/home" "$ES_PORT" "$ES_TRANSPORT_PORT" "$ES_CACHE/modules" \
    >"$ES_RUN/elasticsearch.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/elasticsearch.pid"
}

wait_ready() {
  local svc="$1" t0=$SECONDS pid
  while true; do
    pid="$(pid_of "$svc")"
    if [[ -z "$pid" ]]; then
      log "$svc exited during startup; last lines of $(logfile "$svc"):"
      tail -n 40 "$(logfile "$svc")" >&2 || true
      rm -f "$RUN_DIR/$svc.pid"
      return 1
    fi
    if healthy "$svc"; then
      log "$svc ready after $((SECONDS - t0))s"
      return 0
    fi
    if (( SECONDS - t0 >= TIMEOUT )); then
      log "$svc not ready after ${TIMEOUT}s; last lines of $(logfile "$svc"):"
      tail -n 40 "$(logfile "$svc")" >&2 || true
      return 1
    fi
    sleep 1
  done
}

check_ports_free() { # refuse to start when another process holds our ports (its health would look like ours)
  local port ports
  case "$1" in
    kafka) ports="$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
    elasticsearch) ports="$ES_PORT $ES_TRANSPORT_PORT" ;;
    kafka-cluster-*) ports="$(kc_client_port "${1#kafka-cluster-}") $(kc_controller_port "${1#kafka-cluster-}")" ;;
  esac
  for port in $ports; do
    if port_open "$port"; then
      die "cannot start $1: 127.0.0.1:$port is already in use by another process (not started from $RUN_DIR); stop it or set PW_KAFKA_PORT / PW_KAFKA_CONTROLLER_PORT / PW_ES_PORT / PW_ES_TRANSPORT_PORT"
    fi
  done
}

services_for() {
  case "${1:-all}" in
    all) echo "kafka elasticsearch" ;;
    kafka | elasticsearch) echo "$1" ;;
    es) echo elasticsearch ;;
    kafka-cluster) echo "kafka-cluster-1 kafka-cluster-2 kafka-cluster-3" ;;
    *) die "unknown service '$1' (expected kafka, elasticsearch, kafka-cluster or all)" ;;
  esac
}

cmd_start() {
  local svcs svc launched=() rc=0
  svcs="$(services_for "${1:-all}")"
  fetch_all
  mkdir -p "$RUN_DIR"
  for svc in $svcs; do
    if [[ -n "$(pid_of "$svc")" ]]; then
      if healthy "$svc"; then
        log "$svc already running and healthy"
        continue
      fi
      log "$svc is running but not healthy; restarting it"
      stop_one "$svc"
    fi
    rm -f "$RUN_DIR/$svc.pid"
    check_ports_free "$svc"
    case "$svc" in
      kafka-cluster-*) launch_kafka_cluster_broker "${svc#kafka-cluster-}" ;;
      *) "launch_$svc" ;;
    esac
    launched+=("$svc")
  done
  for svc in "${launched[@]}"; do
    wait_ready "$svc" || rc=1
  done
  return "$rc"
}

cmd_stop() {
  local svc
  for svc in $(services_for "${1:-all}"); do stop_one "$svc"; done
}

cmd_reset() {
  local svc
  for svc in $(services_for "${1:-all}"); do
    stop_one "$svc"
    case "$svc" in
      kafka) rm -rf "$KAFKA_RUN/data" ;;
      elasticsearch) rm -rf "$ES_RUN/home" ;;
      kafka-cluster-*) rm -rf "$KC_RUN/broker-${svc#kafka-cluster-}/data" ;;
    esac
  done
  [[ "${1:-all}" != kafka-cluster ]] || rm -f "$KC_RUN/cluster.id"
  log "reset ${1:-all}: data deleted"
}

cmd_kill_broker() {
  local n="${1:-}" pid
  [[ "$n" =~ ^[123]$ ]] || die "kill-broker takes a broker number, 1 to 3"
  pid="$(pid_of "kafka-cluster-$n")"
  [[ -n "$pid" ]] || die "broker $n of the cluster is not running"
  log "killing cluster broker $n (pid $pid) with SIGKILL"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$RUN_DIR/kafka-cluster-$n.pid"
}

cmd_status() {
  local svc pid state
  for svc in kafka elasticsearch; do
    pid="$(pid_of "$svc")"
    if [[ -z "$pid" ]]; then
      state="stopped"
    elif healthy "$svc"; then
      state="running (pid $pid, healthy)"
    else
      state="running (pid $pid, NOT ready)"
    fi
    case "$svc" in
      kafka) printf '%-14s %s  127.0.0.1:%s\n' kafka "$state" "$KAFKA_PORT" ;;
      elasticsearch) printf '%-14s %s  http://127.0.0.1:%s\n' elasticsearch "$state" "$ES_PORT" ;;
    esac
  done
}

cmd_env() {
  echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  echo "ELASTICSEARCH_URL=http://127.0.0.1:$ES_PORT"
}

cmd_cluster_env() {
  echo "KAFKA_CLUSTER_BROKERS=127.0.0.1:$(kc_client_port 1),127.0.0.1:$(kc_client_port 2),127.0.0.1:$(kc_client_port 3)"
}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    fetch) fetch_all ;;
    fetch-tools) fetch_kafka_tools ;;
    tools-classpath) fetch_kafka_tools; echo "$KAFKA_TOOLS_CACHE/lib/*" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    reset) cmd_reset "$@" ;;
    kill-broker) cmd_kill_broker "$@" ;;
    cluster-env) cmd_cluster_env ;;
    restart) cmd_stop "$@"; cmd_start "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
