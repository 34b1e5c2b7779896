//! One Redis or a Redis Cluster behind one connection type, for an adapter
//! whose commands are the same on both (the streams adapter). The cluster
//! connection routes each command by its key; a pipeline must stay within
//! one slot there, so callers group theirs by key ([`Endpoint::is_cluster`]).

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::RedisConfigError;

/// Where an adapter's commands go.
#[derive(Clone)]
pub(crate) enum Endpoint {
    /// One Redis.
    Single(redis::Client),
    /// A Redis Cluster, reached through these seed URLs.
    Cluster(Vec<String>),
}

/// A connection to either kind of [`Endpoint`].
#[derive(Clone)]
pub(crate) enum Conn {
    /// One Redis, reconnecting by itself (the command connection).
    Managed(redis::aio::ConnectionManager),
    /// One Redis, one connection (a blocking reader's own).
    Plain(redis::aio::MultiplexedConnection),
    /// A Redis Cluster.
    Cluster(ClusterConnection),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl Endpoint {
    /// One Redis at `url`.
    pub(crate) fn single(url: &str) -> Result<Self, RedisConfigError> {
        redis::Client::open(url)
            .map(Endpoint::Single)
            .map_err(|e| RedisConfigError(e.to_string()))
    }

    /// A Redis Cluster through `nodes`; the URLs are checked here.
    pub(crate) fn cluster(nodes: &[String]) -> Result<Self, RedisConfigError> {
        if nodes.is_empty() {
            return Err(RedisConfigError("no Redis Cluster node given".into()));
        }
        redis::cluster::ClusterClient::new(nodes.to_vec())
            .map_err(|e| RedisConfigError(e.to_string()))?;
        Ok(Endpoint::Cluster(nodes.to_vec()))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Endpoint::Cluster(_))
    }

    fn cluster_builder(
        nodes: &[String],
        response: Duration,
    ) -> redis::cluster::ClusterClientBuilder {
        redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(response)
    }

    /// The shared command connection: each reply within `response`.
    pub(crate) async fn commands(&self, response: Duration) -> redis::RedisResult<Conn> {
        match self {
            Endpoint::Single(client) => {
                let cfg = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(response));
                client
                    .get_connection_manager_with_config(cfg)
                    .await
                    .map(Conn::Managed)
            }
            // No retries: a command that timed out may have run (an XADD
            // retried would add its broadcast twice); the caller reports
            // the failure instead.
            Endpoint::Cluster(nodes) => Self::cluster_builder(nodes, response)
                .retries(0)
                .build()?
                .get_async_connection()
                .await
                .map(Conn::Cluster),
        }
    }

    /// A connection of its own, for commands that block it (`XREAD
    /// BLOCK`): each reply within `response`.
    pub(crate) async fn dedicated(&self, response: Duration) -> redis::RedisResult<Conn> {
        match self {
            Endpoint::Single(client) => {
                let cfg = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(response));
                client
                    .get_multiplexed_async_connection_with_config(&cfg)
                    .await
                    .map(Conn::Plain)
            }
            Endpoint::Cluster(nodes) => Self::cluster_builder(nodes, response)
                .build()?
                .get_async_connection()
                .await
                .map(Conn::Cluster),
        }
    }

    /// A RESP3 cluster connection whose Pub/Sub messages go to `pushes`
    /// (subscriptions are made again by the connection after a node
    /// reconnects). `None` on one Redis.
    pub(crate) async fn cluster_pubsub(
        &self,
        response: Duration,
        pushes: tokio::sync::mpsc::UnboundedSender<redis::PushInfo>,
    ) -> Option<redis::RedisResult<ClusterConnection>> {
        let Endpoint::Cluster(nodes) = self else {
            return None;
        };
        let client = match Self::cluster_builder(nodes, response)
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(pushes)
            .build()
        {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        Some(client.get_async_connection().await)
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Managed(c) => c.req_packed_command(cmd),
            Conn::Plain(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Managed(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Plain(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Managed(c) => c.get_db(),
            Conn::Plain(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A batch's pipelines: one on one Redis; on a Redis Cluster, whose
/// pipelines must stay within one slot, one per key (a stream, a session
/// key, a Pub/Sub channel). Each keeps its commands in order.
pub(crate) struct Pipes(pub(crate) Vec<(Option<String>, redis::Pipeline)>, bool);

impl Pipes {
    pub(crate) fn new(cluster: bool) -> Self {
        Pipes(Vec::new(), cluster)
    }

    /// The pipeline for commands on `key`, with its index.
    pub(crate) fn for_key(&mut self, key: &str) -> (usize, &mut redis::Pipeline) {
        let key = Some(key).filter(|_| self.1);
        let i = match self.0.iter().position(|(k, _)| k.as_deref() == key) {
            Some(i) => i,
            None => {
                self.0.push((key.map(str::to_owned), redis::pipe()));
                self.0.len() - 1
            }
        };
        (i, &mut self.0[i].1)
    }
}

impl Pipes {
    /// True when no command was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, p)| p.is_empty())
    }

    /// Runs every pipeline (concurrently, each in order) on `conn`; whether
    /// each went through, in the order of their indexes.
    pub(crate) async fn run<C>(self, conn: &C) -> Vec<redis::RedisResult<()>>
    where
        C: ConnectionLike + Clone + Send,
    {
        let runs = self.0.into_iter().map(|(_, pipe)| {
            let mut conn = conn.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        });
        futures_util::future::join_all(runs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_batch_is_one_pipeline_per_key_in_order() {
        let mut one = Pipes::new(false);
        assert_eq!(one.for_key("s-0").0, 0);
        assert_eq!(one.for_key("socket.io#/#").0, 0);
        assert_eq!(one.for_key("s-1").0, 0);
        assert_eq!(one.0.len(), 1);
        let mut cluster = Pipes::new(true);
        cluster.for_key("s-0").1.cmd("XADD").arg(1);
        cluster.for_key("socket.io#/#").1.cmd("PUBLISH").arg(2);
        cluster.for_key("s-1").1.cmd("XADD").arg(3);
        cluster.for_key("s-0").1.cmd("XADD").arg(4);
        cluster.for_key("socket.io#/#uid#").1.cmd("PUBLISH").arg(5);
        assert_eq!(cluster.0.len(), 4);
        let keys: Vec<_> = cluster.0.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(
            keys,
            [
                Some("s-0".into()),
                Some("socket.io#/#".into()),
                Some("s-1".into()),
                Some("socket.io#/#uid#".into())
            ]
        );
        assert_eq!(cluster.0[0].1.len(), 2);
    }
}
