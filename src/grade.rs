//! Grades for `imgtool check` (alias `grade`): each check earns its kind's
//! points from the scenario's `[grading]` when it passes, nothing when it
//! fails. Full marks need every check to pass, those worth 0 points too.
//! One report, three renderings: a terminal table, JSON (stable field
//! names, for scripts) and JUnit XML (one testsuite per scenario, one
//! testcase per check, for GitLab and GitHub Classroom).

use std::fmt::Write as _;

use crate::check::{CheckKind, CheckResult};
use crate::scenario::Scenario;

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Junit,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub scenario: String,
    pub score: u32,
    pub max: u32,
    /// Every check passed (the score alone cannot say so when a check is worth 0).
    pub full_marks: bool,
    pub checks: Vec<GradedCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GradedCheck {
    pub name: String,
    pub kind: CheckKind,
    pub passed: bool,
    /// Earned: `max` if passed, else 0.
    pub points: u32,
    pub max: u32,
    /// What was observed; on failure, the hint.
    pub detail: String,
}

/// The points of each result by the scenario's weights.
pub fn grade(scenario: &Scenario, results: &[CheckResult]) -> Report {
    let checks: Vec<GradedCheck> = results
        .iter()
        .map(|r| {
            let max = scenario.grading.points(r.kind);
            GradedCheck {
                name: r.name.clone(),
                kind: r.kind,
                passed: r.passed,
                points: if r.passed { max } else { 0 },
                max,
                detail: r.detail.clone(),
            }
        })
        .collect();
    Report {
        scenario: scenario.name.clone(),
        score: checks.iter().map(|c| c.points).sum(),
        max: checks.iter().map(|c| c.max).sum(),
        full_marks: !checks.is_empty() && checks.iter().all(|c| c.passed),
        checks,
    }
}

impl Report {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Json => self.json(),
            Format::Junit => self.junit(),
        }
    }

    /// `PASS  20/20  tunnel a-s  detail` per check, then the score.
    pub fn table(&self) -> String {
        let points: Vec<String> = self.checks.iter().map(|c| format!("{}/{}", c.points, c.max)).collect();
        let pw = points.iter().map(String::len).max().unwrap_or(0);
        let nw = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (c, p) in self.checks.iter().zip(&points) {
            let verdict = if c.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "{verdict}  {p:>pw$}  {:nw$}  {}", c.name, c.detail);
        }
        let _ = write!(out, "\nscore: {}/{}", self.score, self.max);
        if !self.full_marks && self.score == self.max {
            let failed: Vec<&str> = self.checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
            let _ = write!(out, ", but not full marks: {} failed", failed.join(", "));
        }
        out.push('\n');
        out
    }

    pub fn json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).expect("a report is plain data");
        out.push('\n');
        out
    }

    /// JUnit XML: a `failure` per failed check with the hint as its message;
    /// the points in each testcase's `system-out`.
    pub fn junit(&self) -> String {
        let failures = self.checks.iter().filter(|c| !c.passed).count();
        let (tests, suite) = (self.checks.len(), xml_escape(&self.scenario));
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(out, "<testsuites name=\"imgtool check\" tests=\"{tests}\" failures=\"{failures}\">");
        let _ = writeln!(
            out,
            "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">"
        );
        let _ = writeln!(
            out,
            "    <properties>\n      <property name=\"score\" value=\"{}\"/>\n      <property name=\"max\" value=\"{}\"/>\n    </properties>",
            self.score, self.max
        );
        for c in &self.checks {
            let (name, detail) = (xml_escape(&c.name), xml_escape(&c.detail));
            let _ = writeln!(out, "    <testcase name=\"{name}\" classname=\"{suite}.{}\">", c.kind);
            if !c.passed {
                let _ = writeln!(out, "      <failure message=\"{detail}\" type=\"{}\">{detail}</failure>", c.kind);
            }
            let _ = writeln!(out, "      <system-out>{}/{} points: {detail}</system-out>", c.points, c.max);
            out += "    </testcase>\n";
        }
        out += "  </testsuite>\n</testsuites>\n";
        out
    }
}

/// Text for XML content and attribute values: the five special characters
/// as entities, line breaks and tabs as character references (attribute
/// values would fold them to spaces), and characters XML 1.0 cannot carry
/// at all (other control characters) as U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&apos;",
            '\n' => out += "&#10;",
            '\r' => out += "&#13;",
            '\t' => out += "&#9;",
            c if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
