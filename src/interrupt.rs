//! Ctrl-C (or SIGTERM: a stopped CI job, `docker stop` of imgtool's own
//! container) during long work. The first one sets a flag that `up` checks
//! between steps, so it stops, removes what it made and exits 130; docker
//! commands run in their own process group and finish what they started, so
//! nothing is made behind imgtool's back. A second Ctrl-C exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once, from `main`).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\nimgtool: interrupted: finishing the current step, then cleaning up (Ctrl-C again to quit at once)"
        );
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
