//! How one setting is read: the environment first, then the config file, with secrets
//! also from files named by `…_FILE` variables. Every reader records what is wrong as a
//! [`Problem`] instead of stopping, so one run can report them all.

use super::Problem;
use secrecy::SecretString;
use std::time::Duration;

/// Reads settings; `env` looks a variable up (the process environment in production).
pub(super) struct Loader<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl<'a> Loader<'a> {
    pub(super) fn new(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            env,
            problems: Vec::new(),
        }
    }

    /// `value` when nothing was wrong, else every problem in the order found.
    pub(super) fn finish<T>(self, value: T) -> Result<T, Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }

    pub(super) fn problem(&mut self, setting: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem {
            setting: setting.into(),
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// `var` names something that only works together with `other`, which is set.
    pub(super) fn missing(&mut self, var: &str, other: &str, fix: &str) {
        self.problem(var, format!("is missing while {other} is set"), fix);
    }

    /// A plain setting: the environment variable, else the file's value.
    pub(super) fn plain(&mut self, var: &str, file: Option<String>) -> Option<String> {
        (self.env)(var).filter(|v| !v.is_empty()).or(file)
    }

    /// A secret: `VAR`, else the file named by `VAR_FILE`, else the config file's value.
    pub(super) fn secret(&mut self, var: &str, file: Option<String>) -> Option<SecretString> {
        if let Some(v) = (self.env)(var).filter(|v| !v.is_empty()) {
            return Some(SecretString::from(v));
        }
        let file_var = format!("{var}_FILE");
        if let Some(path) = (self.env)(&file_var).filter(|v| !v.is_empty()) {
            return match std::fs::read_to_string(&path) {
                Ok(s) if !s.trim().is_empty() => Some(SecretString::from(s.trim().to_owned())),
                Ok(_) => {
                    self.problem(&file_var, format!("the file {path} is empty"), "put the secret in it");
                    None
                }
                Err(e) => {
                    self.problem(
                        &file_var,
                        format!("cannot read {path}: {e}"),
                        "point it at a readable file holding the secret",
                    );
                    None
                }
            };
        }
        file.filter(|v| !v.is_empty()).map(SecretString::from)
    }

    /// A plain setting that must be an http(s) URL; kept without its trailing `/`.
    pub(super) fn url(&mut self, var: &str, file: Option<String>) -> Option<String> {
        let v = self.plain(var, file)?;
        if v.starts_with("http://") || v.starts_with("https://") {
            Some(v.trim_end_matches('/').to_owned())
        } else {
            self.problem(
                var,
                format!("`{v}` is not an http(s) URL"),
                "use e.g. https://host/path",
            );
            None
        }
    }

    /// A plain setting with a fixed set of values, `default` when unset.
    pub(super) fn parsed<T: std::str::FromStr<Err = String>>(
        &mut self,
        var: &str,
        file: Option<String>,
        default: T,
    ) -> T {
        match self.plain(var, file) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|e: String| {
                self.problem(var, e, "use one of the listed values");
                default
            }),
        }
    }

    /// A number from the environment, else the file's (already a number).
    pub(super) fn number<T: std::str::FromStr>(&mut self, var: &str, file: Option<T>) -> Option<T> {
        match (self.env)(var).filter(|v| !v.is_empty()) {
            Some(v) => match v.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.problem(var, format!("`{v}` is not a number"), "use a whole number");
                    None
                }
            },
            None => file,
        }
    }

    /// A duration in milliseconds, `default` when unset.
    pub(super) fn millis(&mut self, var: &str, file: Option<u64>, default: Duration) -> Duration {
        self.number(var, file).map(Duration::from_millis).unwrap_or(default)
    }
}
