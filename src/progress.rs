//! Progress for long work: a spinner with the current step on a terminal,
//! plain timestamped lines otherwise (CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub struct Progress {
    multi: MultiProgress,
    bar: Option<ProgressBar>,
    start: Instant,
    quiet: bool,
}

/// One line of its own for a unit of work (an image on a platform): a
/// spinner with the current step on a terminal, a plain line per step else.
pub struct Task<'a> {
    progress: &'a Progress,
    label: String,
    bar: Option<ProgressBar>,
}

impl Task<'_> {
    pub fn step(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_string()),
            None => self.progress.note(format!("{}: {msg}", self.label)),
        }
    }

    pub fn finish(self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(msg.to_string()),
            None => self.progress.note(format!("{}: {msg}", self.label)),
        }
    }
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let multi = MultiProgress::new();
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed:>3}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress { multi, bar, start: Instant::now(), quiet }
    }

    /// A line of its own for `label` (see [`Task`]).
    pub fn task(&self, label: impl Into<String>) -> Task<'_> {
        let label = label.into();
        let bar = self.bar.as_ref().map(|_| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            let style = ProgressStyle::with_template("  {spinner} {prefix:24} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_prefix(label.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Task { progress: self, label, bar }
    }

    /// A silent reporter, for library callers and tests.
    pub fn hidden() -> Progress {
        Progress { multi: MultiProgress::new(), bar: None, start: Instant::now(), quiet: true }
    }

    pub fn step(&self, msg: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.set_message(msg.as_ref().to_string()),
            None if !self.quiet => {
                eprintln!("[{:6.2}s] {}", self.elapsed().as_secs_f64(), msg.as_ref())
            }
            None => {}
        }
    }

    /// A line that stays (a finished step or a warning).
    pub fn note(&self, msg: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(msg.as_ref()),
            None if !self.quiet => {
                eprintln!("[{:6.2}s] {}", self.elapsed().as_secs_f64(), msg.as_ref())
            }
            None => {}
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
