# Apache Kafka 3.9.1, one node in KRaft mode (broker + controller), run straight from the Maven Central jars that
# stack/kafka/pom.xml lists. The JVM is kept small: a single-node dev broker needs little heap.

KAFKA_VERSION=3.9.1
port_kafka() { echo "$KAFKA_PORT"; }
url_kafka() { echo "kafka://127.0.0.1:$KAFKA_PORT"; }

kafka_libs() { echo "$CACHE_DIR/kafka-$KAFKA_VERSION-$(stamp_of "$ROOT/stack/kafka/pom.xml")/libs"; }

provision_kafka() {
  local libs
  libs=$(kafka_libs)
  [ -f "$libs/.complete" ] && return 0
  command -v java >/dev/null || die "kafka: Java 17 is needed (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "kafka: Maven is needed to fetch the broker's jars (apt-get install maven)"
  say "kafka: fetching Kafka $KAFKA_VERSION jars from Maven Central (first time only)"
  rm -rf "$libs"
  mvn -q -B -Dstyle.color=never -f "$ROOT/stack/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" >&2 || die "kafka: Maven could not fetch the jars"
  touch "$libs/.complete"
}

# The java command line, shared by the storage tool and the broker.
kafka_java_cmd() {
  local heap=${STACK_KAFKA_HEAP:-384m}
  KAFKA_JAVA=(java "-Xmx$heap" "-Xms$heap" -XX:+UseSerialGC -Djava.awt.headless=true
    "-Dlog4j.configuration=file:$STACK_DIR/kafka/log4j.properties" -cp "$(kafka_libs)/*")
}

# The listener the toxiproxy Kafka proxy forwards to (toxiproxy.sh), advertised at the proxy's own port: a client
# bootstrapped through the proxy is sent back to it for every broker connection, so the chaos tests' faults reach all
# of its traffic. Plain clients keep using PLAINTEXT and never touch the proxy.
KAFKA_PROXIED_LISTENER=PROXIED://127.0.0.1:$KAFKA_PROXIED_PORT
KAFKA_PROXIED_ADVERTISED=PROXIED://127.0.0.1:$TOXIPROXY_KAFKA_PORT
KAFKA_PROXIED_PROTOCOL=PROXIED:PLAINTEXT

write_kafka_config() {
  mkdir -p "$STACK_DIR/kafka" "$STACK_DIR/data/kafka"
  cat > "$STACK_DIR/kafka/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,$KAFKA_PROXIED_LISTENER
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,$KAFKA_PROXIED_ADVERTISED
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,$KAFKA_PROXIED_PROTOCOL
log.dirs=$STACK_DIR/data/kafka
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
num.network.threads=2
num.io.threads=2
PROPS
  cat > "$STACK_DIR/kafka/log4j.properties" <<PROPS
log4j.rootLogger=WARN, stdout
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
PROPS
}

start_kafka() {
  write_kafka_config
  kafka_java_cmd
  if [ ! -f "$STACK_DIR/data/kafka/meta.properties" ]; then
    local id
    id=$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid | tail -n 1)
    say "kafka: formatting storage (cluster id $id)"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -t "$id" -c "$STACK_DIR/kafka/server.properties" >&2 \
      || die "kafka: storage format failed"
  fi
  mkdir -p "$STACK_DIR/log"
  KAFKA_LOG_MARK=1
  [ -f "$(log_file kafka)" ] && KAFKA_LOG_MARK=$(( $(wc -l < "$(log_file kafka)") + 1 ))
  spawn kafka "${KAFKA_JAVA[@]}" kafka.Kafka "$STACK_DIR/kafka/server.properties"
}

# An open port is not a ready broker: wait until this start's log says the server started.
ready_kafka() {
  local i
  for ((i = 0; i < 240; i++)); do
    tail -n "+$KAFKA_LOG_MARK" "$(log_file kafka)" 2>/dev/null | grep -q 'Kafka Server started' && return 0
    sleep 0.25
  done
  say "kafka: port open but the broker did not report started within 60s; see $(log_file kafka)"
  return 1
}
