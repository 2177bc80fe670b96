//! Service level objectives: definitions (native, Sloth, OpenSLO).

pub mod spec;
