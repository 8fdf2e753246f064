//! Progress for long work: a spinner with the current step on a terminal,
//! plain timestamped lines otherwise (CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed:>3}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress { bar, start: Instant::now(), quiet }
    }

    /// A silent reporter, for library callers and tests.
    pub fn hidden() -> Progress {
        Progress { bar: None, start: Instant::now(), quiet: true }
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
