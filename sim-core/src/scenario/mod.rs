//! Scenarios: the TOML format ([`model`]), loading with located errors
//! ([`load`]), running in the simulator ([`run`]) and expectations ([`expect`]).

pub mod bench;
pub mod expect;
pub mod lint;
pub mod load;
pub mod model;
pub mod run;

pub use load::{LoadError, Scenario, builtins, load, load_str};
pub use run::{RunOptions, RunResult, run};
