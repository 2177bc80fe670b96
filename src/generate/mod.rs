//! Artefacts for a Prometheus stack: rules, Alertmanager config, Grafana dashboard.
