//! Scenario files, expectations, runs and outcome reports.
