// Package deploy holds covacdc's deployment artifacts and their checks: the Grafana
// dashboard (grafana/), the Prometheus alert rules and their promtool unit tests
// (prometheus/), the docker compose stack (docker-compose.yml and compose/) and the
// Kubernetes manifests (kubernetes/).
//
// Its tests parse every artifact and check that it is well-formed and that whatever
// it references exists. Its only Go API, MetricNames, lists the metrics the dashboard
// and the alert rules query, so that the command's tests can compare them with the
// metrics the binary really registers. It does not run anything and holds no
// deployment logic.
package deploy
