//! Running independent docker calls at once: they mostly wait on the daemon.

/// Applies `f` to every item on its own thread; results in item order.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let handles: Vec<_> = items.iter().map(|i| s.spawn(|| f(i))).collect();
        handles.into_iter().map(|h| h.join().expect("worker thread panicked")).collect()
    })
}
