//! How a cluster adapter gathers the acknowledgements of a broadcast with
//! acks (Node's `broadcastWithAck`): the local sockets' acks, then each other
//! node's client count and the acks it announced, all by one deadline. The
//! classic Redis adapter and the `ClusterAdapter` ones share it; they differ
//! only in where a reply keeps its fields.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::socketio::AckError;
use crate::{Args, Value};

/// What a remote node's reply to a broadcast with acks says.
pub(crate) enum RemoteReply {
    /// It has this many matching sockets (BROADCAST_CLIENT_COUNT).
    Count(usize),
    /// One of its sockets acknowledged with this value (BROADCAST_ACK).
    Ack(Value),
}

/// The replies of the local sockets (`local`) and, when `remote` is
/// `Some((nodes, rx))`, of `nodes` other nodes read from `rx` through
/// `read`, gathered within `timeout`. Complete: every reply; else
/// [`AckError::Timeout`].
pub(crate) async fn gather(
    local: Vec<oneshot::Receiver<Args>>,
    remote: Option<(usize, &mut mpsc::UnboundedReceiver<Value>)>,
    timeout: Duration,
    read: impl Fn(&Value) -> Option<RemoteReply>,
) -> Result<Vec<Args>, AckError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut replies = Vec::new();
    let local_all = futures_util::future::join_all(local);
    let mut complete = match tokio::time::timeout_at(deadline, local_all).await {
        Ok(r) => {
            replies.extend(r.into_iter().filter_map(Result::ok));
            true
        }
        Err(_) => false,
    };
    if let Some((nodes, rx)) = remote {
        let (mut counts, mut expected, mut acks) = (0usize, 0usize, 0usize);
        let gather_remote = async {
            while counts < nodes || acks < expected {
                let Some(msg) = rx.recv().await else { break };
                match read(&msg) {
                    Some(RemoteReply::Count(n)) => {
                        counts += 1;
                        expected += n;
                    }
                    Some(RemoteReply::Ack(v)) => {
                        acks += 1;
                        replies.push(vec![v]);
                    }
                    None => {}
                }
            }
        };
        complete &= tokio::time::timeout_at(deadline, gather_remote)
            .await
            .is_ok();
    }
    if complete {
        Ok(replies)
    } else {
        Err(AckError::Timeout)
    }
}
