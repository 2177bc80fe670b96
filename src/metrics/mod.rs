//! Metrics sources for SLO evaluation. The built-in scraper reads /metrics endpoints
//! itself, so a team without Prometheus still gets live SLOs.

pub mod prometheus;
pub mod scrape;
