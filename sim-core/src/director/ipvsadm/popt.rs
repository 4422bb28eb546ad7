//! The slice of libpopt's behaviour ipvsadm relies on: clustered short options
//! (`-Ln`, `-at VIP:80`), an argument glued to its option (`-w3`) or in the next
//! word, `--long` and `--long=value`, optional arguments that are only taken
//! from a next word not starting with `-` (`-p` / `-p 600`), `--` ending options,
//! and non-option words kept as leftover arguments.

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    None,
    Required,
    Optional,
}

/// One entry of the option table (`struct poptOption`).
#[derive(Debug, Clone, Copy)]
pub struct Opt<T: Copy> {
    pub long: &'static str,
    pub short: Option<char>,
    pub arg: Arg,
    pub tag: T,
}

/// popt's errors, with `poptStrerror`'s text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoptError {
    /// POPT_ERROR_NOARG.
    NoArg,
    /// POPT_ERROR_BADOPT.
    BadOpt,
    /// POPT_ERROR_UNWANTEDARG.
    UnwantedArg,
}

impl PoptError {
    pub fn text(self) -> &'static str {
        match self {
            PoptError::NoArg => "missing argument",
            PoptError::BadOpt => "unknown option",
            PoptError::UnwantedArg => "option does not take an argument",
        }
    }
}

/// What `poptGetNextOpt` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next<T> {
    Opt(T, Option<String>),
    /// No more options (-1).
    End,
    /// An error, and the word it is about (`poptBadOption`).
    Err(PoptError, String),
}

/// A parsing context over `argv` (without the program name).
#[derive(Debug)]
pub struct Context<'a> {
    argv: &'a [String],
    next: usize,
    /// Inside a short-option cluster: the word and the byte offset of its next char.
    cluster: Option<(usize, usize)>,
    only_args: bool,
    leftovers: Vec<String>,
    taken_leftovers: usize,
    /// The word the last option came from.
    last: usize,
}

impl<'a> Context<'a> {
    pub fn new(argv: &'a [String]) -> Self {
        Context { argv, next: 0, cluster: None, only_args: false, leftovers: Vec::new(), taken_leftovers: 0, last: 0 }
    }

    /// The next word as an optional argument: only if it exists and does not start
    /// with `-`.
    fn optional_word(&mut self) -> Option<String> {
        let w = self.argv.get(self.next)?;
        if w.starts_with('-') {
            return None;
        }
        self.next += 1;
        Some(w.clone())
    }

    fn arg_for<T: Copy>(&mut self, o: &Opt<T>, inline: Option<String>, word: usize) -> Next<T> {
        match (o.arg, inline) {
            (Arg::None, None) => Next::Opt(o.tag, None),
            (Arg::None, Some(_)) => Next::Err(PoptError::UnwantedArg, self.argv[word].clone()),
            (_, Some(v)) => Next::Opt(o.tag, Some(v)),
            (Arg::Optional, None) => Next::Opt(o.tag, self.optional_word()),
            (Arg::Required, None) => match self.argv.get(self.next) {
                Some(w) => {
                    self.next += 1;
                    Next::Opt(o.tag, Some(w.clone()))
                }
                None => Next::Err(PoptError::NoArg, self.argv[word].clone()),
            },
        }
    }

    /// `poptGetNextOpt` over `table`.
    pub fn next_opt<T: Copy>(&mut self, table: &[Opt<T>]) -> Next<T> {
        if let Some((w, pos)) = self.cluster {
            self.last = w;
            let word = &self.argv[w];
            let Some(c) = word[pos..].chars().next() else {
                self.cluster = None;
                return self.next_opt(table);
            };
            let end = pos + c.len_utf8();
            let Some(o) = table.iter().find(|o| o.short == Some(c)) else {
                self.cluster = None;
                return Next::Err(PoptError::BadOpt, word.clone());
            };
            if o.arg == Arg::None {
                self.cluster = (end < word.len()).then_some((w, end));
                return Next::Opt(o.tag, None);
            }
            self.cluster = None;
            let rest = (end < word.len()).then(|| word[end..].to_string());
            return self.arg_for(o, rest, w);
        }
        while let Some(word) = self.argv.get(self.next) {
            let w = self.next;
            self.next += 1;
            if self.only_args || !word.starts_with('-') || word == "-" {
                self.leftovers.push(word.clone());
                continue;
            }
            if word == "--" {
                self.only_args = true;
                continue;
            }
            if let Some(long) = word.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let Some(o) = table.iter().find(|o| o.long == name) else {
                    return Next::Err(PoptError::BadOpt, word.clone());
                };
                self.last = w;
                return self.arg_for(o, inline, w);
            }
            self.cluster = Some((w, 1));
            return self.next_opt(table);
        }
        Next::End
    }

    /// The index of the word the last option came from (`poptBadOption`).
    pub fn last_word(&self) -> usize {
        self.last
    }

    /// `poptGetArg`: the next leftover word (after options are exhausted).
    pub fn get_arg(&mut self) -> Option<String> {
        let a = self.leftovers.get(self.taken_leftovers).cloned();
        if a.is_some() {
            self.taken_leftovers += 1;
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[Opt<char>] = &[
        Opt { long: "list", short: Some('L'), arg: Arg::None, tag: 'L' },
        Opt { long: "numeric", short: Some('n'), arg: Arg::None, tag: 'n' },
        Opt { long: "tcp-service", short: Some('t'), arg: Arg::Required, tag: 't' },
        Opt { long: "persistent", short: Some('p'), arg: Arg::Optional, tag: 'p' },
    ];

    fn all(words: &[&str]) -> (Vec<Next<char>>, Vec<String>) {
        let argv: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        let mut c = Context::new(&argv);
        let mut v = Vec::new();
        loop {
            let n = c.next_opt(T);
            let stop = !matches!(n, Next::Opt(..));
            v.push(n);
            if stop {
                break;
            }
        }
        let mut left = Vec::new();
        while let Some(a) = c.get_arg() {
            left.push(a);
        }
        (v, left)
    }

    #[test]
    fn clusters_and_arguments() {
        let (v, _) = all(&["-Ln", "-t1.2.3.4:80", "-p", "-t", "x", "--persistent", "600", "-p", "-n"]);
        assert_eq!(
            v,
            [
                Next::Opt('L', None),
                Next::Opt('n', None),
                Next::Opt('t', Some("1.2.3.4:80".into())),
                Next::Opt('p', None),
                Next::Opt('t', Some("x".into())),
                Next::Opt('p', Some("600".into())),
                Next::Opt('p', None),
                Next::Opt('n', None),
                Next::End
            ]
        );
        let (v, left) = all(&["extra", "-Lt"]);
        assert_eq!(v, [Next::Opt('L', None), Next::Err(PoptError::NoArg, "-Lt".into())]);
        assert!(left.contains(&"extra".to_string()));
        // A required argument is the next word, whatever it looks like.
        let (v, _) = all(&["-t", "--"]);
        assert_eq!(v[0], Next::Opt('t', Some("--".into())));
        let (v, _) = all(&["--tcp-service=a", "--list=1"]);
        assert_eq!(v[1], Next::Err(PoptError::UnwantedArg, "--list=1".into()));
        let (v, _) = all(&["-Lq"]);
        assert_eq!(v[1], Next::Err(PoptError::BadOpt, "-Lq".into()));
        let (_, left) = all(&["--", "-n", "x"]);
        assert_eq!(left, ["-n", "x"]);
    }
}
