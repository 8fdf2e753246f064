//! A testbed's name. It becomes a directory under the state root, the prefix
//! of every container and network name, a label value and part of a CA's DN,
//! so it is checked once, here, and every later use can rely on it.

use std::fmt;
use std::str::FromStr;

/// Long enough for a class ("group-17-retake"), short enough that
/// `<name>-<node>` (nodes are at most 20 characters) stays a short,
/// readable container name and hostname.
pub const MAX_LEN: usize = 32;

/// A name that follows Docker's container-name rule,
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, and is at most [`MAX_LEN`] characters. It
/// can never be empty, `.`, `..`, absolute, or hold a path separator or a
/// shell metacharacter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TestbedName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid testbed name {shown}: {why}; use up to 32 letters, digits, '_', '.' or '-', starting with a letter or digit (e.g. lab-2)"
)]
pub struct InvalidName {
    /// The name as given, quoted and escaped so that it stays on one line.
    shown: String,
    why: &'static str,
}

impl TestbedName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TestbedName {
    type Err = InvalidName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = |why| Err(InvalidName { shown: format!("{s:?}"), why });
        let Some(first) = s.chars().next() else { return refuse("it is empty") };
        if s.chars().count() > MAX_LEN {
            return refuse("it is longer than 32 characters");
        }
        if !first.is_ascii_alphanumeric() {
            return refuse("it must start with a letter or digit");
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return refuse("it holds a character other than letters, digits, '_', '.' and '-'");
        }
        Ok(TestbedName(s.to_string()))
    }
}

impl fmt::Display for TestbedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Read-only access to the checked text: every `&str` use of a name (labels,
// prefixes, arguments) takes it as it is.
impl std::ops::Deref for TestbedName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&TestbedName> for String {
    fn from(name: &TestbedName) -> String {
        name.0.clone()
    }
}

impl From<TestbedName> for String {
    fn from(name: TestbedName) -> String {
        name.0
    }
}

impl AsRef<str> for TestbedName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for TestbedName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for TestbedName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_pass() {
        for ok in ["testbed", "v6", "lab-2", "A.b_c-9", "0", &"x".repeat(MAX_LEN)] {
            assert_eq!(ok.parse::<TestbedName>().unwrap().as_str(), ok);
        }
    }

    #[test]
    fn paths_shells_and_long_names_fail_in_one_line() {
        let long = "y".repeat(MAX_LEN + 1);
        for bad in ["", ".", "..", "/tmp/victim", "../x", "a/b", "a b", "x\ny", "-x", ".x", "a;b", "$(id)", "é", &long]
        {
            let err = bad.parse::<TestbedName>().unwrap_err().to_string();
            assert!(!err.contains('\n'), "one line: {err}");
            assert!(err.starts_with("invalid testbed name "), "{err}");
        }
        let err = "x\ny".parse::<TestbedName>().unwrap_err().to_string();
        assert!(err.contains(r#""x\ny""#), "shown escaped: {err}");
    }
}
