// Package monitoring tests deploy/monitoring, chatops' monitoring of
// itself: the PrometheusRule's alerts through promtool (check rules, and
// the unit tests in deploy/monitoring/tests), their runbooks in the README,
// the kustomization and the Grafana dashboard, and that every chatops
// metric the rules and the dashboard read is on the running binary's
// /metrics. It holds no code; its tests are the package.
package monitoring
