//! Where configuration files come from: a small trait so tests can use an in-memory
//! file set, a real-filesystem implementation, and the glob expansion keepalived
//! does with `glob(3)` (`lib/parser.c: open_and_check_glob`, flags `GLOB_MARK`).

use std::collections::BTreeMap;

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file; `executable` if any execute bit is set (keepalived refuses those).
    File {
        executable: bool,
    },
    Dir,
}

/// A read-only view of a file tree. Paths are `/`-separated; relative paths are
/// relative to the process's working directory (the real filesystem) or to the root
/// of the set (in-memory).
pub trait FileSource {
    /// The kind of `path`, or `None` if it does not exist.
    fn kind(&self, path: &str) -> Option<FileKind>;
    /// The names (not paths) of a directory's entries, or `None` if it cannot be opened.
    fn list_dir(&self, dir: &str) -> Option<Vec<String>>;
    /// A file's bytes, or the `strerror` text of why it cannot be opened.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

/// An in-memory file set, keyed by normalised path (`a/b.conf`, `/etc/k.conf`).
#[derive(Debug, Clone, Default)]
pub struct MemFiles {
    files: BTreeMap<String, Vec<u8>>,
}

impl MemFiles {
    pub fn new() -> Self {
        MemFiles::default()
    }

    /// Adds (or replaces) a file.
    pub fn add(&mut self, path: &str, content: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(normalise(path), content.into());
        self
    }

    /// Builder form of [`MemFiles::add`].
    pub fn with(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.add(path, content);
        self
    }

    fn is_dir(&self, dir: &str) -> bool {
        let d = normalise(dir);
        if d.is_empty() || d == "/" || d == "." {
            return true;
        }
        let prefix = format!("{d}/");
        self.files.keys().any(|k| k.starts_with(&prefix))
    }
}

impl FileSource for MemFiles {
    fn kind(&self, path: &str) -> Option<FileKind> {
        let p = normalise(path);
        if self.files.contains_key(&p) {
            Some(FileKind::File { executable: false })
        } else if self.is_dir(&p) {
            Some(FileKind::Dir)
        } else {
            None
        }
    }

    fn list_dir(&self, dir: &str) -> Option<Vec<String>> {
        if !self.is_dir(dir) {
            return None;
        }
        let d = normalise(dir);
        let prefix = match d.as_str() {
            "" | "." => String::new(),
            "/" => "/".to_string(),
            _ => format!("{d}/"),
        };
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_str()))
            .filter(|rest| !rest.is_empty() && (prefix.starts_with('/') || !rest.starts_with('/')))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        names.dedup();
        Some(names)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let p = normalise(path);
        match self.files.get(&p) {
            Some(c) => Ok(c.clone()),
            None if self.is_dir(&p) => Err("Is a directory".to_string()),
            None => Err("No such file or directory".to_string()),
        }
    }
}

/// The machine's filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl FileSource for RealFs {
    fn kind(&self, path: &str) -> Option<FileKind> {
        let md = std::fs::metadata(if path.is_empty() { "." } else { path }).ok()?;
        if md.is_dir() {
            return Some(FileKind::Dir);
        }
        #[cfg(unix)]
        let executable = {
            use std::os::unix::fs::PermissionsExt;
            md.permissions().mode() & 0o111 != 0
        };
        #[cfg(not(unix))]
        let executable = false;
        Some(FileKind::File { executable })
    }

    fn list_dir(&self, dir: &str) -> Option<Vec<String>> {
        let rd = std::fs::read_dir(if dir.is_empty() { "." } else { dir }).ok()?;
        Some(rd.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect())
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| {
            let s = e.to_string();
            // std appends " (os error N)"; strerror(3) does not.
            s.split(" (os error").next().unwrap_or(&s).to_string()
        })
    }
}

/// Collapses `//` and `./`, keeping a leading `/`.
pub(crate) fn normalise(path: &str) -> String {
    let abs = path.starts_with('/');
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let joined = parts.join("/");
    if abs { format!("/{joined}") } else { joined }
}

/// Joins a directory and a path the way `chdir(dir)` then `open(path)` would.
pub(crate) fn join(dir: &str, path: &str) -> String {
    if path.starts_with('/') || dir.is_empty() { path.to_string() } else { format!("{dir}/{path}") }
}

/// The directory part of a path (`dirname(3)`), empty for a bare name.
pub(crate) fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

/// What `glob(3)` found, with the counters keepalived's `GLOB_ALTDIRFUNC` hooks keep
/// (`gl_opendir` → `missing_directories`, `gl_lstat` → `missing_files`).
#[derive(Debug, Default)]
pub(crate) struct GlobResult {
    /// Sorted matches, as `glob` returns them (relative to `cwd`, `/` appended to directories).
    pub paths: Vec<String>,
    pub missing_files: u32,
    pub missing_directories: u32,
    pub have_wildcards: bool,
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Expands `pattern` relative to `cwd`. Supports `*`, `?` and `[...]` per path
/// component; brace expansion (`GLOB_BRACE`) is not supported.
pub(crate) fn glob(src: &dyn FileSource, cwd: &str, pattern: &str) -> GlobResult {
    let mut res = GlobResult::default();
    if pattern.is_empty() {
        return res;
    }
    let abs = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut candidates: Vec<String> = vec![if abs { "/".to_string() } else { String::new() }];
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for base in &candidates {
            let prefix = if base.is_empty() || base == "/" { base.clone() } else { format!("{base}/") };
            if has_meta(comp) {
                res.have_wildcards = true;
                match src.list_dir(&join(cwd, if base.is_empty() { "." } else { base })) {
                    None => res.missing_directories += 1,
                    Some(mut names) => {
                        names.sort();
                        for n in names {
                            if (n.starts_with('.') && !comp.starts_with('.'))
                                || !glob_match(comp.as_bytes(), n.as_bytes())
                            {
                                continue;
                            }
                            let p = format!("{prefix}{n}");
                            if last || matches!(src.kind(&join(cwd, &p)), Some(FileKind::Dir)) {
                                next.push(p);
                            }
                        }
                    }
                }
            } else {
                let p = format!("{prefix}{comp}");
                if !last {
                    // glob(3) only opens the directory when it reaches a wildcard.
                    next.push(p);
                    continue;
                }
                match src.kind(&join(cwd, &p)) {
                    None => res.missing_files += 1,
                    Some(_) => next.push(p),
                }
            }
        }
        candidates = next;
    }
    for p in candidates.iter_mut() {
        if matches!(src.kind(&join(cwd, p)), Some(FileKind::Dir)) && !p.ends_with('/') {
            p.push('/');
        }
    }
    candidates.sort();
    res.paths = candidates;
    res
}

/// `fnmatch(3)` for one path component: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`, `\x`.
pub(crate) fn glob_match(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let (mut star_p, mut star_n) = (usize::MAX, 0usize);
    while n < name.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star_p = p;
                    star_n = n;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, len)) = match_class(&pat[p..], name[n]) {
                        if matched {
                            p += len;
                            n += 1;
                            continue;
                        }
                    } else if name[n] == b'[' {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pat.len() && pat[p + 1] == name[n] => {
                    p += 2;
                    n += 1;
                    continue;
                }
                c if c == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        }
        if star_p == usize::MAX {
            return false;
        }
        p = star_p + 1;
        star_n += 1;
        n = star_n;
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Matches a `[...]` class at the start of `pat`; returns (matched, class length).
fn match_class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        if pat[i] == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < pat.len() && pat[i + 1] == b'-' && pat[i + 2] != b']' {
            if pat[i] <= c && c <= pat[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if pat[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_basics() {
        assert!(glob_match(b"*.conf", b"a.conf"));
        assert!(!glob_match(b"*.conf", b"a.cnf"));
        assert!(glob_match(b"vi_[0-9].conf", b"vi_3.conf"));
        assert!(glob_match(b"vi_[!0-9].conf", b"vi_x.conf"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"*", b""));
    }

    #[test]
    fn mem_glob_is_sorted_and_relative() {
        let fs = MemFiles::new().with("etc/k/conf.d/b.conf", "").with("etc/k/conf.d/a.conf", "").with("etc/k/x", "");
        let r = glob(&fs, "etc/k", "conf.d/*.conf");
        assert_eq!(r.paths, vec!["conf.d/a.conf", "conf.d/b.conf"]);
        let r = glob(&fs, "etc/k", "nothere/*.conf");
        assert_eq!(r.missing_directories, 1);
        let r = glob(&fs, "etc/k", "missing.conf");
        assert_eq!(r.missing_files, 1);
        assert_eq!(glob(&fs, "", "etc/k/conf.d").paths, vec!["etc/k/conf.d/"]);
    }
}
