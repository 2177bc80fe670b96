//! Firewatch: incidents, SLOs and escalation for small SRE teams, in one binary.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod app;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod db;
pub mod deployments;
pub mod drill;
pub mod duration;
pub mod generate;
pub mod healing;
pub mod incidents;
pub mod jobs;
pub mod markdown;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod oncall;
pub mod pdf;
pub mod postmortems;
pub mod reports;
pub mod runbooks;
pub mod scheduler;
pub mod severity;
pub mod slo;
pub mod state;
pub mod status;
pub mod svg_charts;
pub mod telemetry;
pub mod time;
pub mod web;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
