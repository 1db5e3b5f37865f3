#!/usr/bin/env bash
# Restarts the broker keeping its data, for fault tests: stop.sh, then COVACDC_KAFKA_DOWN_FOR
# seconds with no broker (default 0, may be fractional), then start.sh. Same settings as
# start.sh (see env.sh); prints the bootstrap address when the broker answers again.
# COVACDC_KAFKA_KILL=1 kills the broker with SIGKILL instead of a clean shutdown.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/env.sh"
if [[ ${COVACDC_KAFKA_KILL:-0} == 1 ]] && kafka_local_running; then
	pid=$(cat "$KAFKA_LOCAL_PID")
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	kafka_local_say "killed (pid $pid)"
fi
COVACDC_KAFKA_WIPE=0 bash "$here/stop.sh"
sleep "${COVACDC_KAFKA_DOWN_FOR:-0}"
exec bash "$here/start.sh"
