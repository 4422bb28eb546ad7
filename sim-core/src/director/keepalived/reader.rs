//! The line reader, modelled on `lib/parser.c: read_line` and its helpers: physical
//! lines of at most `MAXBUF - 1` bytes, `decomment`, `@id` conditional lines, `$NAME`
//! definitions, `include` globs (resolved against the including file's directory),
//! brace splitting and the `Extra '}' found` depth counter; and `alloc_strvec_r`, the
//! tokeniser.

use super::diag::{Channel, ConfigErr, Diagnostic, Location, Process};
use super::source::{FileKind, FileSource, dirname, glob, join};
use std::collections::VecDeque;

/// `MAXBUF` (`lib/parser.h`): `fgets` reads at most this minus one byte per call.
pub(crate) const MAXBUF: usize = 1024;

/// keepalived opens every included file before closing its includer, so an include
/// loop ends when `fopen` fails for lack of file descriptors (`RLIMIT_NOFILE`, 1024 by
/// default, a few of which are already in use).
const MAX_OPEN_FILES: usize = 1000;

/// A bound on the logical lines one parse may produce, so that include loops whose
/// every level includes the file twice (exponential in keepalived too) still end.
const MAX_LINES: usize = 2_000_000;

// `include_t` flags (`lib/parser.c`).
pub(crate) const INCLUDE_R: u8 = 0x01;
pub(crate) const INCLUDE_M: u8 = 0x02;
pub(crate) const INCLUDE_W: u8 = 0x04;
pub(crate) const INCLUDE_B: u8 = 0x08;

const WHITE_SPACE: &[u8] = b" \t\x0c\n\r\x0b";

/// One open file of an include glob.
struct Current {
    name: String,
    named: bool,
    data: Vec<u8>,
    pos: usize,
    line_no: usize,
    dir: String,
}

/// One entry of keepalived's `include_stack`: a glob and the file of it being read.
struct IncludeEntry {
    include_type: u8,
    matches: Vec<String>,
    next: usize,
    num_matches: usize,
    pattern: String,
    cwd: String,
    bottom: bool,
    current: Option<Current>,
}

/// Why reading stopped for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadStop {
    /// More than [`MAX_LINES`] logical lines: not a keepalived limit.
    TooLarge,
}

pub(crate) struct Reader<'a> {
    src: &'a dyn FileSource,
    stack: Vec<IncludeEntry>,
    residue: Option<Vec<u8>>,
    pending: VecDeque<Vec<u8>>,
    multiline_def: Option<usize>,
    pub block_depth: i32,
    defs: Vec<(Vec<u8>, Vec<u8>, bool)>,
    config_id: Option<String>,
    /// A child process reads the parent's copy: lines are decommented twice, file
    /// names are always shown and include errors are not reported again.
    child: bool,
    pub process: Process,
    pub diags: Vec<Diagnostic>,
    /// `config_file_error`: an include error whose type flags made it an error.
    pub file_error: bool,
    include_check: u8,
    lines: usize,
    pub stop: Option<ReadStop>,
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a dyn FileSource, process: Process, config_id: Option<String>) -> Self {
        Reader {
            src,
            stack: Vec::new(),
            residue: None,
            pending: VecDeque::new(),
            multiline_def: None,
            block_depth: 0,
            defs: vec![(b"_HASH".to_vec(), b"#".to_vec(), false), (b"_BANG".to_vec(), b"!".to_vec(), false)],
            config_id,
            child: process != Process::Parent,
            process,
            diags: Vec::new(),
            file_error: false,
            include_check: 0,
            lines: 0,
            stop: None,
        }
    }

    /// Where a message reported now is located (`vreport_config_error`).
    pub fn location(&self) -> Option<Location> {
        let mut idx = self.stack.len().checked_sub(1)?;
        if self.stack[idx].current.as_ref().is_none_or(|c| !c.named) && idx > 0 {
            idx -= 1;
        }
        let cur = self.stack[idx].current.as_ref()?;
        Some(Location { file: cur.named.then(|| cur.name.clone()), line: cur.line_no })
    }

    /// `report_config_error`.
    pub fn report(&mut self, err: ConfigErr, message: impl Into<String>) {
        let location = self.location();
        self.diags.push(Diagnostic {
            process: self.process,
            channel: Channel::Config(err),
            location,
            message: message.into(),
        });
    }

    /// `log_message`.
    pub fn log(&mut self, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            process: self.process,
            channel: Channel::Log,
            location: None,
            message: message.into(),
        });
    }

    /// A limitation of the simulator, not a keepalived message.
    pub fn lab(&mut self, message: impl Into<String>) {
        let location = self.location();
        self.diags.push(Diagnostic { process: self.process, channel: Channel::Lab, location, message: message.into() });
    }

    /// `file_config_error`: an include problem, an error only if the include type (or
    /// `include_check`) asks for it. Reported by the process that reads the files.
    fn file_config_error(&mut self, error_type: u8, entry_type: u8, message: String) {
        if self.child {
            return;
        }
        let is_err = (self.include_check | entry_type) & error_type != 0;
        self.report(if is_err { ConfigErr::FileNotFound } else { ConfigErr::Ok }, message);
        if is_err {
            self.file_error = true;
        }
    }

    /// Opens the top-level configuration (`init_data`: `open_glob_file` with
    /// `INCLUDE_R | INCLUDE_M | INCLUDE_W`); false if nothing could be opened.
    pub fn open_main(&mut self, path: &str) -> bool {
        self.open_glob_file("", path, INCLUDE_R | INCLUDE_M | INCLUDE_W)
    }

    /// `open_and_check_glob` + `open_glob_file`.
    fn open_glob_file(&mut self, cwd: &str, pattern: &str, include_type: u8) -> bool {
        let bottom = self.stack.is_empty();
        let g = glob(self.src, cwd, pattern);
        let flags = self.include_check | include_type;
        // The new entry is on the stack while its errors are reported.
        self.stack.push(IncludeEntry {
            include_type,
            matches: Vec::new(),
            next: 0,
            num_matches: 0,
            pattern: pattern.to_string(),
            cwd: cwd.to_string(),
            bottom,
            current: None,
        });
        let ok = if g.paths.is_empty() {
            if g.missing_files > 0 || g.missing_directories > 0 {
                let t = if pattern.contains('{') { INCLUDE_B } else { INCLUDE_M };
                self.file_config_error(t, include_type, format!("Config files missing '{pattern}'."));
            } else if g.have_wildcards && flags & INCLUDE_W != 0 {
                self.file_config_error(INCLUDE_W, include_type, format!("No config files matched '{pattern}'."));
            }
            false
        } else if (g.missing_files > 0 || g.missing_directories > 0) && {
            self.file_config_error(INCLUDE_B, include_type, format!("Some config files missing: \"{pattern}\"."));
            flags & INCLUDE_B != 0
        } {
            false
        } else {
            if let Some(top) = self.stack.last_mut() {
                top.matches = g.paths;
            }
            if self.open_conf_file() {
                true
            } else {
                if self.stack.last().is_some_and(|t| t.matches.is_empty()) {
                    self.file_config_error(INCLUDE_R, include_type, format!("{pattern} - no matching file"));
                }
                false
            }
        };
        if !ok {
            self.stack.pop();
        }
        ok
    }

    /// `open_conf_file`: opens the next usable match of the top entry.
    fn open_conf_file(&mut self) -> bool {
        loop {
            let (path, cwd, itype, bottom, many) = match self.stack.last_mut() {
                Some(top) if top.next < top.matches.len() => {
                    top.next += 1;
                    (
                        top.matches[top.next - 1].clone(),
                        top.cwd.clone(),
                        top.include_type,
                        top.bottom,
                        top.matches.len() > 1,
                    )
                }
                _ => return false,
            };
            let full = join(&cwd, &path);
            if path.ends_with('/') {
                self.file_config_error(
                    INCLUDE_R,
                    itype,
                    format!("Configuration file '{path}' is a directory - skipping"),
                );
                continue;
            }
            if !matches!(self.src.kind(&full), Some(FileKind::File { executable: false })) {
                self.file_config_error(
                    INCLUDE_R,
                    itype,
                    format!("Configuration file '{path}' is not a regular non-executable file - skipping"),
                );
                continue;
            }
            let data = if self.stack.len() > MAX_OPEN_FILES {
                Err("Too many open files".to_string())
            } else {
                self.src.read(&full)
            };
            match data {
                Err(e) => {
                    self.file_config_error(
                        INCLUDE_R,
                        itype,
                        format!("Configuration file '{path}' open problem ({e}) - skipping"),
                    );
                    continue;
                }
                Ok(data) => {
                    let named = self.child || !bottom || many;
                    if let Some(top) = self.stack.last_mut() {
                        top.num_matches += 1;
                        top.current = Some(Current {
                            name: path.clone(),
                            named,
                            data,
                            pos: 0,
                            line_no: 0,
                            dir: join(&cwd, dirname(&path)),
                        });
                    }
                    return true;
                }
            }
        }
    }

    /// The next physical line (without its newline), switching files at EOF
    /// (`get_next_file`, `end_glob`). `None` at the end of the last file.
    fn next_physical(&mut self) -> Option<Vec<u8>> {
        loop {
            let top = self.stack.last_mut()?;
            if let Some(cur) = top.current.as_mut()
                && cur.pos < cur.data.len()
            {
                // fgets(buf, MAXBUF): up to MAXBUF - 1 bytes or through the newline.
                let rest = &cur.data[cur.pos..];
                let limit = rest.len().min(MAXBUF - 1);
                let take = rest[..limit].iter().position(|&b| b == b'\n').map_or(limit, |i| i + 1);
                let chunk = &rest[..take];
                cur.pos += take;
                // strlen() stops at an embedded NUL.
                let chunk = &chunk[..chunk.iter().position(|&b| b == 0).unwrap_or(chunk.len())];
                let mut line = chunk.to_vec();
                if line.last() == Some(&b'\n') {
                    cur.line_no += 1;
                }
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                return Some(line);
            }
            // End of this file: next match of the glob, or pop the glob.
            if top.current.take().is_some() && self.open_conf_file() {
                continue;
            }
            if let Some(done) = self.stack.pop()
                && done.num_matches == 0
                && !self.child
            {
                self.log(format!("No config files matched '{}'.", done.pattern));
            }
        }
    }

    /// Reads the next logical line (`read_line`); `None` at EOF.
    pub fn read_line(&mut self) -> Option<Vec<u8>> {
        if self.stop.is_some() {
            return None;
        }
        let mut buf = loop {
            self.lines += 1;
            if self.lines > MAX_LINES {
                self.stop = Some(ReadStop::TooLarge);
                return None;
            }
            let mut buf = if let Some(r) = self.residue.take() {
                r
            } else if let Some(p) = self.pending.pop_front() {
                p
            } else {
                let mut line = loop {
                    let mut line = self.next_physical()?;
                    if line.is_empty() {
                        if let Some(i) = self.multiline_def.take()
                            && self.defs[i].1.is_empty()
                        {
                            self.defs[i].2 = false;
                        }
                        continue;
                    }
                    if self.child {
                        decomment(&mut line, None);
                    }
                    decomment(&mut line, Some(self));
                    break line;
                };
                if let Some(i) = self.multiline_def {
                    self.continue_multiline(i, &mut line);
                    continue;
                }
                line
            };
            self.expand(&mut buf);
            if buf.is_empty() {
                continue;
            }
            if self.check_include(&buf) {
                continue;
            }
            break buf;
        };
        self.split_braces(&mut buf);
        Some(buf)
    }

    /// Appends a line to a multi-line `$NAME=... \` definition.
    fn continue_multiline(&mut self, i: usize, line: &mut Vec<u8>) {
        let cont = line.last() == Some(&b'\\');
        if cont {
            line.pop();
            while matches!(line.last(), Some(b' ' | b'\t')) {
                line.pop();
            }
            line.push(b'\n');
        } else {
            self.multiline_def = None;
            if self.defs[i].1.is_empty() {
                self.defs[i].2 = false;
            }
        }
        if line.len() >= 2 || (!line.is_empty() && !cont) {
            self.defs[i].1.extend_from_slice(line);
        }
    }

    /// The `@id` / `$` / `~SEQ` loop of `read_line`; empties `buf` if nothing is left.
    fn expand(&mut self, buf: &mut Vec<u8>) {
        for _ in 0..MAXBUF {
            let mut recheck = false;
            if buf.first() == Some(&b'@') {
                let (rev, ofs) = if buf.get(1) == Some(&b'^') { (true, 2) } else { (false, 1) };
                let Some(sp) = buf[ofs..].iter().position(|&b| b == b' ' || b == b'\t').map(|i| i + ofs) else {
                    buf.clear();
                    return;
                };
                let id = &buf[ofs..sp];
                let matches = self.config_id.as_deref().is_some_and(|c| c.as_bytes() == id);
                if matches == rev {
                    buf.clear();
                    return;
                }
                let start = sp + buf[sp..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
                buf.drain(..start);
            }
            if buf.first() == Some(&b'$') && self.check_definition(buf) {
                buf.clear();
                return;
            }
            if buf.starts_with(b"~SEQ") || buf.starts_with(b"~LST") {
                self.lab(format!(
                    "{} is not supported by the simulator - ignoring line",
                    String::from_utf8_lossy(&buf[..4])
                ));
                buf.clear();
                return;
            }
            if buf.first() == Some(&b'~') {
                return;
            }
            if buf.contains(&b'$') {
                if !self.replace_param(buf) {
                    return;
                }
                decomment(buf, Some(self));
                if buf.first() == Some(&b'@') || buf.contains(&b'$') {
                    recheck = true;
                }
            }
            if !recheck {
                return;
            }
        }
    }

    /// `check_definition`: `$NAME=value` (a trailing `\` continues it).
    fn check_definition(&mut self, buf: &[u8]) -> bool {
        if !buf.get(1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
            return false;
        }
        let mut p = 2;
        while p < buf.len() && buf[p] != b'=' {
            if !(buf[p].is_ascii_alphanumeric() || buf[p] == b'_') {
                return false;
            }
            p += 1;
        }
        if p >= buf.len() {
            return false;
        }
        let name = buf[1..p].to_vec();
        let mut v = p + 1;
        while v < buf.len() && (buf[v] == b' ' || buf[v] == b'\t') {
            v += 1;
        }
        let mut value = buf[v..].to_vec();
        let multiline = value.last() == Some(&b'\\');
        if multiline {
            value.pop();
            while matches!(value.last(), Some(b' ' | b'\t')) {
                value.pop();
            }
            if !value.is_empty() {
                value.push(b'\n');
            }
        }
        let idx = match self.defs.iter().position(|d| d.0 == name) {
            Some(i) => {
                self.defs[i] = (name, value, multiline);
                i
            }
            None => {
                self.defs.push((name, value, multiline));
                self.defs.len() - 1
            }
        };
        self.multiline_def = multiline.then_some(idx);
        true
    }

    /// `replace_param`: substitutes `$NAME` and `${NAME}`; false if nothing changed.
    fn replace_param(&mut self, buf: &mut Vec<u8>) -> bool {
        let mut found = false;
        let mut cur = 0;
        let mut guard = 0;
        while let Some(off) = buf[cur..].iter().position(|&b| b == b'$') {
            guard += 1;
            if guard > MAXBUF {
                break;
            }
            cur += off;
            if cur + 1 >= buf.len() {
                break;
            }
            let braces = buf[cur + 1] == b'{';
            let start = cur + 1 + usize::from(braces);
            let name_len = buf[start..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
            let valid_start = buf.get(start).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
            let end_ok = if braces {
                buf.get(start + name_len) == Some(&b'}')
            } else {
                matches!(buf.get(start + name_len), None | Some(b' ' | b'\t' | b',' | b')'))
            };
            let at_end = start + name_len + usize::from(braces) == buf.len();
            let def = (valid_start && end_ok)
                .then(|| {
                    let name = &buf[start..start + name_len];
                    if name == b"_PWD" {
                        let pwd = self.stack.last().and_then(|e| e.current.as_ref()).map(|c| c.dir.clone());
                        return Some((pwd.unwrap_or_default().into_bytes(), false));
                    }
                    if name == b"_INSTANCE" {
                        return Some((self.config_id.clone().unwrap_or_default().into_bytes(), false));
                    }
                    self.defs.iter().find(|d| d.0 == name && (at_end || !d.2)).map(|d| (d.1.clone(), d.2))
                })
                .flatten();
            let Some((value, multiline)) = def else {
                cur += 1;
                continue;
            };
            found = true;
            let replaced = 1 + name_len + if braces { 2 } else { 0 };
            let (first, rest) = if multiline {
                let i = value.iter().position(|&b| b == b'\n').unwrap_or(value.len());
                (value[..i].to_vec(), value.get(i + 1..).map(<[u8]>::to_vec))
            } else {
                (value.clone(), None)
            };
            if buf.len() - replaced + first.len() >= MAXBUF {
                self.log(format!(
                    "Parameter substitution on line '{}' would exceed maximum line length",
                    String::from_utf8_lossy(buf)
                ));
                return false;
            }
            buf.splice(cur..cur + replaced, first);
            if let Some(rest) = rest {
                for l in rest.split(|&b| b == b'\n').rev().filter(|l| !l.is_empty()) {
                    self.pending.push_front(l.to_vec());
                }
            }
            let v = &value[value.iter().take_while(|&&b| b == b' ' || b == b'\t').count()..];
            if v.first() == Some(&b'~') {
                break;
            }
        }
        found
    }

    /// `is_include` + `check_include`: `include`, `includer`, `includem`, `includew`,
    /// `includeb`, `includea`. Opens the glob and returns true if the line was one.
    fn check_include(&mut self, buf: &[u8]) -> bool {
        if !buf.starts_with(b"include") || buf.len() <= 7 {
            return false;
        }
        let (rest_at, itype) = if buf[7].is_ascii_whitespace() {
            (8, 0)
        } else if buf.len() > 8 && buf[8].is_ascii_whitespace() && b"rmwba".contains(&buf[7]) {
            let t = match buf[7] {
                b'r' => INCLUDE_R,
                b'a' => INCLUDE_R | INCLUDE_M | INCLUDE_B | INCLUDE_W,
                b'w' => INCLUDE_R | INCLUDE_M | INCLUDE_W,
                b'm' => INCLUDE_R | INCLUDE_M,
                _ => INCLUDE_R | INCLUDE_B,
            };
            (9, t)
        } else {
            return false;
        };
        let pat = &buf[rest_at..];
        let pat = &pat[pat.iter().take_while(|&&b| b == b' ' || b == b'\t').count()..];
        let pattern = String::from_utf8_lossy(pat).into_owned();
        let cwd = self.stack.last().and_then(|e| e.current.as_ref()).map(|c| c.dir.clone()).unwrap_or_default();
        self.open_glob_file(&cwd, &pattern, itype);
        true
    }

    /// Splits off the first `{` or `}` outside quotes into `line_residue`, and keeps
    /// `block_depth` (`Extra '}' found`).
    fn split_braces(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            return;
        }
        let mut p = Some(0);
        if buf[0] != b'{' && buf[0] != b'}' {
            p = None;
            let mut i = 0;
            while let Some(off) = buf[i..].iter().position(|&b| b == b'{' || b == b'}' || b == b'"') {
                let at = i + off;
                if buf[at] != b'"' {
                    p = Some(at);
                    break;
                }
                match buf[at + 1..].iter().position(|&b| b == b'"') {
                    Some(q) => i = at + 1 + q + 1,
                    None => break,
                }
            }
        }
        if let Some(p) = p {
            let skip = if p == 0 { 1 + buf[1..].iter().take_while(|&&b| b == b' ' || b == b'\t').count() } else { 0 };
            if p + skip < buf.len() {
                let mut res = buf[p + skip..].to_vec();
                while matches!(res.last(), Some(b' ' | b'\t')) {
                    res.pop();
                }
                self.residue = Some(res);
                buf.truncate(p + skip);
            }
        }
        while matches!(buf.last(), Some(b' ' | b'\t')) {
            buf.pop();
        }
        if buf.as_slice() == b"{" {
            self.block_depth += 1;
        } else if buf.as_slice() == b"}" {
            if self.block_depth < 1 {
                self.report(ConfigErr::UnexpectedEob, "Extra '}' found");
                self.block_depth = 0;
            } else {
                self.block_depth -= 1;
            }
        }
    }

    /// `alloc_strvec_r`: whitespace-separated words; a word starting with `"` runs to
    /// the next `"` and is stored without the quotes.
    pub fn tokenize(&mut self, buf: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            while i < buf.len() && WHITE_SPACE.contains(&buf[i]) {
                i += 1;
            }
            if i >= buf.len() {
                break;
            }
            if buf[i] == b'"' {
                match buf[i + 1..].iter().position(|&b| b == b'"') {
                    None => {
                        self.report(
                            ConfigErr::UnmatchedQuote,
                            format!("Unmatched quote: '{}'", String::from_utf8_lossy(buf)),
                        );
                        break;
                    }
                    Some(q) => {
                        out.push(String::from_utf8_lossy(&buf[i + 1..i + 1 + q]).into_owned());
                        i += q + 2;
                    }
                }
            } else {
                let start = i;
                while i < buf.len() && !WHITE_SPACE.contains(&buf[i]) && buf[i] != b'"' {
                    i += 1;
                }
                out.push(String::from_utf8_lossy(&buf[start..i]).into_owned());
            }
        }
        out
    }
}

/// `decomment`: strips leading blanks, comments (`!` or `#` outside `"`), the `\` of
/// `\!` and `\#`, and trailing blanks; a final `\` is kept. Reports an unterminated
/// quote through `reporter` if given.
fn decomment(s: &mut Vec<u8>, reporter: Option<&mut Reader<'_>>) {
    let lead = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    s.drain(..lead);
    let (mut quote, mut cont, mut skip) = (false, false, None);
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => {
                if skip.is_none() {
                    quote = !quote;
                }
                i += 1;
            }
            b'\\' => {
                if i + 1 < s.len() {
                    if !quote && (s[i + 1] == b'#' || s[i + 1] == b'!') {
                        s.remove(i);
                        i += 1;
                    } else {
                        i += 2;
                    }
                } else {
                    s.truncate(i);
                    cont = true;
                    break;
                }
            }
            b'!' | b'#' => {
                if !quote && skip.is_none() {
                    skip = Some(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if quote && let Some(r) = reporter {
        r.report(ConfigErr::GeneralError, format!("Unterminated quote '{}'", String::from_utf8_lossy(s)));
    }
    if let Some(k) = skip {
        s.truncate(k);
    }
    while matches!(s.last(), Some(b' ' | b'\t')) {
        s.pop();
    }
    if cont {
        s.push(b'\\');
    }
}

/// `alloc_strvec_quoted_escaped` for script keywords: `"` and `'` quote, backslash
/// escapes as in the shell (`\n \t \xHH \nnn \cC`). `None` for an unterminated quote.
pub(crate) fn split_quoted_escaped(src: &str) -> Option<Vec<String>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote = 0u8;
    loop {
        while i < b.len() && WHITE_SPACE.contains(&b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut word: Vec<u8> = Vec::new();
        while i < b.len() {
            let c = b[i];
            if c == b'\\' {
                i += 1;
                let &e = b.get(i)?;
                let ch = match e {
                    b'x' if b.get(i + 1).is_some_and(u8::is_ascii_hexdigit) => {
                        i += 1;
                        let mut v = 0u8;
                        while let Some(d) = b.get(i).and_then(|d| (*d as char).to_digit(16)) {
                            v = v.wrapping_shl(4) | d as u8;
                            i += 1;
                        }
                        word.push(v);
                        continue;
                    }
                    b'c' if i + 1 < b.len() => {
                        i += 2;
                        word.push(b[i - 1] & 0x1f);
                        continue;
                    }
                    b'0'..=b'7' => {
                        let mut v = 0u8;
                        let mut n = 0;
                        while n < 3 && b.get(i).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                            v = v.wrapping_shl(3).wrapping_add(b[i] - b'0');
                            i += 1;
                            n += 1;
                        }
                        word.push(v);
                        continue;
                    }
                    b'a' => 7,
                    b'b' => 8,
                    b'E' => 0x1b,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 0x0b,
                    other => other,
                };
                word.push(ch);
                i += 1;
                continue;
            }
            if quote != 0 {
                if c == quote {
                    quote = 0;
                } else {
                    word.push(c);
                }
                i += 1;
                continue;
            }
            if c == b'"' || c == b'\'' {
                quote = c;
                i += 1;
                continue;
            }
            if WHITE_SPACE.contains(&c) {
                break;
            }
            word.push(c);
            i += 1;
        }
        if quote != 0 {
            return None;
        }
        out.push(String::from_utf8_lossy(&word).into_owned());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::source::MemFiles;
    use super::*;

    fn lines(text: &str) -> (Vec<String>, Vec<String>) {
        let fs = MemFiles::new().with("k.conf", text);
        let mut r = Reader::new(&fs, Process::Parent, None);
        assert!(r.open_main("k.conf"));
        let mut out = Vec::new();
        while let Some(l) = r.read_line() {
            out.push(String::from_utf8_lossy(&l).into_owned());
        }
        (out, r.diags.iter().map(|d| d.text()).collect())
    }

    #[test]
    fn braces_are_split_and_comments_stripped() {
        let (l, d) = lines("vrrp_instance VI_1{ # c\n  state MASTER ! x\n auth { a \"b # c\" } }\n");
        assert_eq!(l, ["vrrp_instance VI_1", "{", "state MASTER", "auth", "{", "a \"b # c\"", "}", "}"]);
        assert!(d.is_empty());
    }

    #[test]
    fn escapes_and_quotes() {
        let (l, d) = lines("auth_pass a\\#b\nscript \"x\n");
        assert_eq!(l, ["auth_pass a#b", "script \"x"]);
        assert_eq!(d, ["(Line 2) Unterminated quote 'script \"x'"]);
    }

    #[test]
    fn definitions_and_conditionals() {
        let (l, _) = lines("$PRIO=150\n@node1 priority 1\n@^node1 priority $PRIO\nweight ${PRIO}x\n");
        assert_eq!(l, ["priority 150", "weight 150x"]);
    }

    #[test]
    fn quoted_escaped_words() {
        assert_eq!(split_quoted_escaped("a 'b c' \"d\\te\" \\x41").unwrap(), ["a", "b c", "d\te", "A"]);
        assert!(split_quoted_escaped("\"open").is_none());
    }
}
