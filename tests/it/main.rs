//! Integration tests: one binary, one module per area. Every test starts the app on port 0
//! with its own temporary database.

mod helpers;

mod alertmanager_e2e;
mod api;
mod auth;
mod dashboard;
mod deploy;
mod drill;
mod durability;
mod generate;
mod hardening;
mod healing;
mod jobs;
mod layout;
mod notify;
mod oncall;
mod ops;
mod postmortems;
mod replicas;
mod reports;
mod runbooks;
mod slo;
mod ui;
mod webhook;
