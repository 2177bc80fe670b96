//! Service level objectives: definitions (native, Sloth, OpenSLO), measurement on the
//! built-in scraper or through a Prometheus-compatible API, burn-rate mathematics, the
//! history store, and the [`Slos`] service that evaluates them and opens burn-rate
//! incidents.

mod backfill;
mod burn;
mod charts;
pub mod definitions;
pub mod engine;
mod measure;
pub mod native;
pub mod openslo;
mod prometheus;
mod service;
pub mod sloth;
pub mod spec;
pub mod store;
pub mod window;

pub use charts::{Axis, ChartData, ChartRange};
pub use definitions::{load_spec_file, load_spec_text};
pub use measure::{Measured, histogram_quantile};
pub use service::{Gate, History, SloError, SloImpact, SloOptions, Slos, SlosSetup};
pub use window::{Percentiles, SloStatus, WindowValue};
