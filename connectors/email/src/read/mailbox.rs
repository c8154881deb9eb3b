//! The IMAP side of Read Email: the search, the size pass and batch plan, fetching,
//! and the commits (mark seen, delete, move) with every answer confirmed.

use std::collections::HashMap;

use connector_sdk::{Error, Result};
use futures_util::TryStreamExt;

use super::config::{AfterRead, ReadConfig};
use crate::connection::EmailConnection;
use crate::protocol::imap::{ImapSession, classify, quote, uid_set};

const TARGET: &str = "email_connector::read";

/// The server-side search for the settings.
pub(crate) fn search_query(config: &ReadConfig) -> Result<String> {
    search_within(config, None)
}

/// The search, limited to a UID set when given (`31:*` after a cursor, `1:30` for what a
/// deferred commit covers).
pub(crate) fn search_within(config: &ReadConfig, uids: Option<&str>) -> Result<String> {
    let mut terms: Vec<String> = Vec::new();
    if let Some(uids) = uids {
        terms.push(format!("UID {uids}"));
    }
    let mut utf8 = false;
    if config.unseen_only {
        terms.push("UNSEEN".into());
    }
    for (key, value, path) in [
        ("FROM", &config.filter.from, "/filter/from"),
        ("SUBJECT", &config.filter.subject, "/filter/subject"),
    ] {
        if let Some(v) = value {
            let q =
                quote(v).ok_or_else(|| Error::config(path, "line breaks are not allowed here"))?;
            utf8 |= !v.is_ascii();
            terms.push(format!("{key} {q}"));
        }
    }
    if let Some(d) = config.filter.since {
        terms.push(format!("SENTSINCE {}", d.imap()));
    }
    if let Some(d) = config.filter.before {
        terms.push(format!("SENTBEFORE {}", d.imap()));
    }
    if terms.is_empty() {
        terms.push("ALL".into());
    }
    let charset = if utf8 { "CHARSET UTF-8 " } else { "" };
    Ok(format!("{charset}{}", terms.join(" ")))
}

/// Whether an error means the IMAP connection is gone (worth one reconnect).
pub(super) fn lost(e: &Error) -> bool {
    e.kind() == connector_sdk::ErrorKind::Connect
}

/// Marks, deletes or moves the messages in `set` after their records were delivered.
pub(super) async fn apply(
    conn: &EmailConnection,
    config: &ReadConfig,
    what: &str,
    set: &str,
) -> Result<()> {
    let mut session = conn.session().await?;
    match &config.after_read {
        AfterRead::None => {}
        AfterRead::MarkSeen => {
            drain(
                session.uid_store(set, "+FLAGS.SILENT (\\Seen)").await,
                what,
                "UID STORE",
            )
            .await?;
        }
        AfterRead::Delete => {
            let expunged = delete(&mut session, what, set).await?;
            tracing::debug!(target: TARGET, expunged, "deleted");
        }
        AfterRead::MoveTo(folder) => {
            let caps = session
                .capabilities()
                .await
                .map_err(|e| classify(what, "CAPABILITY", e))?;
            if caps.has_str("MOVE") {
                session
                    .uid_mv(set, folder)
                    .await
                    .map_err(|e| classify(what, "UID MOVE", e))?;
            } else {
                session
                    .uid_copy(set, folder)
                    .await
                    .map_err(|e| classify(what, "UID COPY", e))?;
                delete(&mut session, what, set).await?;
            }
        }
    }
    // The answers to STORE and EXPUNGE also end quietly when the connection drops.
    confirm(&mut session, what).await
}

/// Flags the messages in `set` `\\Deleted` and expunges them (only them: UID
/// EXPUNGE). Returns how many went.
async fn delete(session: &mut ImapSession, what: &str, set: &str) -> Result<usize> {
    drain(
        session.uid_store(set, "+FLAGS.SILENT (\\Deleted)").await,
        what,
        "UID STORE",
    )
    .await?;
    let expunged: Vec<_> = session
        .uid_expunge(set)
        .await
        .map_err(|e| classify(what, "UID EXPUNGE", e))?
        .try_collect()
        .await
        .map_err(|e| classify(what, "UID EXPUNGE", e))?;
    Ok(expunged.len())
}

/// The size of each message, asked for before fetching any, so batches can be planned
/// by bytes.
pub(super) async fn fetch_sizes(
    conn: &EmailConnection,
    what: &str,
    uids: &[u32],
) -> Result<HashMap<u32, u64>> {
    let mut sizes = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(5000) {
        for f in uid_fetch(conn, what, chunk, "(UID RFC822.SIZE)").await? {
            if let (Some(uid), Some(size)) = (f.uid, f.size) {
                sizes.insert(uid, u64::from(size));
            }
        }
    }
    Ok(sizes)
}

/// Groups UIDs into batches of at most `count` messages and `bytes` bytes; a message
/// larger than `bytes` forms a batch of its own.
pub(crate) fn plan_batches(
    uids: &[u32],
    sizes: &HashMap<u32, u64>,
    count: usize,
    bytes: u64,
) -> Vec<Vec<u32>> {
    let mut batches = Vec::new();
    let (mut current, mut total) = (Vec::new(), 0_u64);
    for &uid in uids {
        let size = sizes.get(&uid).copied().unwrap_or(0);
        if !current.is_empty() && (current.len() >= count || total + size > bytes) {
            batches.push(std::mem::take(&mut current));
            total = 0;
        }
        current.push(uid);
        total += size;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// The messages of `batch`, whole, without marking them read (`BODY.PEEK`).
pub(super) async fn fetch_batch(
    conn: &EmailConnection,
    what: &str,
    batch: &[u32],
) -> Result<Vec<async_imap::types::Fetch>> {
    uid_fetch(conn, what, batch, "(UID FLAGS RFC822.SIZE BODY.PEEK[])").await
}

/// One `UID FETCH` of `uids` for `items`, holding the session only while fetching (so
/// commits can run in between).
async fn uid_fetch(
    conn: &EmailConnection,
    what: &str,
    uids: &[u32],
    items: &str,
) -> Result<Vec<async_imap::types::Fetch>> {
    let mut session = conn.session().await?;
    let fetched: Vec<async_imap::types::Fetch> = session
        .uid_fetch(uid_set(uids), items)
        .await
        .map_err(|e| classify(what, "UID FETCH", e))?
        .try_collect()
        .await
        .map_err(|e| classify(what, "UID FETCH", e))?;
    if fetched.len() < uids.len() {
        // async-imap ends a FETCH stream quietly when the connection drops; a NOOP
        // tells that apart from messages expunged in the meantime.
        confirm(&mut session, what).await?;
    }
    Ok(fetched)
}

/// Confirms the session is still there (a NOOP), so an operation whose answer stream
/// ended early is known to be complete rather than cut off.
async fn confirm(session: &mut ImapSession, what: &str) -> Result<()> {
    session.noop().await.map_err(|e| classify(what, "NOOP", e))
}

async fn drain<S, T>(
    stream: std::result::Result<S, async_imap::error::Error>,
    what: &str,
    doing: &str,
) -> Result<()>
where
    S: futures_util::Stream<Item = std::result::Result<T, async_imap::error::Error>>,
{
    let stream = stream.map_err(|e| classify(what, doing, e))?;
    futures_util::pin_mut!(stream);
    while stream
        .try_next()
        .await
        .map_err(|e| classify(what, doing, e))?
        .is_some()
    {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::config::Filter;

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let uids: Vec<u32> = (1..=7).collect();
        let sizes: HashMap<u32, u64> = [
            (1, 10),
            (2, 10),
            (3, 100),
            (4, 10),
            (5, 10),
            (6, 10),
            (7, 10),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            plan_batches(&uids, &sizes, 3, 50),
            vec![vec![1, 2], vec![3], vec![4, 5, 6], vec![7]]
        );
        assert_eq!(plan_batches(&uids, &sizes, 100, 1000), vec![uids.clone()]);
        assert!(plan_batches(&[], &sizes, 3, 50).is_empty());
    }

    #[test]
    fn search_query_combines_terms() {
        let mut config: ReadConfig = connector_sdk::from_value(&serde_json::json!({
            "filter": {"from": "a@b", "subject": "Grüße", "since": "2026-01-31"}
        }))
        .expect("valid");
        assert_eq!(
            search_query(&config).expect("query"),
            "CHARSET UTF-8 UNSEEN FROM \"a@b\" SUBJECT \"Grüße\" SENTSINCE 31-Jan-2026"
        );
        config.unseen_only = false;
        config.filter = Filter::default();
        assert_eq!(search_query(&config).expect("query"), "ALL");
    }
}
