//! Each process's record: what it counted (HTTP per route, sockets, stall warnings), published
//! every period under its own key with a time to live of three periods, through the app's
//! channel layer (Redis: every process sees every other's; in-process: this one's) or, for an
//! app without a layer, an in-process store. A process that stops is forgotten once its record
//! expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use canter_channels::counters::SocketSnapshot;
use canter_channels::ChannelLayer;
use canter_core::counters::HttpSnapshot;
use canter_kernel::stall::StallWarning;
use serde::{Deserialize, Serialize};

/// One process as it last published itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// `<host>:<pid>:<random>`, unique per process.
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// The command it runs (`runserver`, …).
    pub command: String,
    /// When it started and when this record was published, seconds since the epoch.
    pub started: f64,
    pub at: f64,
    pub http: HttpSnapshot,
    pub sockets: SocketSnapshot,
    /// Its latest runtime-stall warnings.
    pub stalls: Vec<StallWarning>,
}

/// Seconds since the epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// This machine's name (`HOSTNAME`, else `/etc/hostname`, else `localhost`).
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Where records are kept: the app's layer, or this process's memory.
pub enum RecordStore {
    Layer(Arc<dyn ChannelLayer>),
    Local(Mutex<HashMap<String, (Instant, String)>>),
}

impl RecordStore {
    /// Keeps `record` for `ttl`.
    pub async fn put(&self, record: &ProcessRecord, ttl: Duration) -> Result<(), String> {
        let value = serde_json::to_string(record).map_err(|e| e.to_string())?;
        match self {
            RecordStore::Layer(layer) => layer
                .put_record(&format!("ops.process.{}", record.id), &value, ttl)
                .await
                .map_err(|e| e.to_string()),
            RecordStore::Local(map) => {
                let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                map.insert(record.id.clone(), (Instant::now() + ttl, value));
                Ok(())
            }
        }
    }

    /// Every process record not expired, by id.
    pub async fn all(&self) -> Result<Vec<ProcessRecord>, String> {
        let values = match self {
            RecordStore::Layer(layer) => layer.records().await.map_err(|e| e.to_string())?,
            RecordStore::Local(map) => {
                let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                map.retain(|_, (expires, _)| *expires > now);
                map.values().map(|(_, v)| v.clone()).collect()
            }
        };
        // Other records on the layer (another part's) are not processes: skipped.
        let mut records: Vec<ProcessRecord> = values
            .iter()
            .filter_map(|v| serde_json::from_str(v).ok())
            .collect();
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }
}
