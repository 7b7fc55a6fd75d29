//! `ConfigError`: every way loading the configuration fails. Each message says where the bad
//! value came from (file position, variable, flag) and never contains a secret.

use std::io;
use std::ops::Range;
use std::path::PathBuf;

/// A configuration that cannot be used; the CLI exits with status 2 on any of these.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` named a file that does not exist (the default path may be absent).
    #[error("configuration file {} does not exist", path.display())]
    Missing { path: PathBuf },

    #[error("cannot read configuration file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A syntax error or a bad value in the file; `line` and `column` count from 1, the
    /// column in characters.
    #[error("{}:{line}:{column}: {message}", path.display())]
    File {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("environment variable {name}=`{value}`: {message}")]
    Env {
        name: String,
        value: String,
        message: String,
    },

    /// A value wrong in combination with others, when no file position or variable applies.
    #[error("invalid {key}: {message}")]
    Invalid { key: String, message: String },

    #[error("flag {flag} `{value}`: {message}")]
    Flag {
        flag: &'static str,
        value: String,
        message: String,
    },

    /// The message names the path, never what the file holds.
    #[error("cannot read password_file {} of registry `{registry}`", path.display())]
    PasswordFile {
        registry: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("password_file {} of registry `{registry}` is empty", path.display())]
    EmptyPasswordFile { registry: String, path: PathBuf },

    /// The message names the path, never what the file holds.
    #[error("cannot read api.token_file {}", path.display())]
    TokenFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("api.token_file {} is empty", path.display())]
    EmptyTokenFile { path: PathBuf },
}

impl ConfigError {
    /// An error at byte range `span` of the file `path` whose text is `text`.
    pub(super) fn at(path: PathBuf, text: &str, span: Range<usize>, message: String) -> Self {
        let (line, column) = line_column(text, span.start);
        ConfigError::File {
            path,
            line,
            column,
            message,
        }
    }

    /// Converts a TOML error, which carries the byte span of the bad key or value.
    pub(super) fn from_toml(path: PathBuf, text: &str, error: &toml::de::Error) -> Self {
        let span = error.span().unwrap_or(0..0);
        let mut message = error.message().trim_end_matches('.').to_string();
        // toml says only "duplicate key"; the span says which one.
        if message == "duplicate key"
            && let Some(key) = text.get(span.clone())
        {
            message = format!("duplicate key `{key}`");
        }
        ConfigError::at(path, text, span, message)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one_in_characters() {
        let text = "a = 1\nbé = x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // `x` is after a two-byte `é`: byte 12, character column 6.
        assert_eq!(line_column(text, text.find('x').unwrap()), (2, 6));
        assert_eq!(line_column(text, 999), (3, 1));
    }
}
