//! `lvs-lab check`: scenarios and their expectations, one line each, a closing
//! `N passed, N failed`, JUnit XML for CI systems, and `--shard k/n`.

use crate::Fail;
use clap::Args;
use sim_core::scenario::{self, RunOptions};
use std::fmt::Write;

#[derive(Args)]
pub struct CheckArgs {
    /// Built-in names or .toml paths (default: every built-in).
    names: Vec<String>,
    /// Run only the k-th of n slices of the list (1-based), e.g. `--shard 2/4`.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Write JUnit XML.
    #[arg(long, value_name = "FILE")]
    junit: Option<String>,
    /// Seed for every scenario (default: each scenario's own).
    #[arg(long)]
    seed: Option<u64>,
}

/// Parses `k/n` (1 ≤ k ≤ n).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or_else(|| format!("--shard `{s}`: expected K/N, e.g. 1/4"))?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| format!("--shard `{s}`: K is not a number"))?,
        n.trim().parse().map_err(|_| format!("--shard `{s}`: N is not a number"))?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(format!("--shard `{s}`: need 1 <= K <= N"));
    }
    Ok((k, n))
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn check(a: CheckArgs) -> Result<u8, Fail> {
    let mut names =
        if a.names.is_empty() { scenario::builtins().into_iter().map(|b| b.0).collect() } else { a.names.clone() };
    if let Some(s) = &a.shard {
        let (k, n) = parse_shard(s).map_err(Fail::input)?;
        names = names.into_iter().enumerate().filter(|(i, _)| i % n == k - 1).map(|(_, x)| x).collect();
    }
    let (mut passed, mut failed) = (0, 0);
    let mut cases = String::new();
    for name in &names {
        let started = std::time::Instant::now();
        let (ok, detail) = match scenario::load(name) {
            Err(e) => (false, format!("{e}")),
            Ok(sc) => {
                let opts = RunOptions { seed: a.seed, trace: true, capture: false, check: true, ..Default::default() };
                match scenario::run(&sc, &opts) {
                    Err(e) => (false, e),
                    Ok(r) => {
                        let summary = crate::run::summary(&sc.name, &r);
                        (r.passed(), summary)
                    }
                }
            }
        };
        let secs = started.elapsed().as_secs_f64();
        if ok {
            passed += 1;
            outln!("ok   {name}");
            let _ = writeln!(cases, "  <testcase classname=\"lvs-lab\" name=\"{}\" time=\"{secs:.3}\"/>", xml(name));
        } else {
            failed += 1;
            outln!("FAIL {name}");
            for l in detail.lines().filter(|l| !l.trim().is_empty()) {
                outln!("     {l}");
            }
            let _ = writeln!(
                cases,
                "  <testcase classname=\"lvs-lab\" name=\"{}\" time=\"{secs:.3}\"><failure message=\"expectations failed\">{}</failure></testcase>",
                xml(name),
                xml(&detail)
            );
        }
    }
    outln!("{passed} passed, {failed} failed");
    if let Some(p) = &a.junit {
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"lvs-lab check\" tests=\"{}\" failures=\"{failed}\">\n{cases}</testsuite>\n",
            passed + failed
        );
        std::fs::write(p, doc).map_err(|e| Fail { code: 1, message: format!("cannot write {p}: {e}") })?;
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards() {
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(parse_shard("0/4").is_err());
        assert!(parse_shard("5/4").is_err());
        assert!(parse_shard("x").is_err());
    }
}
