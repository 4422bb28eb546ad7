//! The script language: the part of POSIX sh that LVS setup scripts use.
//!
//! Supported:
//! - one command per line or several joined by `;` or `&&`; `cmd || true` (also
//!   `|| :` and `|| exit N`); `\` line continuation; `#` comments outside quotes;
//!   a `#!` line is a comment;
//! - `'single'` and `"double"` quotes, `\` escapes;
//! - assignments `NAME=value` (several per line; before a command they are accepted
//!   and ignored, as none of the tools reads its environment), `export NAME=value`;
//! - expansion of `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `$1`..`$9`,
//!   `$0`, `$#`, `$@`, `$*`, `$?`, with field splitting of unquoted expansions
//!   (so `$IPVSADM -C` runs `/usr/sbin/ipvsadm -C`); unset variables are empty
//!   unless `set -u`;
//! - `case WORD in pat|pat) ... ;; *) ... ;; esac` with `*`, `?` and `[...]` patterns;
//! - `exit [N]`;
//! - redirections: `> /dev/null`, `2>&1`, `&> /dev/null` and any `2>...` (ignored),
//!   `> FILE` / `>> FILE` (the command's output goes to the machine's file), `>&2`
//!   (kept in the output), `cat > FILE <<EOF ... EOF` here-documents (`<<-` strips
//!   tabs; a quoted delimiter disables expansion in the body); output written to
//!   `/proc/sys/...` is a sysctl write (`echo 1 > /proc/sys/net/ipv4/ip_forward`);
//! - a leading `sudo`, paths on command names (`/sbin/ifconfig`).
//!
//! - `sh FILE [ARGS]`, `. FILE` and running a file written earlier (`cat > FILE
//!   <<EOF` then `FILE start`); errors inside name the file and its line;
//! - CRLF line ends and a byte-order mark, as pasted from Windows editors.
//!
//! Not supported: `if`, `for`, `while`, `until`, functions, `{ }` and `( )` groups,
//! `[ ]`/`test`, pipes, background `&`, other uses of `||`, command substitution
//! (`` `...` `` and `$(...)`), arithmetic, globs, input redirection other than a
//! here-document into `cat`. Each is an error naming the line and the construct
//! **when the script reaches it**, so a `status)` branch with an `if` does not stop
//! `start`; only malformed text (an unterminated quote, `case` without `esac`) is
//! refused before anything runs.
//!
//! Two deliberate differences from sh:
//! - **a failing command stops the script** with its error (line, command, message),
//!   like `set -e` but also on the left of `&&`: a setup script that half-applies is
//!   never what a lesson wants. `|| true` is how a line says its failure is fine;
//! - **redirections never hide errors from lvs-lab**: `> /dev/null 2>&1` discards
//!   the output of a command that works, but a command that fails still stops the
//!   script and reports why.

use super::{Command, parse_argv, sysctl};
use crate::node::CmdError;
use std::collections::BTreeMap;
use std::fmt;

/// Where a command comes from, for the machine's trace: the script (`$0`; the
/// file's path for `sh FILE`), the 1-based line within it, the command as written,
/// and its fields after expansion (`argv`, without `sudo`; empty for a command the
/// shell made up, such as the sysctl write behind `echo 1 > /proc/sys/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site<'a> {
    pub script: &'a str,
    pub line: usize,
    pub text: &'a str,
    pub argv: &'a [String],
}

/// What a machine offers the shell: running typed commands and a small filesystem.
pub trait ShellEnv {
    /// Applies `cmd` (written at `site`) and returns what it prints.
    fn run(&mut self, cmd: &Command, site: Site<'_>) -> Result<String, CmdError>;
    /// A file of the machine's filesystem (`/etc/sysctl.conf`, a script written earlier).
    fn read_file(&self, path: &str) -> Option<String>;
    /// Writes or appends `text` to `path` (creating it).
    fn write_file(&mut self, path: &str, text: &str, append: bool) -> Result<(), CmdError>;
    /// Removes `path`; `false` if there was no such file.
    fn remove_file(&mut self, path: &str) -> bool;
}

/// [`ShellEnv::write_file`] for a machine whose files are held whole in memory:
/// `>` replaces the file, `>>` appends, either creates it.
pub fn write_mem_file(files: &mut std::collections::BTreeMap<String, String>, path: &str, text: &str, append: bool) {
    let f = files.entry(path.to_string()).or_default();
    if !append {
        f.clear();
    }
    f.push_str(text);
}

/// Why a script stopped: the 1-based line (relative to the script text), the
/// command as written, the message and exit status, and the output so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub line: usize,
    pub command: String,
    pub message: String,
    pub status: i32,
    pub stdout: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: `{}`: {}", self.line, self.command, self.message)
    }
}

impl std::error::Error for ScriptError {}

/// What the shell supports, appended to every "not supported" message.
const SUPPORTED: &str = "supported: simple commands, `;`, `&&`, `|| true`, quotes, variables, `case ... esac`, \
                         `exit`, redirections to files and /dev/null, `cat > FILE <<EOF` here-documents";

/// Nested `sh FILE` and `. FILE` deeper than this are refused (a script running itself).
const MAX_DEPTH: usize = 8;

/// Runs `text` with positional arguments `args` (`$1`...; `$0` is `sh`).
pub fn run_script(text: &str, args: &[String], env: &mut dyn ShellEnv) -> Result<String, ScriptError> {
    run_named_script("sh", text, args, env)
}

/// Runs `text` as the script `name` (`$0`) with positional arguments `args`.
pub fn run_named_script(
    name: &str,
    text: &str,
    args: &[String],
    env: &mut dyn ShellEnv,
) -> Result<String, ScriptError> {
    let mut sh = Shell {
        env,
        vars: BTreeMap::new(),
        name: name.to_string(),
        args: args.to_vec(),
        out: String::new(),
        nounset: false,
        depth: 0,
    };
    match sh.run_text(text) {
        Ok(Flow::Next) | Ok(Flow::Exit(0, _)) => Ok(sh.out),
        Ok(Flow::Exit(status, (line, command))) => Err(ScriptError {
            line,
            command,
            message: format!("the script exited with status {status}"),
            status,
            stdout: sh.out,
        }),
        Err(mut e) => {
            e.stdout = std::mem::take(&mut sh.out);
            Err(e)
        }
    }
}

/// The typed command of one line typed at a machine (`ipvsadm -Lnc`,
/// `echo 0 > /proc/sys/net/ipv4/ip_forward`). Lines that run no machine command
/// (`echo hi`) or several are errors; [`run_script`] runs any line.
pub fn parse_command_line(line: &str) -> Result<Command, ScriptError> {
    let mut rec = Recorder::default();
    let result = run_script(line, &[], &mut rec);
    let fail = |message: String| ScriptError {
        line: 1,
        command: line.trim().to_string(),
        message,
        status: 2,
        stdout: String::new(),
    };
    result?;
    match rec.0.len() {
        1 => Ok(rec.0.remove(0)),
        0 => Err(fail("this line runs no machine command (only shell builtins)".into())),
        n => Err(fail(format!("this line runs {n} commands; run it as a script"))),
    }
}

/// Records commands for [`parse_command_line`]; it has no files.
#[derive(Default)]
struct Recorder(Vec<Command>);

impl ShellEnv for Recorder {
    fn run(&mut self, cmd: &Command, _: Site<'_>) -> Result<String, CmdError> {
        self.0.push(cmd.clone());
        Ok(String::new())
    }
    fn read_file(&self, _: &str) -> Option<String> {
        None
    }
    fn write_file(&mut self, _: &str, _: &str, _: bool) -> Result<(), CmdError> {
        Ok(())
    }
    fn remove_file(&mut self, _: &str) -> bool {
        false
    }
}

// ---------------------------------------------------------------------------------
// Lexer

/// A piece of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit {
        text: String,
        quoted: bool,
    },
    Param {
        param: Param,
        quoted: bool,
    },
    /// A construct the shell does not run (`$(...)`, backquotes): an error when expanded.
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    Name(String),
    Positional(usize),
    Count,
    All,
    Status,
    /// `${NAME:-word}` (`colon`: also when set but empty) and `${NAME-word}`.
    Default {
        name: String,
        word: String,
        colon: bool,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Word {
    parts: Vec<Part>,
}

impl Word {
    /// The word when it is one unquoted literal (reserved words, `true`).
    fn plain(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit { text, quoted: false }] => Some(text),
            _ => None,
        }
    }

    fn has_glob(&self) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Lit { text, quoted: false } => {
                text.contains(['*', '?']) || text.find('[').is_some_and(|i| text[i + 1..].contains(']'))
            }
            _ => false,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Semi,
    DSemi,
    AndIf,
    OrIf,
    Pipe,
    Amp,
    LParen,
    RParen,
    /// `>`, `>|`.
    Great,
    DGreat,
    Less,
    /// `<<` (`strip`: `<<-`), with its body index.
    DLess {
        strip: bool,
    },
    GreatAnd,
    LessAnd,
    /// `&>`.
    AndGreat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(Word),
    IoNumber(u32),
    Op(Op),
    Newline,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    start: usize,
    end: usize,
}

/// A here-document body: the text and whether `$` expands in it.
#[derive(Debug, Clone)]
struct HereDoc {
    body: Word,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    tokens: Vec<Token>,
    heredocs: Vec<HereDoc>,
    /// Here-documents whose delimiter was read, waiting for the end of the line:
    /// (delimiter, strip tabs, quoted, line).
    pending: Vec<(String, bool, bool, usize)>,
    expect_delim: Option<bool>,
}

fn unsupported_at(src: &str, line: usize, what: &str) -> ScriptError {
    ScriptError {
        line,
        command: src.lines().nth(line.saturating_sub(1)).unwrap_or("").trim().to_string(),
        message: format!("{what} is not supported by lvs-lab's shell ({SUPPORTED})"),
        status: 2,
        stdout: String::new(),
    }
}

fn syntax_at(src: &str, line: usize, what: &str) -> ScriptError {
    ScriptError {
        line,
        command: src.lines().nth(line.saturating_sub(1)).unwrap_or("").trim().to_string(),
        message: format!("syntax error: {what}"),
        status: 2,
        stdout: String::new(),
    }
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn unsupported(&self, what: &str) -> ScriptError {
        unsupported_at(self.src, self.line, what)
    }

    fn lex(mut self) -> Result<(Vec<Token>, Vec<HereDoc>), ScriptError> {
        loop {
            // Blanks and continuations between tokens.
            match self.peek() {
                None => break,
                Some(' ' | '\t' | '\r') => {
                    self.bump();
                    continue;
                }
                Some('\\') if self.peek2() == Some('\n') => {
                    self.bump();
                    self.bump();
                    continue;
                }
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                    continue;
                }
                _ => {}
            }
            let (start, line) = (self.pos, self.line);
            let c = self.peek().unwrap_or('\n');
            let tok = if c == '\n' {
                self.bump();
                self.read_heredocs()?;
                Tok::Newline
            } else if let Some(op) = self.operator()? {
                if let Op::DLess { strip } = op {
                    self.expect_delim = Some(strip);
                }
                Tok::Op(op)
            } else {
                let word = self.word()?;
                if let Some(strip) = self.expect_delim.take() {
                    let quoted = word.parts.iter().any(|p| matches!(p, Part::Lit { quoted: true, .. }));
                    let mut delim = String::new();
                    for p in &word.parts {
                        match p {
                            Part::Lit { text, .. } => delim.push_str(text),
                            Part::Param { .. } | Part::Unsupported(_) => {
                                return Err(self.unsupported("a here-document delimiter with `$`"));
                            }
                        }
                    }
                    self.pending.push((delim, strip, quoted, line));
                }
                match (word.plain(), self.peek()) {
                    (Some(d), Some('<' | '>')) if d.bytes().all(|b| b.is_ascii_digit()) && d.len() < 3 => {
                        Tok::IoNumber(d.parse().unwrap_or(0))
                    }
                    _ => Tok::Word(word),
                }
            };
            if self.expect_delim.is_some() && !matches!(tok, Tok::Op(Op::DLess { .. })) && !matches!(tok, Tok::Word(_))
            {
                return Err(syntax_at(self.src, line, "a here-document needs a delimiter after `<<`"));
            }
            self.tokens.push(Token { tok, line, start, end: self.pos });
        }
        if self.expect_delim.is_some() {
            return Err(syntax_at(self.src, self.line, "a here-document needs a delimiter after `<<`"));
        }
        self.read_heredocs()?;
        Ok((self.tokens, self.heredocs))
    }

    /// After a newline: the bodies of the here-documents started on that line.
    fn read_heredocs(&mut self) -> Result<(), ScriptError> {
        for (delim, strip, quoted, _) in std::mem::take(&mut self.pending) {
            let mut body = String::new();
            while self.pos < self.src.len() {
                let rest = &self.src[self.pos..];
                let (raw, len) = match rest.find('\n') {
                    Some(i) => (&rest[..i], i + 1),
                    None => (rest, rest.len()),
                };
                let content = if strip { raw.trim_start_matches('\t') } else { raw };
                self.pos += len;
                self.line += usize::from(len > raw.len());
                if content.trim_end_matches('\r') == delim {
                    break;
                }
                body.push_str(content);
                body.push('\n');
            }
            let word = if quoted {
                Word { parts: vec![Part::Lit { text: body, quoted: true }] }
            } else {
                Lexer {
                    src: &body,
                    pos: 0,
                    line: 1,
                    tokens: Vec::new(),
                    heredocs: Vec::new(),
                    pending: Vec::new(),
                    expect_delim: None,
                }
                .double_quoted(true)
                .map_err(|e| ScriptError { line: self.line, ..e })?
            };
            self.heredocs.push(HereDoc { body: word });
        }
        Ok(())
    }

    fn operator(&mut self) -> Result<Option<Op>, ScriptError> {
        let rest = &self.src[self.pos..];
        let table: &[(&str, Op)] = &[
            (";;&", Op::DSemi),
            (";;", Op::DSemi),
            ("&&", Op::AndIf),
            ("||", Op::OrIf),
            ("<<-", Op::DLess { strip: true }),
            ("<<", Op::DLess { strip: false }),
            (">>", Op::DGreat),
            (">&", Op::GreatAnd),
            ("<&", Op::LessAnd),
            ("&>", Op::AndGreat),
            (">|", Op::Great),
            (";&", Op::Semi),
            (";", Op::Semi),
            ("|", Op::Pipe),
            ("&", Op::Amp),
            ("(", Op::LParen),
            (")", Op::RParen),
            (">", Op::Great),
            ("<", Op::Less),
        ];
        for (text, op) in table {
            if rest.starts_with(text) {
                if matches!(*text, ";;&" | ";&") {
                    return Err(self.unsupported(&format!("`{text}` (case fall-through)")));
                }
                if *text == "<<" && rest.starts_with("<<<") {
                    return Err(self.unsupported("a here-string `<<<`"));
                }
                for _ in 0..text.len() {
                    self.bump();
                }
                return Ok(Some(op.clone()));
            }
        }
        Ok(None)
    }

    fn word(&mut self) -> Result<Word, ScriptError> {
        let mut w = Word::default();
        let mut lit = String::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' => break,
                '\\' => {
                    self.bump();
                    match self.bump() {
                        Some('\n') => {}
                        Some(e) => {
                            flush(&mut w, &mut lit);
                            w.parts.push(Part::Lit { text: e.to_string(), quoted: true });
                        }
                        None => lit.push('\\'),
                    }
                }
                '\'' => {
                    let line = self.line;
                    self.bump();
                    let mut text = String::new();
                    loop {
                        match self.bump() {
                            Some('\'') => break,
                            Some(c) => text.push(c),
                            None => return Err(syntax_at(self.src, line, "unterminated single quote")),
                        }
                    }
                    flush(&mut w, &mut lit);
                    w.parts.push(Part::Lit { text, quoted: true });
                }
                '"' => {
                    let line = self.line;
                    self.bump();
                    flush(&mut w, &mut lit);
                    let inner = self.double_quoted(false)?;
                    if self.bump() != Some('"') {
                        return Err(syntax_at(self.src, line, "unterminated double quote"));
                    }
                    if inner.parts.is_empty() {
                        w.parts.push(Part::Lit { text: String::new(), quoted: true });
                    }
                    w.parts.extend(inner.parts);
                }
                '`' => {
                    flush(&mut w, &mut lit);
                    w.parts.push(self.backquote()?);
                }
                '$' => {
                    if let Some(p) = self.dollar()? {
                        flush(&mut w, &mut lit);
                        w.parts.push(p.into_part(false));
                    } else {
                        lit.push('$');
                    }
                }
                _ => {
                    self.bump();
                    lit.push(c);
                }
            }
        }
        flush(&mut w, &mut lit);
        Ok(w)
    }

    /// The inside of `"..."` up to (not including) the closing quote, or a whole
    /// here-document body when `heredoc`.
    fn double_quoted(&mut self, heredoc: bool) -> Result<Word, ScriptError> {
        let mut w = Word::default();
        let mut lit = String::new();
        while let Some(c) = self.peek() {
            match c {
                '"' if !heredoc => break,
                '\\' => {
                    self.bump();
                    match self.peek() {
                        Some('\n') => {
                            self.bump();
                        }
                        Some(e @ ('$' | '`' | '\\')) => {
                            self.bump();
                            lit.push(e);
                        }
                        Some('"') if !heredoc => {
                            self.bump();
                            lit.push('"');
                        }
                        _ => lit.push('\\'),
                    }
                }
                '`' => {
                    if !lit.is_empty() {
                        w.parts.push(Part::Lit { text: std::mem::take(&mut lit), quoted: true });
                    }
                    w.parts.push(self.backquote()?);
                }
                '$' => {
                    if let Some(p) = self.dollar()? {
                        if !lit.is_empty() {
                            w.parts.push(Part::Lit { text: std::mem::take(&mut lit), quoted: true });
                        }
                        w.parts.push(p.into_part(true));
                    } else {
                        lit.push('$');
                    }
                }
                _ => {
                    self.bump();
                    lit.push(c);
                }
            }
        }
        if !lit.is_empty() {
            w.parts.push(Part::Lit { text: lit, quoted: true });
        }
        Ok(w)
    }

    /// At a backquote: skips to the closing one; running it is an error.
    fn backquote(&mut self) -> Result<Part, ScriptError> {
        let line = self.line;
        self.bump();
        loop {
            match self.bump() {
                Some('`') => return Ok(Part::Unsupported("command substitution with backquotes".into())),
                Some('\\') => {
                    self.bump();
                }
                Some(_) => {}
                None => return Err(syntax_at(self.src, line, "unterminated backquote")),
            }
        }
    }

    /// At `$(`: skips to the matching `)`; running it is an error.
    fn dollar_paren(&mut self) -> Result<Dollar, ScriptError> {
        let line = self.line;
        let what =
            if self.peek2() == Some('(') { "arithmetic expansion `$((...))`" } else { "command substitution `$(...)`" };
        let mut depth = 0usize;
        let mut quote = None;
        while let Some(c) = self.bump() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => depth += 1,
                (None, ')') => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(Dollar::Unsupported(what.into()));
                    }
                }
                _ => {}
            }
        }
        Err(syntax_at(self.src, line, "missing `)` after `$(`"))
    }

    /// At a `$`: the parameter it starts, or `None` for a literal `$` (consumed).
    fn dollar(&mut self) -> Result<Option<Dollar>, ScriptError> {
        if self.peek2() == Some('(') {
            self.bump();
            return self.dollar_paren().map(Some);
        }
        self.bump();
        let Some(c) = self.peek() else { return Ok(None) };
        let p = match c {
            '\'' => return Err(self.unsupported("`$'...'` quoting")),
            '{' => {
                self.bump();
                let line = self.line;
                let mut inner = String::new();
                loop {
                    match self.bump() {
                        Some('}') => break,
                        Some(c) => inner.push(c),
                        None => return Err(syntax_at(self.src, line, "missing `}` after `${`")),
                    }
                }
                return self.braced(&inner).map(|p| Some(Dollar::Param(p)));
            }
            '#' => Param::Count,
            '@' | '*' => Param::All,
            '?' => Param::Status,
            '$' | '!' | '-' => return Err(self.unsupported(&format!("`${c}`"))),
            d if d.is_ascii_digit() => Param::Positional(d.to_digit(10).unwrap_or(0) as usize),
            a if a.is_ascii_alphabetic() || a == '_' => {
                let mut name = String::new();
                while let Some(n) = self.peek().filter(|n| n.is_ascii_alphanumeric() || *n == '_') {
                    name.push(n);
                    self.bump();
                }
                return Ok(Some(Dollar::Param(Param::Name(name))));
            }
            _ => return Ok(None),
        };
        self.bump();
        Ok(Some(Dollar::Param(p)))
    }

    fn braced(&self, inner: &str) -> Result<Param, ScriptError> {
        let end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let (name, op) = inner.split_at(end);
        let valid = !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())
            || name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty();
        if !valid {
            return Err(self.unsupported(&format!("`${{{inner}}}`")));
        }
        let param = |name: &str| match name.parse::<usize>() {
            Ok(n) => Param::Positional(n),
            Err(_) => Param::Name(name.to_string()),
        };
        match op {
            "" => Ok(param(name)),
            _ => {
                let (colon, word) = match op.strip_prefix(":-") {
                    Some(w) => (true, w),
                    None => match op.strip_prefix('-') {
                        Some(w) => (false, w),
                        None => return Err(self.unsupported(&format!("parameter expansion `${{{inner}}}`"))),
                    },
                };
                if word.contains(['$', '`', '\'', '"', '\\']) {
                    return Err(
                        self.unsupported(&format!("parameter expansion `${{{inner}}}` with a non-literal default"))
                    );
                }
                Ok(Param::Default { name: name.to_string(), word: word.to_string(), colon })
            }
        }
    }
}

/// What a `$` starts.
enum Dollar {
    Param(Param),
    Unsupported(String),
}

impl Dollar {
    fn into_part(self, quoted: bool) -> Part {
        match self {
            Dollar::Param(param) => Part::Param { param, quoted },
            Dollar::Unsupported(what) => Part::Unsupported(what),
        }
    }
}

fn flush(w: &mut Word, lit: &mut String) {
    if !lit.is_empty() {
        w.parts.push(Part::Lit { text: std::mem::take(lit), quoted: false });
    }
}

// ---------------------------------------------------------------------------------
// Parser

#[derive(Debug, Clone)]
enum Redir {
    /// Standard output to a file (`>`/`>>`), or `/dev/null`.
    Out {
        target: Word,
        append: bool,
    },
    /// `2>...`, `2>&1`, `>&2` and the like: output stays where it is.
    Keep,
    /// `&> FILE`: output and errors to a file.
    Both(Word),
    HereDoc(usize),
}

#[derive(Debug, Clone)]
struct Simple {
    assigns: Vec<(String, Word)>,
    words: Vec<Word>,
    redirs: Vec<Redir>,
    line: usize,
    text: String,
}

#[derive(Debug, Clone)]
enum Node {
    Simple(Simple),
    Case {
        word: Word,
        arms: Vec<(Vec<Word>, Vec<AndOr>)>,
        line: usize,
        text: String,
    },
    /// A construct the shell does not run (`if`, loops, functions, pipes): it is an
    /// error only when the script reaches it, so an unused `status)` branch with an
    /// `if` does not stop `start`.
    Unsupported {
        what: &'static str,
        line: usize,
        text: String,
    },
}

/// `a && b && c || true`.
#[derive(Debug, Clone)]
struct AndOr {
    nodes: Vec<Node>,
    /// `|| true`, `|| :`: a failure of the list is ignored.
    or_true: bool,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
}

/// Compound commands the shell recognises in order to skip them, with their closer.
const COMPOUND: &[(&str, &str, &str)] = &[
    ("if", "fi", "`if` (conditionals)"),
    ("for", "done", "`for` loops"),
    ("while", "done", "`while` loops"),
    ("until", "done", "`until` loops"),
    ("select", "done", "`select` loops"),
    ("case", "esac", "`case`"),
    ("{", "}", "`{ ... }` groups"),
];

/// Reserved words that cannot start a command.
const CLOSERS: &[&str] = &["then", "elif", "else", "fi", "do", "done", "}", "in", "esac"];

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn line(&self) -> usize {
        self.peek().or_else(|| self.toks.last()).map_or(1, |t| t.line)
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek().map(|t| &t.tok), Some(Tok::Newline)) {
            self.pos += 1;
        }
    }

    fn at_word(&self, w: &str) -> bool {
        matches!(self.peek().map(|t| &t.tok), Some(Tok::Word(word)) if word.plain() == Some(w))
    }

    fn unsupported(&self, what: &str) -> ScriptError {
        unsupported_at(self.src, self.line(), what)
    }

    fn syntax(&self, what: &str) -> ScriptError {
        syntax_at(self.src, self.line(), what)
    }

    /// Commands until the end, `;;` or `esac`.
    fn list(&mut self, in_case: bool) -> Result<Vec<AndOr>, ScriptError> {
        let mut out = Vec::new();
        loop {
            self.skip_newlines();
            let Some(t) = self.peek() else { break };
            match &t.tok {
                Tok::Op(Op::DSemi) if in_case => break,
                Tok::Word(w) if in_case && w.plain() == Some("esac") => break,
                _ => {}
            }
            let line = self.line();
            let ao = self.and_or()?;
            let what = match self.peek().map(|t| &t.tok) {
                Some(Tok::Op(Op::Amp)) => Some("background jobs `&`"),
                Some(Tok::Op(Op::Pipe)) => Some("pipes `|`"),
                _ => None,
            };
            if let Some(what) = what {
                while !matches!(self.peek().map(|t| &t.tok), None | Some(Tok::Newline | Tok::Op(Op::DSemi))) {
                    self.pos += 1;
                }
                let text = self.src.lines().nth(line - 1).unwrap_or("").trim().to_string();
                out.push(AndOr { nodes: vec![Node::Unsupported { what, line, text }], or_true: false });
                continue;
            }
            out.push(ao);
            match self.peek().map(|t| &t.tok) {
                None | Some(Tok::Newline) => {}
                Some(Tok::Op(Op::Semi)) => self.pos += 1,
                Some(Tok::Op(Op::DSemi)) if in_case => {}
                Some(Tok::Op(Op::DSemi)) => return Err(self.syntax("`;;` outside `case`")),
                Some(other) => return Err(self.syntax(&format!("unexpected {}", describe(other)))),
            }
        }
        Ok(out)
    }

    fn and_or(&mut self) -> Result<AndOr, ScriptError> {
        let mut nodes = vec![self.command()?];
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Op(Op::AndIf)) => {
                    self.pos += 1;
                    self.skip_newlines();
                    nodes.push(self.command()?);
                }
                Some(Tok::Op(Op::OrIf)) => {
                    self.pos += 1;
                    self.skip_newlines();
                    let Node::Simple(s) = self.command()? else {
                        return Err(self.unsupported("`||` followed by anything but `true`, `:` or `exit`"));
                    };
                    let first = s.words.first().and_then(Word::plain);
                    let ok = s.assigns.is_empty()
                        && match first {
                            Some("true" | ":") => s.words.len() == 1,
                            Some("exit") => s.words.len() <= 2,
                            _ => false,
                        };
                    if !ok {
                        return Err(self.unsupported("`||` followed by anything but `true`, `:` or `exit`"));
                    }
                    if !matches!(self.peek().map(|t| &t.tok), None | Some(Tok::Newline | Tok::Op(Op::Semi | Op::DSemi)))
                    {
                        return Err(self.unsupported("commands after `|| true` on the same list"));
                    }
                    return Ok(AndOr { nodes, or_true: first != Some("exit") });
                }
                _ => return Ok(AndOr { nodes, or_true: false }),
            }
        }
    }

    fn command(&mut self) -> Result<Node, ScriptError> {
        let Some(t) = self.peek().cloned() else { return Err(self.syntax("a command is missing")) };
        match &t.tok {
            Tok::Word(w) => {
                if let Some(p) = w.plain() {
                    if p == "case" {
                        return self.case();
                    }
                    if let Some((_, _, what)) = COMPOUND.iter().find(|(o, _, _)| *o == p) {
                        return self.skip(what);
                    }
                    if p == "function" {
                        return self.skip("functions");
                    }
                    if CLOSERS.contains(&p) {
                        return Err(self.syntax(&format!("unexpected `{p}`")));
                    }
                }
                if matches!(self.toks.get(self.pos + 1).map(|t| &t.tok), Some(Tok::Op(Op::LParen))) {
                    return self.skip("functions");
                }
            }
            Tok::Op(Op::LParen) => return self.skip("`( ... )` subshells"),
            Tok::IoNumber(_)
            | Tok::Op(
                Op::Great | Op::DGreat | Op::Less | Op::DLess { .. } | Op::GreatAnd | Op::LessAnd | Op::AndGreat,
            ) => {}
            other => return Err(self.syntax(&format!("unexpected {}", describe(other)))),
        }
        self.simple().map(Node::Simple)
    }

    /// Skips the compound command (or function definition) starting here, and what
    /// follows it up to the end of the list, as an [`Node::Unsupported`].
    fn skip(&mut self, what: &'static str) -> Result<Node, ScriptError> {
        let line = self.line();
        let text = self.src.lines().nth(line - 1).unwrap_or("").trim().to_string();
        let mut stack: Vec<&str> = Vec::new();
        let mut command_pos = true;
        let mut after_function = false;
        let mut opened = false;
        while let Some(t) = self.peek() {
            if opened && stack.is_empty() {
                break;
            }
            let tok = t.tok.clone();
            self.pos += 1;
            match &tok {
                Tok::Word(w) if command_pos => {
                    let p = w.plain().unwrap_or("");
                    if let Some((_, close, _)) = COMPOUND.iter().find(|(o, _, _)| *o == p) {
                        stack.push(close);
                        opened = true;
                    } else if stack.last() == Some(&p) {
                        stack.pop();
                    }
                    // After these, the next word starts a command again.
                    command_pos = matches!(p, "then" | "do" | "else" | "elif" | "{" | "if" | "while" | "until" | "!");
                    after_function = p == "function";
                }
                Tok::Word(_) => {
                    command_pos = after_function;
                    after_function = false;
                }
                Tok::Op(Op::LParen) if stack.last() != Some(&"esac") => {
                    command_pos = true;
                    if matches!(self.peek().map(|t| &t.tok), Some(Tok::Op(Op::RParen))) {
                        self.pos += 1;
                    } else {
                        stack.push(")");
                        opened = true;
                    }
                }
                Tok::Op(Op::RParen) if stack.last() == Some(&")") => {
                    stack.pop();
                    command_pos = false;
                }
                Tok::Newline
                | Tok::Op(Op::Semi | Op::DSemi | Op::AndIf | Op::OrIf | Op::Pipe | Op::Amp | Op::RParen) => {
                    command_pos = true;
                }
                _ => command_pos = false,
            }
        }
        if !stack.is_empty() || !opened {
            return Err(syntax_at(self.src, line, &format!("{what}: missing its end")));
        }
        // Redirections after the construct belong to it.
        while !matches!(self.peek().map(|t| &t.tok), None | Some(Tok::Newline | Tok::Op(Op::Semi | Op::DSemi))) {
            self.pos += 1;
        }
        Ok(Node::Unsupported { what, line, text })
    }

    fn simple(&mut self) -> Result<Simple, ScriptError> {
        let first = self.pos;
        let line = self.line();
        let mut s = Simple { assigns: Vec::new(), words: Vec::new(), redirs: Vec::new(), line, text: String::new() };
        let mut heredoc_no = self.toks[..first].iter().filter(|t| matches!(t.tok, Tok::Op(Op::DLess { .. }))).count();
        while let Some(t) = self.peek().cloned() {
            match t.tok {
                Tok::Word(w) => {
                    self.pos += 1;
                    if s.words.is_empty()
                        && let Some((name, value)) = assignment(&w)
                    {
                        s.assigns.push((name, value));
                        continue;
                    }
                    if matches!(self.peek().map(|t| &t.tok), Some(Tok::Op(Op::LParen))) && s.words.is_empty() {
                        return Err(self.unsupported("functions"));
                    }
                    s.words.push(w);
                }
                Tok::IoNumber(fd) => {
                    self.pos += 1;
                    let op = match self.peek().map(|t| t.tok.clone()) {
                        Some(Tok::Op(op)) => op,
                        _ => return Err(self.syntax("a redirection is incomplete")),
                    };
                    self.pos += 1;
                    s.redirs.push(self.redirect(fd, op, &mut heredoc_no)?);
                }
                Tok::Op(
                    ref op @ (Op::Great
                    | Op::DGreat
                    | Op::Less
                    | Op::DLess { .. }
                    | Op::GreatAnd
                    | Op::LessAnd
                    | Op::AndGreat),
                ) => {
                    self.pos += 1;
                    let fd = if matches!(op, Op::Less | Op::DLess { .. } | Op::LessAnd) { 0 } else { 1 };
                    s.redirs.push(self.redirect(fd, op.clone(), &mut heredoc_no)?);
                }
                _ => break,
            }
        }
        let end = self.toks.get(self.pos.saturating_sub(1)).map_or(0, |t| t.end);
        let start = self.toks.get(first).map_or(0, |t| t.start);
        s.text = self
            .src
            .get(start..end.max(start))
            .unwrap_or("")
            .replace("\\\n", " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if s.words.is_empty() && s.assigns.is_empty() && s.redirs.is_empty() {
            return Err(self.syntax("a command is missing"));
        }
        Ok(s)
    }

    fn redirect(&mut self, fd: u32, op: Op, heredoc_no: &mut usize) -> Result<Redir, ScriptError> {
        let target = match self.peek().map(|t| t.tok.clone()) {
            Some(Tok::Word(w)) => {
                self.pos += 1;
                w
            }
            _ => return Err(self.syntax("a redirection needs a target")),
        };
        Ok(match op {
            Op::DLess { .. } => {
                let n = *heredoc_no;
                *heredoc_no += 1;
                Redir::HereDoc(n)
            }
            Op::Less | Op::LessAnd => {
                return Err(self.unsupported("input redirection `<` (a here-document into `cat` is supported)"));
            }
            Op::GreatAnd => match target.plain() {
                Some("1" | "2") => Redir::Keep,
                Some("-") => return Err(self.unsupported("closing a descriptor `>&-`")),
                _ if fd == 1 => Redir::Both(target),
                _ => return Err(self.unsupported("redirections other than to files, `&1` and `&2`")),
            },
            Op::AndGreat => Redir::Both(target),
            _ if fd == 2 => Redir::Keep,
            _ if fd == 1 => Redir::Out { target, append: op == Op::DGreat },
            _ => return Err(self.unsupported(&format!("redirecting descriptor {fd}"))),
        })
    }

    fn case(&mut self) -> Result<Node, ScriptError> {
        let line = self.line();
        let start = self.peek().map_or(0, |t| t.start);
        self.pos += 1;
        let word = match self.peek().map(|t| t.tok.clone()) {
            Some(Tok::Word(w)) => {
                self.pos += 1;
                w
            }
            _ => return Err(self.syntax("`case` needs a word")),
        };
        self.skip_newlines();
        if !self.at_word("in") {
            return Err(self.syntax("`case WORD` needs `in`"));
        }
        let end = self.peek().map_or(start, |t| t.end);
        let text = self.src.get(start..end).unwrap_or("case").to_string();
        self.pos += 1;
        let mut arms = Vec::new();
        loop {
            self.skip_newlines();
            if self.at_word("esac") {
                self.pos += 1;
                break;
            }
            if self.peek().is_none() {
                return Err(self.syntax("`case` without `esac`"));
            }
            if matches!(self.peek().map(|t| &t.tok), Some(Tok::Op(Op::LParen))) {
                self.pos += 1;
            }
            let mut pats = Vec::new();
            loop {
                match self.peek().map(|t| t.tok.clone()) {
                    Some(Tok::Word(w)) => {
                        self.pos += 1;
                        pats.push(w);
                    }
                    _ => return Err(self.syntax("a `case` pattern is missing")),
                }
                match self.peek().map(|t| &t.tok) {
                    Some(Tok::Op(Op::Pipe)) => self.pos += 1,
                    Some(Tok::Op(Op::RParen)) => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.syntax("a `case` pattern must end with `)`")),
                }
            }
            let body = self.list(true)?;
            if matches!(self.peek().map(|t| &t.tok), Some(Tok::Op(Op::DSemi))) {
                self.pos += 1;
            }
            arms.push((pats, body));
        }
        Ok(Node::Case { word, arms, line, text })
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(_) => "word".into(),
        Tok::IoNumber(n) => format!("`{n}`"),
        Tok::Newline => "end of line".into(),
        Tok::Op(op) => format!(
            "`{}`",
            match op {
                Op::Semi => ";",
                Op::DSemi => ";;",
                Op::AndIf => "&&",
                Op::OrIf => "||",
                Op::Pipe => "|",
                Op::Amp => "&",
                Op::LParen => "(",
                Op::RParen => ")",
                Op::Great => ">",
                Op::DGreat => ">>",
                Op::Less => "<",
                Op::DLess { .. } => "<<",
                Op::GreatAnd => ">&",
                Op::LessAnd => "<&",
                Op::AndGreat => "&>",
            }
        ),
    }
}

/// `NAME=value` at the start of a simple command.
fn assignment(w: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit { text, quoted: false }) = w.parts.first() else { return None };
    let (name, rest) = text.split_once('=')?;
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return None;
    }
    let mut value = Word::default();
    if !rest.is_empty() {
        value.parts.push(Part::Lit { text: rest.to_string(), quoted: false });
    }
    value.parts.extend(w.parts[1..].iter().cloned());
    Some((name.to_string(), value))
}

fn parse(src: &str) -> Result<(Vec<AndOr>, Vec<HereDoc>), ScriptError> {
    let lexer = Lexer {
        src,
        pos: 0,
        line: 1,
        tokens: Vec::new(),
        heredocs: Vec::new(),
        pending: Vec::new(),
        expect_delim: None,
    };
    let (toks, heredocs) = lexer.lex()?;
    let mut p = Parser { src, toks, pos: 0 };
    let list = p.list(false)?;
    if p.peek().is_some() {
        return Err(p.syntax("unexpected `;;` or `esac`"));
    }
    Ok((list, heredocs))
}

// ---------------------------------------------------------------------------------
// Interpreter

/// How a command list ended: on to the next, or `exit N` (with where it was).
enum Flow {
    Next,
    Exit(i32, (usize, String)),
}

struct Shell<'e> {
    env: &'e mut dyn ShellEnv,
    vars: BTreeMap<String, String>,
    name: String,
    args: Vec<String>,
    out: String,
    nounset: bool,
    depth: usize,
}

/// Where a command's output goes.
enum Sink {
    Out,
    Null,
    File { path: String, append: bool },
    Sysctl(String),
}

impl Shell<'_> {
    fn run_text(&mut self, text: &str) -> Result<Flow, ScriptError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (list, heredocs) = parse(text)?;
        self.run_list(&list, &heredocs)
    }

    fn run_list(&mut self, list: &[AndOr], heredocs: &[HereDoc]) -> Result<Flow, ScriptError> {
        for ao in list {
            for node in &ao.nodes {
                match self.run_node(node, heredocs) {
                    Ok(Flow::Next) => {}
                    Ok(exit) => return Ok(exit),
                    Err(_) if ao.or_true => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Flow::Next)
    }

    fn run_node(&mut self, node: &Node, heredocs: &[HereDoc]) -> Result<Flow, ScriptError> {
        match node {
            Node::Simple(s) => self.run_simple(s, heredocs),
            Node::Unsupported { what, line, text } => Err(ScriptError {
                line: *line,
                command: text.clone(),
                message: format!("{what} is not supported by lvs-lab's shell ({SUPPORTED})"),
                status: 2,
                stdout: String::new(),
            }),
            Node::Case { word, arms, line, text } => {
                let fail = |message| ScriptError {
                    line: *line,
                    command: text.clone(),
                    message,
                    status: 1,
                    stdout: String::new(),
                };
                let value = self.expand_one(word).map_err(fail)?;
                for (pats, body) in arms {
                    for p in pats {
                        let pat = self.pattern(p).map_err(fail)?;
                        if glob_match(&pat, &value) {
                            return self.run_list(body, heredocs);
                        }
                    }
                }
                Ok(Flow::Next)
            }
        }
    }

    fn lookup(&self, param: &Param) -> Result<String, String> {
        Ok(match param {
            Param::Name(n) => match self.vars.get(n) {
                Some(v) => v.clone(),
                None if self.nounset => return Err(format!("{n}: parameter not set (set -u)")),
                None => String::new(),
            },
            Param::Positional(0) => self.name.clone(),
            Param::Positional(i) => match self.args.get(i - 1) {
                Some(v) => v.clone(),
                None if self.nounset => return Err(format!("${i}: parameter not set (set -u)")),
                None => String::new(),
            },
            Param::Count => self.args.len().to_string(),
            Param::All => self.args.join(" "),
            Param::Status => "0".into(),
            Param::Default { name, word, colon } => {
                let v = match name.parse::<usize>() {
                    Ok(0) => Some(self.name.clone()),
                    Ok(i) => self.args.get(i - 1).cloned(),
                    Err(_) => self.vars.get(name).cloned(),
                };
                match v {
                    Some(v) if !(*colon && v.is_empty()) => v,
                    _ => word.clone(),
                }
            }
        })
    }

    /// Expands a word into fields (unquoted expansions are split on blanks).
    fn fields(&self, w: &Word) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut have = false;
        for p in &w.parts {
            match p {
                Part::Lit { text, quoted } => {
                    cur.push_str(text);
                    have |= *quoted || !text.is_empty();
                }
                Part::Param { param, quoted: true } => {
                    cur.push_str(&self.lookup(param)?);
                    have = true;
                }
                Part::Unsupported(what) => return Err(not_supported(what)),
                Part::Param { param, quoted: false } => {
                    let v = self.lookup(param)?;
                    let blank = |c: char| c == ' ' || c == '\t' || c == '\n';
                    if v.starts_with(blank) && have {
                        out.push(std::mem::take(&mut cur));
                        have = false;
                    }
                    for (i, piece) in v.split(blank).filter(|s| !s.is_empty()).enumerate() {
                        if i > 0 {
                            out.push(std::mem::take(&mut cur));
                        }
                        cur.push_str(piece);
                        have = true;
                    }
                    if v.ends_with(blank) && have {
                        out.push(std::mem::take(&mut cur));
                        have = false;
                    }
                }
            }
        }
        if have {
            out.push(cur);
        }
        Ok(out)
    }

    /// Expands a word into one string, without splitting (assignments, `case`).
    fn expand_one(&self, w: &Word) -> Result<String, String> {
        let mut s = String::new();
        for p in &w.parts {
            match p {
                Part::Lit { text, .. } => s.push_str(text),
                Part::Param { param, .. } => s.push_str(&self.lookup(param)?),
                Part::Unsupported(what) => return Err(not_supported(what)),
            }
        }
        Ok(s)
    }

    /// A `case` pattern: glob characters of quoted parts are escaped.
    fn pattern(&self, w: &Word) -> Result<Vec<PatChar>, String> {
        let mut out = Vec::new();
        for p in &w.parts {
            match p {
                Part::Lit { text, quoted: false } => out.extend(compile_glob(text)),
                Part::Lit { text, quoted: true } => out.extend(text.chars().map(PatChar::Lit)),
                Part::Param { param, quoted } => {
                    let v = self.lookup(param)?;
                    if *quoted { out.extend(v.chars().map(PatChar::Lit)) } else { out.extend(compile_glob(&v)) }
                }
                Part::Unsupported(what) => return Err(not_supported(what)),
            }
        }
        Ok(out)
    }

    fn run_simple(&mut self, s: &Simple, heredocs: &[HereDoc]) -> Result<Flow, ScriptError> {
        let fail = |message: String, status: i32| ScriptError {
            line: s.line,
            command: s.text.clone(),
            message,
            status,
            stdout: String::new(),
        };
        if s.words.iter().any(Word::has_glob) {
            return Err(fail(
                format!("globs (`*`, `?`, `[...]`) are not supported by lvs-lab's shell ({SUPPORTED})"),
                2,
            ));
        }
        let mut fields = Vec::new();
        for w in &s.words {
            fields.extend(self.fields(w).map_err(|m| fail(m, 1))?);
        }
        if fields.is_empty() || s.words.is_empty() {
            for (name, value) in &s.assigns {
                let v = self.expand_one(value).map_err(|m| fail(m, 1))?;
                self.vars.insert(name.clone(), v);
            }
        }
        // Where output goes and what comes in.
        let mut sink = Sink::Out;
        let mut stdin = None;
        for r in &s.redirs {
            match r {
                Redir::Keep => {}
                Redir::HereDoc(i) => {
                    let body = heredocs.get(*i).map(|h| &h.body).cloned().unwrap_or_default();
                    stdin = Some(self.expand_one(&body).map_err(|m| fail(m, 1))?);
                }
                Redir::Out { target, .. } | Redir::Both(target) if !target.has_glob() => {
                    let append = matches!(r, Redir::Out { append: true, .. });
                    let path = self.expand_one(target).map_err(|m| fail(m, 1))?;
                    sink = if path == "/dev/null" {
                        Sink::Null
                    } else if let Some(key) = sysctl::proc_key(&path) {
                        Sink::Sysctl(key)
                    } else {
                        Sink::File { path, append }
                    };
                }
                Redir::Out { .. } | Redir::Both(_) => {
                    return Err(fail(
                        format!("globs in redirections are not supported by lvs-lab's shell ({SUPPORTED})"),
                        2,
                    ));
                }
            }
        }
        // `sudo cmd` is `cmd`.
        let mut argv: &[String] = &fields;
        while argv.first().is_some_and(|f| f == "sudo") {
            argv = &argv[1..];
        }
        let (output, flow) = if argv.is_empty() {
            (String::new(), Flow::Next)
        } else {
            self.run_argv(argv, stdin, s)
                .map_err(|e| if e.line == 0 { ScriptError { line: s.line, command: s.text.clone(), ..e } } else { e })?
        };
        match sink {
            Sink::Out => self.out.push_str(&output),
            Sink::Null => {}
            Sink::File { path, append } => {
                self.env.write_file(&path, &output, append).map_err(|e| fail(e.message, e.status))?
            }
            Sink::Sysctl(key) => {
                let value = output.trim_end_matches('\n').to_string();
                let cmd = Command::Sysctl(sysctl::Sysctl {
                    op: sysctl::SysctlOp::Items(vec![sysctl::SysctlItem::Write(sysctl::Setting {
                        key,
                        value,
                        ignore_errors: false,
                    })]),
                    values_only: false,
                    names_only: false,
                    quiet: true,
                    ignore_unknown: false,
                });
                self.env
                    .run(&cmd, Site { script: &self.name, line: s.line, text: &s.text, argv: &[] })
                    .map_err(|e| fail(e.message, e.status))?;
            }
        }
        Ok(flow)
    }

    /// Runs one command; errors with line 0 get the command's line from the caller.
    fn run_argv(&mut self, argv: &[String], stdin: Option<String>, s: &Simple) -> Result<(String, Flow), ScriptError> {
        let err = |message: String, status: i32| ScriptError {
            line: 0,
            command: String::new(),
            message,
            status,
            stdout: String::new(),
        };
        let name = argv[0].as_str();
        let args = &argv[1..];
        if stdin.is_some() && name != "cat" {
            return Err(err(
                format!("a here-document into `{name}` is not supported by lvs-lab's shell (only into `cat`)"),
                2,
            ));
        }
        let next = |out: String| Ok((out, Flow::Next));
        match name {
            "echo" => next(echo(args)),
            "true" | ":" => next(String::new()),
            "false" => Err(err("false".into(), 1)),
            "exit" => {
                let status = match args {
                    [] => 0,
                    [n] => n.parse::<i32>().map_err(|_| err(format!("exit: {n}: numeric argument required"), 2))?,
                    _ => return Err(err("exit: too many arguments".into(), 2)),
                };
                Ok((String::new(), Flow::Exit(status, (s.line, s.text.clone()))))
            }
            "export" | "readonly" => {
                for a in args {
                    if let Some((n, v)) = a.split_once('=') {
                        self.vars.insert(n.to_string(), v.to_string());
                    }
                }
                next(String::new())
            }
            "set" => {
                for a in args {
                    match a.as_str() {
                        "-e" | "-x" | "+x" | "-ex" | "-xe" | "-o" | "errexit" | "xtrace" => {}
                        "-u" | "-eu" | "-ue" | "nounset" => self.nounset = true,
                        _ => return Err(err(format!("set {a}: not supported by lvs-lab's shell (set -e, -x, -u)"), 2)),
                    }
                }
                next(String::new())
            }
            "cat" => {
                if let Some(text) = stdin {
                    if !args.is_empty() {
                        return Err(err("cat: files and a here-document together are not supported".into(), 2));
                    }
                    return next(text);
                }
                if args.is_empty() {
                    return Err(err("cat: reading standard input is not supported by lvs-lab's shell (give a file or a here-document)".into(), 2));
                }
                let mut out = String::new();
                for path in args {
                    if let Some(key) = sysctl::proc_key(path) {
                        let cmd = Command::Sysctl(sysctl::Sysctl {
                            op: sysctl::SysctlOp::Items(vec![sysctl::SysctlItem::Read(key)]),
                            values_only: true,
                            names_only: false,
                            quiet: false,
                            ignore_unknown: false,
                        });
                        out.push_str(
                            &self
                                .env
                                .run(&cmd, Site { script: &self.name, line: s.line, text: &s.text, argv: &[] })
                                .map_err(|e| err(e.message, e.status))?,
                        );
                    } else {
                        match self.env.read_file(path) {
                            Some(t) => out.push_str(&t),
                            None => return Err(err(format!("cat: {path}: No such file or directory"), 1)),
                        }
                    }
                }
                next(out)
            }
            "." | "source" => {
                let path = args.first().ok_or_else(|| err(format!("{name}: filename argument required"), 2))?;
                if path.ends_with("/init.d/functions") {
                    return next(String::new());
                }
                let text = self
                    .env
                    .read_file(path)
                    .ok_or_else(|| err(format!("{name}: {path}: No such file or directory"), 1))?;
                self.nested(path, |sh| sh.run_text(&text)).map(|f| (String::new(), f))
            }
            "sh" | "bash" => {
                let path = args.first().filter(|p| !p.starts_with('-')).ok_or_else(|| {
                    err(format!("`{name}` runs a script file here (`{name} FILE [ARGS]`); options and `-c` are not supported"), 2)
                })?;
                self.run_file(path, &args[1..])
            }
            "touch" => {
                for path in args.iter().filter(|a| !a.starts_with('-')) {
                    self.env.write_file(path, "", true).map_err(|e| err(e.message, e.status))?;
                }
                next(String::new())
            }
            "rm" => {
                let force = args.iter().any(|a| a.starts_with('-') && a.contains('f'));
                for path in args.iter().filter(|a| !a.starts_with('-')) {
                    if !self.env.remove_file(path) && !force {
                        return Err(err(format!("rm: cannot remove '{path}': No such file or directory"), 1));
                    }
                }
                next(String::new())
            }
            "mkdir" | "chmod" | "chkconfig" | "logger" => next(String::new()),
            "[" | "[[" | "test" => Err(err(not_supported("`[ ... ]`/`test` conditions"), 2)),
            "!" => Err(err(not_supported("`!` (negating a command)"), 2)),
            _ if name.contains('/') && self.env.read_file(name).is_some() => self.run_file(name, args),
            _ => {
                let cmd = parse_argv(argv).map_err(|e| err(e.message, e.status))?;
                next(
                    self.env
                        .run(&cmd, Site { script: &self.name, line: s.line, text: &s.text, argv })
                        .map_err(|e| err(e.message, e.status))?,
                )
            }
        }
    }

    fn run_file(&mut self, path: &str, args: &[String]) -> Result<(String, Flow), ScriptError> {
        let text = self.env.read_file(path).ok_or_else(|| ScriptError {
            line: 0,
            command: String::new(),
            message: format!("{path}: No such file or directory"),
            status: 127,
            stdout: String::new(),
        })?;
        let mut child = Shell {
            env: &mut *self.env,
            vars: BTreeMap::new(),
            name: path.to_string(),
            args: args.to_vec(),
            out: String::new(),
            nounset: false,
            depth: self.depth + 1,
        };
        let flow = child.nested(path, |sh| sh.run_text(&text));
        let out = std::mem::take(&mut child.out);
        match flow? {
            Flow::Exit(status, _) if status != 0 => Err(ScriptError {
                line: 0,
                command: String::new(),
                message: format!("{path} exited with status {status}\n{out}"),
                status,
                stdout: String::new(),
            }),
            _ => Ok((out, Flow::Next)),
        }
    }

    /// Runs a sourced or nested script, naming it in its errors.
    fn nested(
        &mut self,
        path: &str,
        f: impl FnOnce(&mut Self) -> Result<Flow, ScriptError>,
    ) -> Result<Flow, ScriptError> {
        if self.depth >= MAX_DEPTH {
            return Err(ScriptError {
                line: 0,
                command: String::new(),
                message: format!("{path}: scripts nested too deep"),
                status: 2,
                stdout: String::new(),
            });
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r.map_err(|e| ScriptError {
            line: 0,
            command: String::new(),
            message: format!("{path}: line {}: `{}`: {}", e.line, e.command, e.message),
            status: e.status,
            stdout: String::new(),
        })
    }
}

fn not_supported(what: &str) -> String {
    format!("{what} is not supported by lvs-lab's shell ({SUPPORTED})")
}

/// bash's `echo`: `-n` drops the newline, `-e` interprets `\n`, `\t`, `\\`, `\c`.
fn echo(args: &[String]) -> String {
    let (mut newline, mut escapes) = (true, false);
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let Some(flags) =
            a.strip_prefix('-').filter(|f| !f.is_empty() && f.chars().all(|c| matches!(c, 'n' | 'e' | 'E')))
        else {
            break;
        };
        for c in flags.chars() {
            match c {
                'n' => newline = false,
                'e' => escapes = true,
                _ => escapes = false,
            }
        }
        i += 1;
    }
    let text = args[i..].join(" ");
    let mut out = String::new();
    if escapes {
        let mut it = text.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some('c') => return out,
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        }
    } else {
        out = text;
    }
    if newline {
        out.push('\n');
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatChar {
    Lit(char),
    Any,
    Star,
    /// `[...]`: ranges, negated with `!` or `^`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

fn compile_glob(text: &str) -> Vec<PatChar> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push(PatChar::Star),
            '?' => out.push(PatChar::Any),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                out.push(PatChar::Lit(chars[i]));
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let begin = j;
                let mut ranges = Vec::new();
                while j < chars.len() && (chars[j] != ']' || j == begin) {
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|c| *c != ']') {
                        ranges.push((chars[j], chars[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((chars[j], chars[j]));
                        j += 1;
                    }
                }
                if j < chars.len() {
                    out.push(PatChar::Class { negated, ranges });
                    i = j;
                } else {
                    out.push(PatChar::Lit('['));
                }
            }
            c => out.push(PatChar::Lit(c)),
        }
        i += 1;
    }
    out
}

/// Glob matching with backtracking over the last `*` (linear in practice).
fn glob_match(pat: &[PatChar], text: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < t.len() {
        let ok = match pat.get(p) {
            Some(PatChar::Lit(c)) => *c == t[i],
            Some(PatChar::Any) => true,
            Some(PatChar::Class { negated, ranges }) => {
                ranges.iter().any(|(a, b)| (*a..=*b).contains(&t[i])) != *negated
            }
            Some(PatChar::Star) => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            None => false,
        };
        if ok {
            p += 1;
            i += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    pat[p.min(pat.len())..].iter().all(|c| *c == PatChar::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let m = |p: &str, t: &str| glob_match(&compile_glob(p), t);
        assert!(m("*", "anything") && m("*", ""));
        assert!(m("st*t", "start") && !m("st*t", "stop"));
        assert!(m("?top", "stop") && m("[sS]tart", "Start") && !m("[!sS]tart", "start"));
        assert!(m("a*b*c", "aXbYbZc") && !m("a*b*c", "aXbYbZ"));
        assert!(m("[a-c]x", "bx") && m("[", "["));
    }

    #[test]
    fn echo_flags() {
        let s = |v: &[&str]| echo(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["a", "b"]), "a b\n");
        assert_eq!(s(&["-n", "a"]), "a");
        assert_eq!(s(&["-e", "a\\nb"]), "a\nb\n");
        assert_eq!(s(&["a\\nb"]), "a\\nb\n");
        assert_eq!(s(&["-x"]), "-x\n");
    }
}
