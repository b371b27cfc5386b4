//! The stop signal of the garden's tasks: the caller's shutdown signal, or the garden's own.

use tokio::sync::watch;

/// Fires when the caller's shutdown channel becomes `true` (dropping its sender does not
/// count: it can no longer ask) or when the garden itself stops (its own channel becomes
/// `true` or its sender, held by the `GardenHandle`, is dropped).
#[derive(Debug, Clone)]
pub struct Shutdown {
    caller: watch::Receiver<bool>,
    own: watch::Receiver<bool>,
}

impl Shutdown {
    /// Watches both the caller's and the garden's own channel.
    pub fn new(caller: watch::Receiver<bool>, own: watch::Receiver<bool>) -> Self {
        Self { caller, own }
    }

    /// Resolves once the signal has fired (immediately if it already has).
    pub async fn fired(&mut self) {
        let caller = async {
            if self.caller.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        // An error means the garden's handle is gone: nobody can stop the tasks any more.
        let own = async {
            let _ = self.own.wait_for(|stop| *stop).await;
        };
        tokio::select! {
            () = caller => {}
            () = own => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn fires_within_a_second(shutdown: &mut Shutdown) -> bool {
        tokio::time::timeout(Duration::from_secs(1), shutdown.fired())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn caller_signal_fires() {
        let (caller, caller_rx) = watch::channel(false);
        let (_own, own_rx) = watch::channel(false);
        let mut shutdown = Shutdown::new(caller_rx, own_rx);
        caller.send(true).expect("receiver alive");
        assert!(
            fires_within_a_second(&mut shutdown).await,
            "the caller's shutdown was missed"
        );
    }

    #[tokio::test]
    async fn dropping_the_callers_sender_does_not_fire() {
        let (caller, caller_rx) = watch::channel(false);
        let (_own, own_rx) = watch::channel(false);
        let mut shutdown = Shutdown::new(caller_rx, own_rx);
        drop(caller);
        let fired = tokio::time::timeout(Duration::from_millis(50), shutdown.fired())
            .await
            .is_ok();
        assert!(!fired, "a dropped caller sender stopped the garden");
    }

    #[tokio::test]
    async fn dropping_the_gardens_own_sender_fires() {
        let (_caller, caller_rx) = watch::channel(false);
        let (own, own_rx) = watch::channel(false);
        let mut shutdown = Shutdown::new(caller_rx, own_rx);
        drop(own);
        assert!(
            fires_within_a_second(&mut shutdown).await,
            "a dropped garden handle left tasks running"
        );
    }
}
