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
    /// When each step began, for [`Progress::phases`] (`up -v`).
    marks: std::sync::Mutex<Vec<(Duration, String)>>,
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
        Progress { multi, bar, start: Instant::now(), quiet, marks: Default::default() }
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
        Progress {
            multi: MultiProgress::new(),
            bar: None,
            start: Instant::now(),
            quiet: true,
            marks: Default::default(),
        }
    }

    /// Starts a phase for `phases` (`up -v`) without a line of its own: the
    /// work before the first step, whose errors must stay one line.
    pub fn mark(&self, msg: impl AsRef<str>) {
        if let Ok(mut marks) = self.marks.lock() {
            marks.push((self.elapsed(), msg.as_ref().to_string()));
        }
    }

    pub fn step(&self, msg: impl AsRef<str>) {
        self.mark(&msg);
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

    /// Each step so far and how long it took (until the next step began,
    /// the last one until now), after "(start)" for the time before the
    /// first. Steps of parallel work overlap, so they are read in order.
    pub fn phases(&self) -> Vec<(String, Duration)> {
        let marks = self.marks.lock().map(|m| m.clone()).unwrap_or_default();
        let mut out = Vec::new();
        if let Some((first, _)) = marks.first() {
            out.push(("(start)".to_string(), *first));
        }
        for (i, (at, msg)) in marks.iter().enumerate() {
            let end = marks.get(i + 1).map_or_else(|| self.elapsed(), |(next, _)| *next);
            out.push((msg.clone(), end.saturating_sub(*at)));
        }
        out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_last_until_the_next_step_and_the_last_until_now() {
        let p = Progress::hidden();
        std::thread::sleep(Duration::from_millis(20));
        p.step("one");
        std::thread::sleep(Duration::from_millis(30));
        p.step("two");
        let phases = p.phases();
        let names: Vec<&str> = phases.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["(start)", "one", "two"]);
        assert!(phases[0].1 >= Duration::from_millis(20) && phases[1].1 >= Duration::from_millis(30), "{phases:?}");
        let total: Duration = phases.iter().map(|(_, d)| *d).sum();
        assert!(total <= p.elapsed(), "{phases:?}");
    }
}
