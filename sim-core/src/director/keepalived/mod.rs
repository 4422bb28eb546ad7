//! keepalived's configuration parser, faithful to how keepalived reads files
//! (reference `keepalived-vrrp.md` §1, §2.1, §4.1, §4.5).
//!
//! keepalived parses the file three times: the parent reads `global_defs` (other
//! blocks are skipped by brace counting), the checker child reads `virtual_server*`,
//! the VRRP child reads `vrrp_*` (§1.1). [`parse`] does the same three passes, so a
//! broken block recovers exactly as in the process that owns it, and every
//! [`Diagnostic`] says which process reported it. The children read the parent's
//! copy of the configuration, so their messages always name the file.
//!
//! Not modelled (documented deviations): `~SEQ`/`~LST`, `${_RANDOM}`, glob braces,
//! the contents of `track_group`, `static_*`, `garp_group`, `linkbeat_interfaces`,
//! `vrrp_track_process`, `interface_up_down_delays`, `track_file`, `bfd_instance` and
//! `SSL` blocks (skipped silently), IPv6 addresses, and the script-security checks
//! that depend on the host's users and files.

mod check;
mod diag;
mod global;
mod model;
mod parser;
mod reader;
mod source;
mod vrrp;

#[cfg(test)]
mod tests;

pub use diag::{Channel, ConfigErr, Diagnostic, FatalError, Location, Process};
pub use model::*;
pub use source::{FileKind, FileSource, MemFiles, RealFs};

use parser::{EXIT_CONFIG, Exit, Parser};
use reader::Reader;

/// `KEEPALIVED_EXIT_OK`.
pub const EXIT_OK: i32 = 0;
/// `KEEPALIVED_EXIT_CONFIG`: the configuration cannot be run (missing parameter,
/// missing VRID, unknown interface, ...); also `-t` for file-not-found/bad-interface/fatal.
pub const EXIT_CONFIG_ERROR: i32 = EXIT_CONFIG;
/// `KEEPALIVED_EXIT_CONFIG_TEST`: `-t` found other configuration errors.
pub const EXIT_CONFIG_TEST: i32 = 5;
/// `KEEPALIVED_EXIT_CONFIG_TEST_SECURITY`: `-t` found a script-security error.
pub const EXIT_CONFIG_TEST_SECURITY: i32 = 6;
/// `KEEPALIVED_EXIT_NO_CONFIG`: an `include` whose type makes a missing file an error.
pub const EXIT_NO_CONFIG: i32 = 7;

/// What the parser needs to know about the machine keepalived runs on.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// The machine's interfaces; `None` means "every named interface exists".
    pub interfaces: Option<Vec<String>>,
    /// `-i ID` / `--config-id` for `@ID` lines (keepalived defaults it to the host name).
    pub config_id: Option<String>,
    /// `-t`: numbers with trailing garbage are rejected instead of accepted with a
    /// `WARNING - ` prefix (`read_unsigned_func`), and unused scripts are not reported.
    pub config_test: bool,
}

/// A parsed configuration and everything keepalived logged while reading it.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub config: KeepalivedConfig,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// The diagnostics as keepalived prints them, in order.
    pub fn messages(&self) -> Vec<String> {
        self.diagnostics.iter().map(Diagnostic::text).collect()
    }
}

struct Run {
    config: KeepalivedConfig,
    diags: Vec<Diagnostic>,
    exit: Option<i32>,
}

fn fatal_error(exit_code: i32, diags: Vec<Diagnostic>) -> FatalError {
    let diagnostic = diags.last().cloned().unwrap_or(Diagnostic {
        process: Process::Parent,
        channel: Channel::Config(ConfigErr::Fatal),
        location: None,
        message: "configuration refused".to_string(),
    });
    FatalError { exit_code, diagnostic, diagnostics: diags }
}

/// `check_conf_file`: the top-level path must match exactly one readable file.
fn check_conf_file(src: &dyn FileSource, path: &str, diags: &mut Vec<Diagnostic>) -> bool {
    let mut r = Reader::new(src, Process::Parent, None);
    let g = source::glob(src, "", path);
    let mut ok = true;
    if g.paths.is_empty() {
        if g.missing_files > 0 || g.missing_directories > 0 {
            r.report(ConfigErr::Ok, format!("Config files missing '{path}'."));
        }
        diags.append(&mut r.diags);
        return false;
    }
    let mut matches = 0;
    for p in &g.paths {
        if p.ends_with('/') {
            r.report(ConfigErr::Ok, format!("Configuration file '{p}' is a directory - skipping"));
            ok = false;
            continue;
        }
        if !matches!(src.kind(p), Some(FileKind::File { executable: false })) {
            r.report(
                ConfigErr::Ok,
                format!("Configuration file '{p}' is not a regular non-executable file - skipping"),
            );
            ok = false;
            continue;
        }
        if src.read(p).is_err() {
            r.report(ConfigErr::FileNotFound, format!("Unable to read configuration file {p}"));
            ok = false;
            break;
        }
        matches += 1;
    }
    if ok {
        if matches > 1 {
            r.report(
                ConfigErr::MultipleFiles,
                format!("WARNING, multiple configuration file matches of {path}, starting with {}", g.paths[0]),
            );
        } else if matches == 0 {
            r.report(ConfigErr::FileNotFound, format!("Unable to find configuration file {path}"));
            ok = false;
        }
    }
    diags.append(&mut r.diags);
    ok
}

/// One pass: returns the parser (for its model pieces) or the exit it caused.
fn pass<'a>(
    src: &'a dyn FileSource,
    path: &str,
    process: Process,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Parser<'a>, i32> {
    let mut r = Reader::new(src, process, opts.config_id.clone());
    if !r.open_main(path) && process == Process::Parent {
        r.report(ConfigErr::Ok, "Failed to open configuration file");
    }
    let mut p = Parser::new(r, opts.config_test, opts.interfaces.clone());
    let res = p.run();
    if let Some(reader::ReadStop::TooLarge) = p.r.stop {
        p.r.lab("configuration expands to too many lines (include loop?) - stopping");
        diags.append(&mut p.r.diags);
        return Err(EXIT_CONFIG);
    }
    match res {
        Err(Exit(code)) => {
            diags.append(&mut p.r.diags);
            Err(code)
        }
        Ok(()) => Ok(p),
    }
}

fn run(src: &dyn FileSource, path: &str, opts: &ParseOptions) -> Run {
    let mut diags = Vec::new();
    let mut config = KeepalivedConfig::default();
    if !check_conf_file(src, path, &mut diags) {
        return Run { config, diags, exit: (!opts.config_test).then_some(EXIT_NO_CONFIG) };
    }
    let mut parent = match pass(src, path, Process::Parent, opts, &mut diags) {
        Ok(p) => p,
        Err(code) => return Run { config, diags, exit: Some(code) },
    };
    diags.append(&mut parent.r.diags);
    if parent.r.file_error {
        return Run { config, diags, exit: Some(EXIT_NO_CONFIG) };
    }
    config.global = parent.global.data.clone();

    let mut exit = None;
    let mut checker = match pass(src, path, Process::Checker, opts, &mut diags) {
        Ok(p) => p,
        Err(code) => return Run { config, diags, exit: Some(code) },
    };
    let (groups, vss) = check::complete(&mut checker);
    diags.append(&mut checker.r.diags);
    config.vs_groups = groups;
    config.virtual_servers = vss;

    let mut vrrp = match pass(src, path, Process::Vrrp, opts, &mut diags) {
        Ok(p) => p,
        Err(code) => return Run { config, diags, exit: Some(code) },
    };
    vrrp.global.data = config.global.clone();
    match vrrp::complete(&mut vrrp) {
        Ok((groups, instances)) => {
            config.sync_groups = groups;
            config.instances = instances;
            config.global.lvs_sync_daemon = vrrp.global.data.lvs_sync_daemon.clone();
        }
        // Under -t keepalived carries on (`stop_vrrp` returns); otherwise the VRRP child
        // exits and the parent terminates ("exited with permanent error CONFIG").
        Err(Exit(code)) if !opts.config_test => exit = Some(code),
        Err(_) => {}
    }
    config.vrrp_scripts = std::mem::take(&mut vrrp.vrrp.scripts);
    diags.append(&mut vrrp.r.diags);
    Run { config, diags, exit }
}

/// Parses `path` from `src` the way keepalived does. Returns the model and every
/// message, or the [`FatalError`] that makes keepalived exit.
pub fn parse(src: &dyn FileSource, path: &str, opts: &ParseOptions) -> Result<Parsed, FatalError> {
    let r = run(src, path, opts);
    match r.exit {
        Some(code) => Err(fatal_error(code, r.diags)),
        None => Ok(Parsed { config: r.config, diagnostics: r.diags }),
    }
}

/// Parses one configuration text, named `keepalived.conf`, with default options.
pub fn parse_str(text: &str) -> Result<Parsed, FatalError> {
    let files = MemFiles::new().with("keepalived.conf", text);
    parse(&files, "keepalived.conf", &ParseOptions::default())
}

/// `keepalived -t -f PATH` on the real filesystem; see [`check_config_with`].
pub fn check_config(path: &str) -> (i32, Vec<String>) {
    check_config_with(&RealFs, path, &ParseOptions::default())
}

/// `keepalived -t` / `--config-test` (`keepalived/core/main.c: config_test_exit`):
/// returns the exit status and the lines keepalived prints on stderr (every
/// `report_config_error`, from the parent, then the checker, then the VRRP pass).
///
/// Exit status (keepalived 2.2+ `enum exit_code`, `lib/scheduler.h`):
/// - `0` (`KEEPALIVED_EXIT_OK`): nothing reported above `CONFIG_OK` — including, as in
///   keepalived, a top-level file that does not exist (`Config files missing '...'`).
/// - `4` (`KEEPALIVED_EXIT_CONFIG`): a missing parameter (the process exits at once),
///   or the worst report was file-not-found, bad interface or fatal.
/// - `5` (`KEEPALIVED_EXIT_CONFIG_TEST`): any other configuration error or warning
///   (unknown keyword, bad number, missing brace, ...).
/// - `6` (`KEEPALIVED_EXIT_CONFIG_TEST_SECURITY`): a script-security error.
/// - `7` (`KEEPALIVED_EXIT_NO_CONFIG`): an `includer`/`includem`/... file error.
///
/// keepalived keeps the *numerically largest* `config_err_t` seen, so a warning
/// reported after a file-not-found turns 4 into 5, as it does in keepalived.
pub fn check_config_with(src: &dyn FileSource, path: &str, opts: &ParseOptions) -> (i32, Vec<String>) {
    let opts = ParseOptions { config_test: true, ..opts.clone() };
    let r = run(src, path, &opts);
    let lines = r.diags.iter().filter(|d| matches!(d.channel, Channel::Config(_))).map(Diagnostic::text).collect();
    if let Some(code) = r.exit {
        return (code, lines);
    }
    let worst = r.diags.iter().filter_map(Diagnostic::config_err).max().unwrap_or(ConfigErr::Ok);
    let code = match worst {
        ConfigErr::Ok => EXIT_OK,
        ConfigErr::FileNotFound | ConfigErr::BadIf | ConfigErr::Fatal => EXIT_CONFIG_ERROR,
        ConfigErr::SecurityError => EXIT_CONFIG_TEST_SECURITY,
        _ => EXIT_CONFIG_TEST,
    };
    (code, lines)
}
