//! SLO definitions shared by generation and evaluation.
