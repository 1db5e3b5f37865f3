#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft, combined broker and controller) on 127.0.0.1 in the
# background, for integration tests. It fetches the pinned broker jars with Maven on first use,
# formats storage once (a restart keeps the data), waits until the broker answers Admin requests,
# and prints the bootstrap address on stdout. Settings: see env.sh (COVACDC_KAFKA_ACL=1: SASL PLAIN
# and the StandardAuthorizer). Stop it with stop.sh. The jars include Kafka's own tools (console
# consumer, topics): java -cp "$COVACDC_KAFKA_CACHE/libs/*" org.apache.kafka.tools.<Tool> ... .
# `start.sh --fetch-only` only fetches the jars (CI does that first, to fail early).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

fetch() {
	local tools=$KAFKA_LOCAL_LIBS/kafka-tools-$COVACDC_KAFKA_VERSION.jar
	[[ -f $COVACDC_KAFKA_CACHE/.complete && -f $tools ]] && return 0
	command -v mvn >/dev/null || { kafka_local_say "mvn not found: install Maven"; exit 1; }
	# A cache fetched before pom.xml listed kafka-tools is topped up, never emptied: a broker
	# started from it may be running and reading those jars.
	local into=$KAFKA_LOCAL_LIBS
	if [[ -f $COVACDC_KAFKA_CACHE/.complete ]]; then
		into=$COVACDC_KAFKA_CACHE/libs.fetch
		kafka_local_say "fetching Kafka's tools $COVACDC_KAFKA_VERSION with Maven into $KAFKA_LOCAL_LIBS"
	else
		kafka_local_say "fetching Apache Kafka $COVACDC_KAFKA_VERSION with Maven into $KAFKA_LOCAL_LIBS"
		rm -rf "$KAFKA_LOCAL_LIBS"
	fi
	rm -rf "$COVACDC_KAFKA_CACHE/libs.fetch"
	mkdir -p "$into"
	local log=$COVACDC_KAFKA_CACHE/mvn.log
	if ! mvn -B -Dstyle.color=never -f "$KAFKA_LOCAL_HOME/pom.xml" -Dkafka.version="$COVACDC_KAFKA_VERSION" \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$into" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		kafka_local_say "Maven could not fetch Apache Kafka $COVACDC_KAFKA_VERSION (log: $log)"
		exit 1
	fi
	if [[ $into != "$KAFKA_LOCAL_LIBS" ]]; then
		cp -n "$into"/*.jar "$KAFKA_LOCAL_LIBS"/
		rm -rf "$into"
	fi
	touch "$COVACDC_KAFKA_CACHE/.complete"
}

# listeners_plain prints the listener settings of the default broker: PLAINTEXT, no authorizer.
listeners_plain() {
	cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$COVACDC_KAFKA_PORT,CONTROLLER://127.0.0.1:$COVACDC_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$COVACDC_KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
PROPS
}

# jaas_login USER:PASSWORD prints the JAAS line of a PLAIN client logging in as that user.
jaas_login() {
	echo "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"${1%%:*}\" password=\"${1#*:}\";"
}

# listeners_acl prints the listener settings of COVACDC_KAFKA_ACL=1: SASL PLAIN on both listeners
# and the StandardAuthorizer. In combined mode the broker and the controller talk to each other
# as the admin, so the admin is the one super user; every other user has only its ACLs.
listeners_acl() {
	local pair users=""
	for pair in $COVACDC_KAFKA_ACL_ADMIN $COVACDC_KAFKA_ACL_USERS; do
		if [[ $pair != ?*:?* || $pair == *[\"\\\;]* ]]; then
			kafka_local_say "COVACDC_KAFKA_ACL_ADMIN / COVACDC_KAFKA_ACL_USERS: $pair is not user:password (no quotes, backslashes or semicolons)"
			exit 1
		fi
		users+=" user_${pair%%:*}=\"${pair#*:}\""
	done
	local login
	login=$(jaas_login "$COVACDC_KAFKA_ACL_ADMIN")
	login=${login%;}
	cat <<PROPS
listeners=SASL_PLAINTEXT://127.0.0.1:$COVACDC_KAFKA_PORT,CONTROLLER://127.0.0.1:$COVACDC_KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$COVACDC_KAFKA_PORT
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$login$users;
listener.name.controller.plain.sasl.jaas.config=$login$users;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:${COVACDC_KAFKA_ACL_ADMIN%%:*}
allow.everyone.if.no.acl.found=false
PROPS
	cat >"$KAFKA_LOCAL_ADMIN_PROPS" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=$(jaas_login "$COVACDC_KAFKA_ACL_ADMIN")
PROPS
}

configure() {
	mkdir -p "$COVACDC_KAFKA_RUN_DIR/data" "$COVACDC_KAFKA_RUN_DIR/logs"
	local listeners
	if [[ $COVACDC_KAFKA_ACL == 1 ]]; then
		listeners=$(listeners_acl)
	else
		listeners=$(listeners_plain)
		rm -f "$KAFKA_LOCAL_ADMIN_PROPS"
	fi
	cat >"$COVACDC_KAFKA_RUN_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$COVACDC_KAFKA_CONTROLLER_PORT
controller.listener.names=CONTROLLER
$listeners
log.dirs=$COVACDC_KAFKA_RUN_DIR/data
# One node: every internal topic has one replica, so transactions and groups work.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
num.partitions=3
auto.create.topics.enable=$COVACDC_KAFKA_AUTO_CREATE
group.initial.rebalance.delay.ms=0
# Fault tests restart the broker, also with SIGKILL: a short session lets the restarted node
# re-register soon instead of waiting out its predecessor's session (default 9s).
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
# The state topic is compacted: keep the cleaner on.
log.cleaner.enable=true
PROPS
	cat >"$COVACDC_KAFKA_RUN_DIR/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $KAFKA_LOCAL_LOG
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
PROPS
}

java_run() { # java_run MAIN ARGS...: the broker's classpath and logging
	java -Xms256m -Xmx"$COVACDC_KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$COVACDC_KAFKA_RUN_DIR/log4j2.properties" \
		-cp "$KAFKA_LOCAL_LIBS/*" "$@"
}

format() {
	[[ -f $COVACDC_KAFKA_RUN_DIR/data/meta.properties ]] && return 0
	local id
	id=$(java_run kafka.tools.StorageTool random-uuid)
	kafka_local_say "formatting KRaft storage in $COVACDC_KAFKA_RUN_DIR/data (cluster $id)"
	java_run kafka.tools.StorageTool format -t "$id" -c "$COVACDC_KAFKA_RUN_DIR/server.properties" >&2
}

wait_ready() {
	local pid=$1
	# A Java source-file program on the broker's own classpath: Admin.describeCluster, retried
	# until the broker answers or the deadline passes (one JVM, not one per try).
	local props=()
	[[ $COVACDC_KAFKA_ACL == 1 ]] && props=("$KAFKA_LOCAL_ADMIN_PROPS")
	if java -cp "$KAFKA_LOCAL_LIBS/*" "$KAFKA_LOCAL_HOME/Probe.java" \
		"$KAFKA_LOCAL_BOOTSTRAP" "$COVACDC_KAFKA_START_TIMEOUT" "$pid" "${props[@]}" >&2; then
		return 0
	fi
	kafka_local_say "broker at $KAFKA_LOCAL_BOOTSTRAP did not become ready within ${COVACDC_KAFKA_START_TIMEOUT}s"
	kafka_local_tail 60
	kill "$pid" 2>/dev/null || true
	exit 1
}

main() {
	if [[ ${1:-} == --fetch-only ]]; then
		fetch
		kafka_local_say "Apache Kafka $COVACDC_KAFKA_VERSION: $(ls "$KAFKA_LOCAL_LIBS" | wc -l) jars in $KAFKA_LOCAL_LIBS"
		return 0
	fi
	if kafka_local_running; then
		kafka_local_say "already running (pid $(cat "$KAFKA_LOCAL_PID"))"
		echo "$KAFKA_LOCAL_BOOTSTRAP"
		return 0
	fi
	command -v java >/dev/null || { kafka_local_say "java not found: install a JDK 17 or newer"; exit 1; }
	local started=$SECONDS
	fetch
	configure
	format
	# The broker stays in the background after this script exits; stop.sh ends it.
	nohup java -Xms256m -Xmx"$COVACDC_KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$COVACDC_KAFKA_RUN_DIR/log4j2.properties" \
		-Dkafka.logs.dir="$COVACDC_KAFKA_RUN_DIR/logs" \
		-cp "$KAFKA_LOCAL_LIBS/*" kafka.Kafka "$COVACDC_KAFKA_RUN_DIR/server.properties" \
		>"$KAFKA_LOCAL_OUT" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$KAFKA_LOCAL_PID"
	wait_ready "$pid"
	echo "$KAFKA_LOCAL_BOOTSTRAP" >"$COVACDC_KAFKA_RUN_DIR/bootstrap"
	local auth=""
	[[ $COVACDC_KAFKA_ACL == 1 ]] && auth=", SASL PLAIN with ACLs, super user ${COVACDC_KAFKA_ACL_ADMIN%%:*}"
	kafka_local_say "Apache Kafka $COVACDC_KAFKA_VERSION ready at $KAFKA_LOCAL_BOOTSTRAP (pid $pid, $((SECONDS - started))s; run dir $COVACDC_KAFKA_RUN_DIR$auth)"
	echo "$KAFKA_LOCAL_BOOTSTRAP"
}

main "$@"
