//! Embeds every file under `../scenarios` (scenario TOML files and the configs and
//! scripts they reference) so built-in scenarios run from any directory.

use std::fs;
use std::path::Path;

fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            println!("cargo:rerun-if-changed={}", p.display());
            walk(&p, base, out);
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn main() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    println!("cargo:rerun-if-changed={}", base.display());
    let mut files = vec![];
    walk(&base, &base, &mut files);
    let mut src = String::from(
        "/// (path relative to scenarios/, contents) of every embedded file.\npub static FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", base.join(f).display());
        src.push_str(&format!("    ({f:?}, include_str!({:?})),\n", base.join(f).display().to_string()));
    }
    src.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded.rs");
    fs::write(out, src).expect("write embedded.rs");
}
