// Package deploy holds the deployment files of shepherd, not code: the
// Grafana dashboard (grafana/shepherd.json) and its provisioning, the
// Prometheus configuration (prometheus.yml) and the compose file
// (compose.yaml). Its tests check the dashboard's structure and run every
// PromQL expression of it against a real Prometheus scraping a server and a
// worker during a simulator-backed job.
package deploy
