#!/usr/bin/env bash
# Stops the broker that start.sh started (same settings; see env.sh) and waits until it has
# exited: SIGTERM for a clean shutdown, SIGKILL after COVACDC_KAFKA_STOP_TIMEOUT seconds
# (default 30). Data stays in the run directory; COVACDC_KAFKA_WIPE=1 removes it too.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
timeout=${COVACDC_KAFKA_STOP_TIMEOUT:-30}

if kafka_local_running; then
	pid=$(cat "$KAFKA_LOCAL_PID")
	kill -TERM "$pid"
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kafka_local_say "pid $pid still running after ${timeout}s: killing it"
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	kafka_local_say "stopped (pid $pid)"
else
	kafka_local_say "not running ($COVACDC_KAFKA_RUN_DIR)"
fi
rm -f "$KAFKA_LOCAL_PID" "$COVACDC_KAFKA_RUN_DIR/bootstrap"
if [[ ${COVACDC_KAFKA_WIPE:-0} == 1 ]]; then
	rm -rf "$COVACDC_KAFKA_RUN_DIR"
	kafka_local_say "removed $COVACDC_KAFKA_RUN_DIR"
fi
