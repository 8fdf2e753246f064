//! `imgtool check --format`: clap's value, mapped to the library's [`Format`].

use clap::ValueEnum;

use crate::grade::Format;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// PASS/FAIL, points, name and what was observed; then the score
    Table,
    /// The report as JSON: scenario, score, max, full_marks, checks[{name, kind, passed, points, max, detail}]
    Json,
    /// JUnit XML: one testsuite named after the scenario, one testcase per check (GitLab, GitHub Classroom)
    Junit,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Junit => Format::Junit,
        }
    }
}
