//! Read Email: a source that emits messages of a folder and commits them (mark seen,
//! delete or move) only after the host has delivered them.

//!
//! Split by concern: [`config`] (the settings and their rules), [`record`] (what is
//! emitted), [`mime`] (a message to a record), [`mailbox`] (the IMAP side: search,
//! fetch, commit); this file is the source that ties them together.

mod config;
mod mailbox;
mod mime;
mod record;

use connector_sdk::{Emitter, Error, Object, Result, Source};

pub use config::{AfterRead, AttachmentMode, Date, Filter, ReadConfig};
pub use record::{AddressRecord, AttachmentRecord, EmailRecord, HeaderRecord};

use crate::connection::EmailConnection;
use crate::protocol::imap::{classify, flag_name};
use mailbox::{apply, fetch_batch, fetch_sizes, lost, plan_batches, search_query};

const TARGET: &str = "email_connector::read";

/// The `read` source.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadEmail;

/// Reads messages from an IMAP folder (unread ones by default) without marking them,
/// emits one record per message, and marks them read, deletes or moves them only after
/// the records were delivered. `discover` lists the folders.
#[connector_sdk::activity(name = "read")]
impl Source for ReadEmail {
    type Connection = EmailConnection;
    type Config = ReadConfig;
    type Record = EmailRecord;
    type Ack = u32;

    fn validate(&self, config: &ReadConfig) -> Result<()> {
        search_query(config)?;
        config.check()
    }

    async fn read(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        out: &Emitter<EmailRecord, u32>,
    ) -> Result<()> {
        let imap = conn.imap()?;
        let what = imap.what();
        let (uid_validity, uids) = {
            let mut session = conn.session().await?;
            if let AfterRead::MoveTo(target) = &config.after_read {
                let exists = crate::protocol::imap::list(&mut session, &what)
                    .await?
                    .iter()
                    .any(|(n, _)| n == target);
                if !exists {
                    return Err(Error::config(
                        "/after_read/move_to",
                        format!("there is no folder `{target}` to move messages to"),
                    ));
                }
            }
            let mailbox = session.select(&config.folder).await.map_err(|e| {
                match classify(&what, "SELECT", e) {
                    err if err.kind() == connector_sdk::ErrorKind::Rejected => Error::config(
                        "/folder",
                        format!("cannot open folder `{}`: {}", config.folder, err.message()),
                    ),
                    err => err,
                }
            })?;
            let uid_validity = mailbox.uid_validity.unwrap_or(0);
            conn.selected(&config.folder, uid_validity);
            let query = search_query(config)?;
            let found = session
                .uid_search(&query)
                .await
                .map_err(|e| classify(&what, "UID SEARCH", e))?;
            let mut uids: Vec<u32> = found.into_iter().collect();
            uids.sort_unstable();
            uids.truncate(config.max_messages.get() as usize);
            tracing::info!(target: TARGET, folder = %config.folder, uid_validity, found = uids.len(), %query, "searched");
            (uid_validity, uids)
        };
        let sizes = fetch_sizes(conn, &what, &uids).await?;
        let batches = plan_batches(
            &uids,
            &sizes,
            config.batch_size.get() as usize,
            config.batch_bytes,
        );
        // The next batch is fetched while the previous one is parsed on another thread.
        let shared = std::sync::Arc::new(config.clone());
        let mut parsing: Option<tokio::task::JoinHandle<Vec<Parsed>>> = None;
        for batch in batches {
            if out.is_stopped() {
                break;
            }
            let fetched = match fetch_batch(conn, &what, &batch).await {
                Err(e) if lost(&e) => {
                    conn.reconnect(&e).await?;
                    fetch_batch(conn, &what, &batch).await?
                }
                fetched => fetched?,
            };
            if let Some(previous) = parsing.take() {
                emit_parsed(out, &config.folder, previous).await?;
            }
            let config = std::sync::Arc::clone(&shared);
            parsing = Some(tokio::task::spawn_blocking(move || {
                fetched
                    .iter()
                    .filter_map(|f| parse_fetch(&config, uid_validity, f))
                    .collect()
            }));
        }
        if let Some(last) = parsing {
            emit_parsed(out, &config.folder, last).await?;
        }
        Ok(())
    }

    async fn commit(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        mut acks: Vec<u32>,
    ) -> Result<()> {
        if config.after_read == AfterRead::None || acks.is_empty() {
            return Ok(());
        }
        acks.sort_unstable();
        let set = crate::protocol::imap::uid_set(&acks);
        let what = conn.imap()?.what();
        // Marking is idempotent (a flag set twice, a UID already moved or expunged is
        // no longer there), so after a lost connection it is simply done again.
        match apply(conn, config, &what, &set).await {
            Err(e) if lost(&e) => {
                conn.reconnect(&e).await?;
                apply(conn, config, &what, &set).await?;
            }
            done => done?,
        }
        tracing::debug!(target: TARGET, count = acks.len(), uids = %set, "committed");
        Ok(())
    }

    async fn discover(
        &self,
        conn: &EmailConnection,
        _config: Option<&ReadConfig>,
    ) -> Result<Vec<Object>> {
        let what = conn.imap()?.what();
        let mut session = conn.session().await?;
        let folders = crate::protocol::imap::list(&mut session, &what).await?;
        Ok(folders
            .into_iter()
            .map(|(name, attributes)| Object {
                name,
                description: None,
                attributes,
            })
            .collect())
    }
}

/// A fetched message, parsed or not.
enum Parsed {
    Record(Box<EmailRecord>, u32),
    Unreadable { uid: u32, size: usize, why: String },
}

fn parse_fetch(
    config: &ReadConfig,
    uid_validity: u32,
    fetch: &async_imap::types::Fetch,
) -> Option<Parsed> {
    let uid = fetch.uid?;
    let flags: Vec<String> = fetch.flags().map(|f| flag_name(&f)).collect();
    let raw = fetch.body().unwrap_or_default();
    Some(match mime::record(config, uid, uid_validity, flags, raw) {
        Ok(rec) => Parsed::Record(Box::new(rec), uid),
        Err(why) => Parsed::Unreadable {
            uid,
            size: raw.len(),
            why,
        },
    })
}

async fn emit_parsed(
    out: &Emitter<EmailRecord, u32>,
    folder: &str,
    parsing: tokio::task::JoinHandle<Vec<Parsed>>,
) -> Result<()> {
    let parsed = parsing
        .await
        .map_err(|e| Error::internal(format!("parsing messages failed: {e}")))?;
    for p in parsed {
        match p {
            Parsed::Record(rec, uid) => out.emit(*rec, uid).await?,
            Parsed::Unreadable { uid, size, why } => {
                out.skip(Error::protocol(format!(
                    "message uid {uid} ({size} bytes) in {folder} cannot be read: {why}; left untouched"
                )))
                .await?;
            }
        }
    }
    Ok(())
}
