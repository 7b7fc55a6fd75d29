//! `refit.tags`: the regular expression a candidate tag must match under a semver strategy,
//! compiled once when the label is read, so that a bad pattern skips its container with a
//! message instead of failing later.

use std::fmt;

/// Patterns come from labels anyone able to start a container can set: bound what one may
/// cost to compile (the regex crate's default is 10 MiB).
const SIZE_LIMIT: usize = 1 << 20;

/// A compiled `refit.tags` pattern. Unanchored, as the regex crate matches: `^1\.` for tags
/// starting with `1.`, `-alpine$` for tags ending so.
#[derive(Clone)]
pub struct TagPattern(regex::Regex);

impl TagPattern {
    /// Compiles `pattern`; the error completes "label refit.tags=... " in a sentence.
    pub fn new(pattern: &str) -> Result<TagPattern, String> {
        if pattern.trim().is_empty() {
            return Err("is an empty regular expression".into());
        }
        regex::RegexBuilder::new(pattern)
            .size_limit(SIZE_LIMIT)
            .build()
            .map(TagPattern)
            .map_err(|e| format!("is not a valid regular expression ({})", one_line(&e)))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn is_match(&self, tag: &str) -> bool {
        self.0.is_match(tag)
    }
}

/// The regex crate explains a syntax error over several lines (the pattern, a caret, then
/// `error: ...`); a report reason is one line, so keep the explanation only.
fn one_line(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.lines().last().unwrap_or_default().trim().to_owned())
}

// Two patterns are the same when their text is: `Policy` compares by value.
impl PartialEq for TagPattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for TagPattern {}

impl fmt::Debug for TagPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TagPattern({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_and_matches_unanchored() {
        let p = TagPattern::new(r"^1\.").expect("valid");
        assert!(p.is_match("1.2.3"));
        assert!(!p.is_match("11.2"));
        assert_eq!(p.as_str(), r"^1\.");
        assert!(
            TagPattern::new("alpine")
                .expect("valid")
                .is_match("1.2-alpine")
        );
        assert_eq!(p, TagPattern::new(r"^1\.").expect("valid"));
    }

    #[test]
    fn invalid_patterns_explain_themselves_on_one_line() {
        let err = TagPattern::new("(1.2").unwrap_err();
        assert_eq!(err, "is not a valid regular expression (unclosed group)");
        let err = TagPattern::new("[z-a]").unwrap_err();
        assert!(
            err.starts_with("is not a valid regular expression ("),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        assert_eq!(
            TagPattern::new(" ").unwrap_err(),
            "is an empty regular expression"
        );
    }

    #[test]
    fn a_pattern_too_big_to_compile_is_refused() {
        let err = TagPattern::new(r"\w{1000}\w{1000}\w{1000}").unwrap_err();
        assert!(err.contains("size limit"), "{err}");
    }
}
