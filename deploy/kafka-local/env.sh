# Settings shared by start.sh, stop.sh and restart.sh; sourced, not run.
# Every setting is an environment variable with a default:
#   COVACDC_KAFKA_VERSION          Apache Kafka version fetched from Maven Central. Default 4.4.0.
#   COVACDC_KAFKA_PORT             client (PLAINTEXT) port on 127.0.0.1. Default 19092.
#   COVACDC_KAFKA_CONTROLLER_PORT  KRaft controller port on 127.0.0.1. Default COVACDC_KAFKA_PORT+1.
#   COVACDC_KAFKA_CACHE            where the jars are kept. Default ~/.cache/covacdc/kafka-<version>.
#   COVACDC_KAFKA_RUN_DIR          data, config, log and pid of one broker. Default
#                                  ${TMPDIR:-/tmp}/covacdc-kafka-<port>.
#   COVACDC_KAFKA_HEAP             JVM heap. Default 1g.
#   COVACDC_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer. Default 120.
#   COVACDC_KAFKA_AUTO_CREATE      auto.create.topics.enable. Default false, as in kfake, so
#                                  a missing topic is an error in tests rather than silently made.
#   COVACDC_KAFKA_ACL              1: clients authenticate with SASL PLAIN (SASL_PLAINTEXT, also on
#                                  the controller listener) and the StandardAuthorizer enforces ACLs.
#                                  Default 0: PLAINTEXT, no authorizer.
#   COVACDC_KAFKA_ACL_ADMIN        with COVACDC_KAFKA_ACL=1, the super user as user:password; the
#                                  broker and the controller authenticate as it too. Default
#                                  admin:admin-secret.
#   COVACDC_KAFKA_ACL_USERS        with COVACDC_KAFKA_ACL=1, space-separated user:password pairs of
#                                  ordinary principals, who get only the ACLs granted to them.
#                                  Default covacdc:covacdc-secret.
KAFKA_LOCAL_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COVACDC_KAFKA_VERSION=${COVACDC_KAFKA_VERSION:-4.4.0}
COVACDC_KAFKA_PORT=${COVACDC_KAFKA_PORT:-19092}
COVACDC_KAFKA_CONTROLLER_PORT=${COVACDC_KAFKA_CONTROLLER_PORT:-$((COVACDC_KAFKA_PORT + 1))}
COVACDC_KAFKA_CACHE=${COVACDC_KAFKA_CACHE:-${HOME:-/root}/.cache/covacdc/kafka-$COVACDC_KAFKA_VERSION}
COVACDC_KAFKA_RUN_DIR=${COVACDC_KAFKA_RUN_DIR:-${TMPDIR:-/tmp}/covacdc-kafka-$COVACDC_KAFKA_PORT}
COVACDC_KAFKA_HEAP=${COVACDC_KAFKA_HEAP:-1g}
COVACDC_KAFKA_START_TIMEOUT=${COVACDC_KAFKA_START_TIMEOUT:-120}
COVACDC_KAFKA_AUTO_CREATE=${COVACDC_KAFKA_AUTO_CREATE:-false}
COVACDC_KAFKA_ACL=${COVACDC_KAFKA_ACL:-0}
COVACDC_KAFKA_ACL_ADMIN=${COVACDC_KAFKA_ACL_ADMIN:-admin:admin-secret}
COVACDC_KAFKA_ACL_USERS=${COVACDC_KAFKA_ACL_USERS:-covacdc:covacdc-secret}

KAFKA_LOCAL_LIBS=$COVACDC_KAFKA_CACHE/libs
KAFKA_LOCAL_PID=$COVACDC_KAFKA_RUN_DIR/kafka.pid
KAFKA_LOCAL_LOG=$COVACDC_KAFKA_RUN_DIR/logs/server.log
KAFKA_LOCAL_OUT=$COVACDC_KAFKA_RUN_DIR/logs/stdout.log
KAFKA_LOCAL_BOOTSTRAP=127.0.0.1:$COVACDC_KAFKA_PORT
# Client settings of the super user (COVACDC_KAFKA_ACL=1 only), for the readiness probe and for
# Kafka's own tools (--command-config).
KAFKA_LOCAL_ADMIN_PROPS=$COVACDC_KAFKA_RUN_DIR/admin.properties

kafka_local_say() { echo "kafka-local: $*" >&2; }

# kafka_local_running succeeds when the pid file names a live process.
kafka_local_running() {
	[[ -f $KAFKA_LOCAL_PID ]] && kill -0 "$(cat "$KAFKA_LOCAL_PID")" 2>/dev/null
}

# kafka_local_tail prints the end of the broker's logs, for failure messages.
kafka_local_tail() {
	local f
	for f in "$KAFKA_LOCAL_OUT" "$KAFKA_LOCAL_LOG"; do
		[[ -s $f ]] || continue
		echo "----- last lines of $f -----" >&2
		tail -n "${1:-40}" "$f" >&2
	done
}
