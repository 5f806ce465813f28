//! The one error type of the core. Every variant names what was wrong and, where there is a
//! closed set of valid values, lists them; the binding maps each variant to one Python class
//! of `accelsim.errors`.

use std::fmt;

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A configuration field is missing, out of range or not one of the valid choices.
    Config { field: String, message: String },
    /// A workload (layer shape, operand array) is malformed.
    Workload { field: String, message: String },
    /// The simulation failed an internal consistency check (a hazard in the register-level
    /// engine, a run that did not finish). This is a bug in accelsim, never a user error.
    Simulation(String),
    /// The caller's cancel hook asked the simulation to stop (Ctrl-C in Python).
    Cancelled,
}

impl Error {
    pub fn config(field: &str, message: impl Into<String>) -> Self {
        Error::Config {
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub fn workload(field: &str, message: impl Into<String>) -> Self {
        Error::Workload {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { field, message } => {
                write!(f, "invalid config field '{field}': {message}")
            }
            Error::Workload { field, message } => {
                write!(f, "invalid workload field '{field}': {message}")
            }
            Error::Simulation(message) => write!(f, "simulation failed: {message}"),
            Error::Cancelled => f.write_str("simulation cancelled"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
