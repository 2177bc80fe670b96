//! Metrics: reading them, never storing them. The built-in scraper reads /metrics
//! endpoints itself (so a team without Prometheus still gets live SLOs), the Prometheus
//! text-format parser and PromQL series selectors serve it, and the query client asks a
//! Prometheus-compatible engine.

pub mod expfmt;
pub mod prometheus;
pub mod scrape;
pub mod selector;
