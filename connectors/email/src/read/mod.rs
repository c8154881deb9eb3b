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
mod state;

use connector_sdk::{Emitter, Error, Object, Result, Source};

pub use config::{AfterRead, AttachmentMode, Date, Filter, ReadConfig, ReadMode};
pub use record::{AddressRecord, AttachmentRecord, EmailRecord, HeaderRecord};
pub use state::ReadState;

use crate::connection::EmailConnection;
use crate::protocol::imap::{classify, flag_name};
use mailbox::{apply, fetch_batch, fetch_sizes, lost, plan_batches, search_query, search_within};
use state::Progress;

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
    type State = ReadState;

    fn validate(&self, config: &ReadConfig) -> Result<()> {
        search_query(config)?;
        config.check()
    }

    async fn read(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        out: &Emitter<EmailRecord, u32, ReadState>,
    ) -> Result<()> {
        let imap = conn.imap()?;
        let what = imap.what();
        let (uid_validity, uids, mut progress) = {
            let mut session = conn.session().await?;
            if let AfterRead::MoveTo(target) = &config.after_read {
                let exists = crate::protocol::imap::list(&mut session, &what)
                    .await?
                    .iter()
                    .any(|(n, _)| n == target);
                if !exists {
                    return Err(Error::config(
                        "/after_read/move_to",
                        crate::hints::with(
                            format!("there is no folder `{target}` to move messages to"),
                            crate::hints::NO_FOLDER,
                        ),
                    ));
                }
            }
            let mailbox = session.select(&config.folder).await.map_err(|e| {
                match classify(&what, "SELECT", e) {
                    err if err.kind() == connector_sdk::ErrorKind::Rejected => Error::config(
                        "/folder",
                        crate::hints::with(
                            format!("cannot open folder `{}`: {}", config.folder, err.message()),
                            crate::hints::NO_FOLDER,
                        ),
                    ),
                    err => err,
                }
            })?;
            let uid_validity = mailbox.uid_validity.unwrap_or(0);
            conn.selected(&config.folder, uid_validity);
            let progress = Progress::new(&config.folder, uid_validity, out.previous_state());
            // A cursor reads on after the last UID delivered; `n:*` also matches the
            // highest UID when it is below n, hence the filter below.
            let after = match config.mode {
                ReadMode::Cursor => progress.last_uid(),
                ReadMode::Mark => 0,
            };
            let query = if after > 0 {
                search_within(config, Some(&format!("{}:*", after.saturating_add(1))))?
            } else {
                search_query(config)?
            };
            let found = session
                .uid_search(&query)
                .await
                .map_err(|e| classify(&what, "UID SEARCH", e))?;
            let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > after).collect();
            uids.sort_unstable();
            let matching = uids.len();
            uids.truncate(config.max_messages.get() as usize);
            tracing::info!(target: TARGET, folder = %config.folder, uid_validity, matching, reading = uids.len(), %query, "searched");
            if matching > uids.len() {
                tracing::warn!(target: TARGET, folder = %config.folder, remaining = matching - uids.len(), max_messages = config.max_messages.get(), "{} more matching messages wait for the next run (max_messages is {})", matching - uids.len(), config.max_messages.get());
            }
            (uid_validity, uids, progress)
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
        let mut parsing: Option<(u32, tokio::task::JoinHandle<Vec<Parsed>>)> = None;
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
            if let Some((upto, previous)) = parsing.take() {
                let skipped = emit_parsed(out, &config.folder, previous).await?;
                out.checkpoint(progress.batch_done(upto, &skipped)).await?;
            }
            let config = std::sync::Arc::clone(&shared);
            let upto = batch.iter().copied().max().unwrap_or(0);
            let wanted: std::collections::HashSet<u32> = batch.iter().copied().collect();
            parsing = Some((
                upto,
                tokio::task::spawn_blocking(move || {
                    fetched
                        .iter()
                        .filter_map(|f| parse_fetch(&config, uid_validity, &wanted, f))
                        .collect()
                }),
            ));
        }
        if let Some((upto, last)) = parsing {
            let skipped = emit_parsed(out, &config.folder, last).await?;
            out.checkpoint(progress.batch_done(upto, &skipped)).await?;
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

    async fn commit_state(
        &self,
        conn: &EmailConnection,
        config: &ReadConfig,
        state: &ReadState,
    ) -> Result<()> {
        if config.mode == ReadMode::Cursor
            || config.after_read == AfterRead::None
            || state.last_uid == 0
        {
            return Ok(());
        }
        let what = conn.imap()?.what();
        let uids = {
            let mut session = conn.session().await?;
            let mailbox = session
                .select(&config.folder)
                .await
                .map_err(|e| classify(&what, "SELECT", e))?;
            let uid_validity = mailbox.uid_validity.unwrap_or(0);
            conn.selected(&config.folder, uid_validity);
            if !state.applies_to(&config.folder, uid_validity) {
                return Ok(());
            }
            let query = search_within(config, Some(&format!("1:{}", state.last_uid)))?;
            let found = session
                .uid_search(&query)
                .await
                .map_err(|e| classify(&what, "UID SEARCH", e))?;
            let mut uids: Vec<u32> = found
                .into_iter()
                .filter(|u| *u <= state.last_uid && !state.skipped.contains(u))
                .collect();
            uids.sort_unstable();
            uids
        };
        if uids.is_empty() {
            return Ok(());
        }
        tracing::info!(target: TARGET, count = uids.len(), last_uid = state.last_uid, "deferred commit of what the state covers");
        // Up to the host's batch size at a time, as immediate commits go.
        for chunk in uids.chunks(500) {
            self.commit(conn, config, chunk.to_vec()).await?;
        }
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
    wanted: &std::collections::HashSet<u32>,
    fetch: &async_imap::types::Fetch,
) -> Option<Parsed> {
    let uid = fetch.uid?;
    if !wanted.contains(&uid) {
        // A server that answers for a message it was not asked about is not trusted
        // with it: it could make a record of anything, and commit something unread.
        tracing::warn!(target: TARGET, uid, "the server sent a message that was not asked for; ignored");
        return None;
    }
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

/// Emits a parsed batch; returns the UIDs that could not be read.
async fn emit_parsed(
    out: &Emitter<EmailRecord, u32, ReadState>,
    folder: &str,
    parsing: tokio::task::JoinHandle<Vec<Parsed>>,
) -> Result<Vec<u32>> {
    let parsed = parsing
        .await
        .map_err(|e| Error::internal(format!("parsing messages failed: {e}")))?;
    let mut skipped = Vec::new();
    for p in parsed {
        match p {
            Parsed::Record(rec, uid) => out.emit(*rec, uid).await?,
            Parsed::Unreadable { uid, size, why } => {
                skipped.push(uid);
                out.skip(Error::protocol(format!(
                    "message uid {uid} ({size} bytes) in {folder} cannot be read: {why}; left untouched"
                )))
                .await?;
            }
        }
    }
    Ok(skipped)
}
