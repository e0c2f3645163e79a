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
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,$KAFKA_PROXIED_LISTENER$(kafka_security_listeners)
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,$KAFKA_PROXIED_ADVERTISED$(kafka_security_listeners)
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,$KAFKA_PROXIED_PROTOCOL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
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
$(kafka_security_properties)
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
  ensure_kafka_security
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
    tail -n "+$KAFKA_LOG_MARK" "$(log_file kafka)" 2>/dev/null | grep -q 'Kafka Server started' && { ensure_kafka_scram_users; return; }
    sleep 0.25
  done
  say "kafka: port open but the broker did not report started within 60s; see $(log_file kafka)"
  return 1
}

# ---- TLS and SASL listeners ---------------------------------------------------------------------------------------
# What managed Kafka services ask of a client, on the same broker: a TLS listener requiring a client certificate
# (mutual TLS) and a SASL_PLAINTEXT listener taking SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN. The CA, the broker's and
# a client's certificate (openssl) and the SASL user's password are generated once into $STACK_DIR/kafka/security;
# the SCRAM credentials live in the cluster's metadata, added through the plaintext listener once the broker is up
# (so a data folder formatted before these listeners existed gets them too).

KAFKA_SSL_PORT=${STACK_KAFKA_SSL_PORT:-9094}
KAFKA_SASL_PORT=${STACK_KAFKA_SASL_PORT:-9095}
KAFKA_SASL_USER=postboard
kafka_security_dir() { echo "$STACK_DIR/kafka/security"; }

kafka_security_listeners() { echo ",SSL://127.0.0.1:$KAFKA_SSL_PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT"; }

kafka_security_properties() {
  local d
  d=$(kafka_security_dir)
  cat <<PROPS
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$d/broker.pem
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$d/ca.pem
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$(cat "$d/sasl-password")";
PROPS
}

# A certificate signed by the stack's CA: <name>.key (PKCS#8, unencrypted) and <name>.crt, for 127.0.0.1/localhost.
kafka_sign_cert() {
  local d=$1 name=$2 cn=$3
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > "$d/$name.ext"
  openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 3650 -sha256 \
    -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
  rm -f "$d/$name.csr" "$d/$name.ext"
}

ensure_kafka_security() {
  local d
  d=$(kafka_security_dir)
  [ -f "$d/.complete" ] && return 0
  command -v openssl >/dev/null || die "kafka: openssl is needed for the TLS listener's certificates (apt-get install openssl)"
  say "kafka: generating the TLS certificates and the SASL password in $d"
  rm -rf "$d"
  mkdir -p "$d"
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 -subj "/CN=postboard local stack CA" \
      -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    kafka_sign_cert "$d" broker localhost
    kafka_sign_cert "$d" client "$KAFKA_SASL_USER"
    cat "$d/broker.key" "$d/broker.crt" > "$d/broker.pem" # Kafka's PEM keystore: the key, then its certificate
    head -c 24 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_' > "$d/sasl-password"
  ) || die "kafka: openssl could not generate the certificates"
  touch "$d/.complete"
}

# The SCRAM credentials of the SASL user, both mechanisms, once per data folder and password.
ensure_kafka_scram_users() {
  local d marker stamp mechanism
  d=$(kafka_security_dir)
  marker="$STACK_DIR/data/kafka/.scram-users"
  stamp=$(stamp_of "$d/sasl-password")
  [ "$(cat "$marker" 2>/dev/null)" = "$stamp" ] && return 0
  kafka_java_cmd
  # One mechanism per call: the broker refuses two changes to one user's credentials in a request. Output goes to
  # the log, which is where the tool echoes its arguments (the password) on failure.
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    "${KAFKA_JAVA[@]}" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter \
      --add-config "$mechanism=[password=$(cat "$d/sasl-password")]" --entity-type users --entity-name "$KAFKA_SASL_USER" \
      >>"$(log_file kafka)" 2>&1 || { say "kafka: could not add the $mechanism user; see $(log_file kafka)"; return 1; }
  done
  echo "$stamp" > "$marker"
  say "kafka: SCRAM user '$KAFKA_SASL_USER' added"
}

# A broker started before these listeners (or the chaos proxy's) existed is restarted once to open them.
deps_up_kafka() {
  [ -n "$(service_pid kafka)" ] || return 0 # not running: start_kafka and ready_kafka do the rest
  if ! port_open "$KAFKA_SSL_PORT" || ! port_open "$KAFKA_SASL_PORT" || ! port_open "$KAFKA_PROXIED_PORT"; then
    say "kafka: restarting to open the TLS, SASL and proxied listeners"
    stop_service kafka
    start_kafka
    wait_port kafka "$KAFKA_PORT" 90 || return 1
    ready_kafka
    return
  fi
  ensure_kafka_scram_users
}
