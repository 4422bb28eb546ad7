//! Diagnostics as keepalived reports them (`lib/parser.c: vreport_config_error`).

use std::fmt;

/// keepalived's `config_err_t` (`lib/parser.h`), in its order: with `-t` the exit
/// code is derived from the numerically largest one reported (`config_test_exit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigErr {
    Ok,
    FileNotFound,
    BadIf,
    Fatal,
    MultipleFiles,
    UnknownKeyword,
    UnexpectedBob,
    MissingBob,
    UnexpectedEob,
    MissingEob,
    UnmatchedQuote,
    MissingParameter,
    InvalidNumber,
    GeneralError,
    Warning,
    Deprecated,
    SecurityError,
}

/// The keepalived process that reports a message: the parent reads `global_defs`,
/// the VRRP child `vrrp_*`, the checker child `virtual_server*` (reference §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Process {
    Parent,
    Checker,
    Vrrp,
}

impl Process {
    /// The syslog ident keepalived uses (`Keepalived`, `Keepalived_healthcheckers`, `Keepalived_vrrp`).
    pub fn ident(self) -> &'static str {
        match self {
            Process::Parent => "Keepalived",
            Process::Checker => "Keepalived_healthcheckers",
            Process::Vrrp => "Keepalived_vrrp",
        }
    }
}

/// How a message is emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `report_config_error`: prefixed with the location, printed on stderr by `-t`,
    /// and counted towards the `-t` exit code.
    Config(ConfigErr),
    /// `log_message`: syslog only, no location, not printed by `-t`.
    Log,
    /// Not a keepalived message: something the simulator cannot model.
    Lab,
}

/// Where a message was reported: keepalived names the file only when more than one
/// file is in play (`(file: Line N)`), otherwise `(Line N)`; messages reported after
/// the whole file was read have no location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Option<String>,
    pub line: usize,
}

/// One message, with keepalived's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub process: Process,
    pub channel: Channel,
    pub location: Option<Location>,
    pub message: String,
}

impl Diagnostic {
    /// The line as keepalived prints it, e.g. `(Line 12) Unknown keyword 'nat_mask'`.
    pub fn text(&self) -> String {
        match (&self.channel, &self.location) {
            (Channel::Config(_), Some(Location { file: Some(f), line })) => {
                format!("({f}: Line {line}) {}", self.message)
            }
            (Channel::Config(_), Some(Location { file: None, line })) if *line > 0 => {
                format!("(Line {line}) {}", self.message)
            }
            _ => self.message.clone(),
        }
    }

    /// The config error class, if this is a `report_config_error` message.
    pub fn config_err(&self) -> Option<ConfigErr> {
        match self.channel {
            Channel::Config(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// A configuration keepalived refuses to run: the process exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatalError {
    /// keepalived's exit status (`KEEPALIVED_EXIT_*`, see [`super::check_config`]).
    pub exit_code: i32,
    /// The message that caused it (already in [`FatalError::diagnostics`] too).
    pub diagnostic: Diagnostic,
    /// Everything reported up to and including the fatal message.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for FatalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit {})", self.diagnostic, self.exit_code)
    }
}

impl std::error::Error for FatalError {}
