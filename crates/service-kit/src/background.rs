//! Background work that runs beside the HTTP server (queue workers, periodic jobs) and stops
//! with it.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where a service starts its background tasks. Each task gets the stop token: when the service
/// is told to stop, the token is cancelled at the start of the drain (workers stop claiming new
/// work while requests are still being served), and the service waits for every task to return
/// before it exits.
#[derive(Debug, Clone, Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Background {
    /// Runs `task` until it returns; it must return soon after its token is cancelled.
    pub fn spawn<F, Fut>(&self, name: &'static str, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let future = task(self.stop.child_token());
        self.tasks.spawn(async move {
            future.await;
            tracing::debug!(task = name, "background task finished");
        });
    }

    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    pub(crate) async fn wait(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}
