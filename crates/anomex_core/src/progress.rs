//! Progress of long steps inside a detector (a network's training epochs), told to whoever
//! listens on the current thread.
//!
//! A detector cannot know whether it runs under the command line's progress bar, a Python
//! notebook or a benchmark worker; it calls [`report`], which costs a thread-local read when
//! nobody listens. The command line wraps a fit in [`observe`] and shows what it hears.

use std::cell::RefCell;

/// One report: `done` of `total` units of `phase`, with a short detail (e.g. the loss).
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub phase: &'a str,
    pub done: usize,
    pub total: usize,
    pub detail: &'a str,
}

type Sink = Box<dyn FnMut(&Progress<'_>)>;

thread_local! {
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Runs `work`, handing every [`report`] made on this thread meanwhile to `sink`; the previous
/// listener, if any, is back in place afterwards.
pub fn observe<R>(sink: impl FnMut(&Progress<'_>) + 'static, work: impl FnOnce() -> R) -> R {
    let previous = SINK.with(|s| s.borrow_mut().replace(Box::new(sink)));
    struct Restore(Option<Sink>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SINK.with(|s| *s.borrow_mut() = previous);
        }
    }
    let _restore = Restore(previous);
    work()
}

/// Tells the listener of this thread, if there is one, how far a step has come.
pub fn report(progress: &Progress<'_>) {
    SINK.with(|s| {
        // a listener that reports from inside itself is not called again
        if let Ok(mut sink) = s.try_borrow_mut() {
            if let Some(f) = sink.as_mut() {
                f(progress);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::rc::Rc;

    #[test]
    fn reports_reach_the_listener_only_while_it_listens() {
        let heard = Rc::new(RefCell::new(Vec::new()));
        let h = heard.clone();
        let p = |done| Progress {
            phase: "train",
            done,
            total: 3,
            detail: "",
        };
        report(&p(0));
        observe(
            move |p| h.borrow_mut().push(p.done),
            || {
                report(&p(1));
                report(&p(2));
            },
        );
        report(&p(3));
        assert_eq!(*heard.borrow(), vec![1, 2]);
    }
}
