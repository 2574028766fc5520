//! A stop signal that threads raise and glommio tasks on other threads wait for.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// Raised once by anyone; each waiting slot (one per shard) is woken.
#[derive(Debug)]
pub struct StopSignal {
    raised: AtomicBool,
    wakers: Mutex<Vec<Option<Waker>>>,
}

impl StopSignal {
    /// A signal with `slots` waiters (one per shard).
    pub fn new(slots: usize) -> Arc<StopSignal> {
        Arc::new(StopSignal {
            raised: AtomicBool::new(false),
            wakers: Mutex::new(vec![None; slots]),
        })
    }

    /// Raises the signal and wakes every waiter.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        let wakers = match self.wakers.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        wakers.into_iter().flatten().for_each(Waker::wake);
    }

    /// True once raised.
    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Completes once the signal is raised; `slot` identifies the waiter.
    pub fn wait(self: &Arc<Self>, slot: usize) -> impl Future<Output = ()> + use<> {
        Wait {
            signal: Arc::clone(self),
            slot,
        }
    }
}

struct Wait {
    signal: Arc<StopSignal>,
    slot: usize,
}

impl Future for Wait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.is_raised() {
            return Poll::Ready(());
        }
        if let Ok(mut wakers) = self.signal.wakers.lock()
            && let Some(slot) = wakers.get_mut(self.slot)
        {
            *slot = Some(cx.waker().clone());
        }
        // Raised between the check and the registration: do not sleep through it.
        if self.signal.is_raised() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
