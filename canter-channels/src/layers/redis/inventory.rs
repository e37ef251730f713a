//! What a dashboard reads of the Redis layer: the groups with their member counts (every
//! shard's `<prefix>:group:*` keys), and short-lived per-process records (one hash,
//! `<prefix>:records`, each field's value prefixed with when it expires).

use std::time::Duration;

use super::{now, unavailable, RedisChannelLayer};
use crate::layers::LayerError;

impl RedisChannelLayer {
    fn records_key(&self) -> String {
        format!("{}:records", self.config.prefix)
    }

    /// Keeps `value` under `key` for `ttl` (see [`ChannelLayer::put_record`](crate::layers::ChannelLayer::put_record)).
    pub(super) async fn put_record(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), LayerError> {
        let expires = now() + ttl.as_secs_f64();
        let key_name = self.records_key();
        let mut conn = self.conn(self.shard(&key_name));
        redis::pipe()
            .cmd("HSET")
            .arg(&key_name)
            .arg(key)
            .arg(format!("{expires:.3}|{value}"))
            .ignore()
            // The hash outlives its records by a little: a layer nobody writes to empties.
            .cmd("EXPIRE")
            .arg(&key_name)
            .arg(ttl.as_secs().max(1) * 10)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    /// Every record not expired; expired ones are removed.
    pub(super) async fn records(&self) -> Result<Vec<String>, LayerError> {
        let key_name = self.records_key();
        let mut conn = self.conn(self.shard(&key_name));
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(&key_name)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let now = now();
        let mut live = Vec::new();
        let mut expired = Vec::new();
        for (field, stored) in all {
            match stored.split_once('|') {
                Some((expires, value)) if expires.parse::<f64>().is_ok_and(|e| e > now) => {
                    live.push(value.to_owned())
                }
                _ => expired.push(field),
            }
        }
        if !expired.is_empty() {
            redis::cmd("HDEL")
                .arg(&key_name)
                .arg(&expired)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(live)
    }

    /// Every group with members joined within the group expiry, with how many, by name.
    pub(super) async fn groups(&self) -> Result<Vec<(String, usize)>, LayerError> {
        let prefix = format!("{}:group:", self.config.prefix);
        let pattern = format!("{}*", escape_glob(&prefix));
        let cutoff = now() - self.config.group_expiry as f64;
        let mut groups = Vec::new();
        for shard in 0..self.connections.len() {
            let mut conn = self.conn(shard);
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                for key in keys {
                    let members: usize = redis::cmd("ZCOUNT")
                        .arg(&key)
                        .arg(format!("({cutoff}"))
                        .arg("+inf")
                        .query_async(&mut conn)
                        .await
                        .map_err(unavailable)?;
                    if members > 0 {
                        groups.push((key[prefix.len()..].to_owned(), members));
                    }
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        groups.sort();
        groups.dedup_by(|a, b| a.0 == b.0);
        Ok(groups)
    }
}

/// `text` with Redis glob's special characters escaped.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
