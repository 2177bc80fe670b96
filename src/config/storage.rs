//! `[storage]` and `[cluster]`: where Firewatch keeps its data, and its replicas.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// WAL + NORMAL: a power loss may lose the last transactions, never corrupts.
    Normal,
    /// WAL + FULL: every commit is fsynced; survives power loss, costs throughput.
    Full,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// `sqlite` (one file in `data_dir`, the default) or `postgres` (replicas sharing
    /// one PostgreSQL database named by `url` or `url_file`).
    pub backend: Backend,
    /// PostgreSQL connection string (`postgres://user:password@host:5432/firewatch`
    /// or `host=… user=…`); `sslmode=require` insists on TLS.
    pub url: Option<String>,
    /// A file holding the connection string (a mounted secret) instead of `url`.
    pub url_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for PostgreSQL's TLS, besides the public roots.
    pub ca_file: Option<PathBuf>,
    /// Directory holding `firewatch.db` (created when missing).
    pub data_dir: PathBuf,
    pub synchronous: Synchronous,
    /// Reader connections (the writer is always one dedicated connection).
    pub readers: usize,
    /// Most write jobs committed together in one transaction (group commit).
    pub max_batch: usize,
    /// The SQLite writer's page cache in MiB (each reader keeps SQLite's default 2 MiB):
    /// more keeps more of the indexes intake looks alerts up in; less bounds memory.
    pub cache_mib: u32,
}

/// Replicas on the PostgreSQL backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// This replica's name in the member list (default: the host name and four random
    /// hex digits; a pod's name in Kubernetes).
    pub instance: Option<String>,
    /// When the leader dies, another replica takes over within this time.
    pub takeover: String,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            instance: None,
            takeover: "15s".into(),
        }
    }
}

/// Where Firewatch keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Sqlite,
    Postgres,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
            url: None,
            url_file: None,
            ca_file: None,
            data_dir: PathBuf::from("./data"),
            synchronous: Synchronous::Normal,
            readers: 4,
            max_batch: 512,
            cache_mib: 8,
        }
    }
}
