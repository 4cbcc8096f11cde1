//! The idle timeout of a long-lived connection (a tunnel, a WebSocket):
//! one timer for the connection's whole life. Traffic only notes the time;
//! the timer, when it fires, either ends the wait or sleeps out the rest.

use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// An idle timer: [`IdleTimer::expired`] resolves once nothing was
/// [`IdleTimer::touch`]ed for the whole timeout.
pub struct IdleTimer {
    idle: Duration,
    last: Instant,
    sleep: std::pin::Pin<Box<Sleep>>,
}

impl IdleTimer {
    /// A timer for `idle` of silence, starting now.
    pub fn new(idle: Duration) -> IdleTimer {
        let last = Instant::now();
        IdleTimer {
            idle,
            last,
            sleep: Box::pin(tokio::time::sleep_until(last + idle)),
        }
    }

    /// Traffic moved.
    pub fn touch(&mut self) {
        self.last = Instant::now();
    }

    /// Resolves when the connection has been idle for the whole timeout.
    pub async fn expired(&mut self) {
        loop {
            self.sleep.as_mut().await;
            if self.last.elapsed() >= self.idle {
                return;
            }
            let next = self.last + self.idle;
            self.sleep.as_mut().reset(next);
        }
    }
}
