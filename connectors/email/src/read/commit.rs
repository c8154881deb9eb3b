//! The commit side of Read Email: marking, moving or deleting messages whose records
//! were delivered, in the folder they were read from (selected for the commit when the
//! read has moved on to another), on servers with and without UIDPLUS and MOVE; and the
//! deferred commit of what a kept state covers.

use connector_sdk::{Error, Result};
use futures_util::TryStreamExt;

use super::TARGET;
use super::config::{AfterRead, ReadConfig};
use super::mailbox::{confirm, lost, search};
use super::state;
use crate::connection::EmailConnection;
use crate::protocol::fetch::Answers;
use crate::protocol::imap::{ImapDialer, ImapSession, classify};

/// Commits what the state `place` covers in one folder (`run --commit deferred`): the
/// messages up to its `last_uid` that still match the search, but the unreadable ones.
pub(super) async fn commit_place(
    conn: &EmailConnection,
    config: &ReadConfig,
    state: &state::FolderState,
) -> Result<()> {
    let uids = {
        let imap = conn.imap()?;
        let mut session = conn.session().await?;
        imap.begin();
        let mailbox = session
            .select(crate::protocol::mutf7::encode(&config.folder))
            .await
            .map_err(|e| imap.failed("SELECT", e))?;
        let uid_validity = mailbox.uid_validity.unwrap_or(0);
        conn.selected(&config.folder, uid_validity);
        if state.uid_validity != uid_validity {
            tracing::warn!(target: TARGET, folder = %config.folder, state_uid_validity = state.uid_validity, uid_validity, "the folder's UIDVALIDITY changed since the state was written: nothing committed there");
            return Ok(());
        }
        let to = match mailbox.uid_next {
            Some(next) => state.last_uid.min(next.saturating_sub(1)),
            None => state.last_uid,
        };
        let found = search(conn.imap()?, &mut session, config, 1, Some(to), usize::MAX).await?;
        let skipped: std::collections::HashSet<u32> = state.skipped.iter().copied().collect();
        found
            .first
            .into_iter()
            .filter(|u| !skipped.contains(u))
            .collect::<Vec<u32>>()
    };
    if uids.is_empty() {
        return Ok(());
    }
    tracing::info!(target: TARGET, folder = %config.folder, count = uids.len(), last_uid = state.last_uid, "deferred commit of what the state covers");
    // Up to the host's batch size at a time, as immediate commits go.
    for chunk in uids.chunks(500) {
        commit_in(conn, config, chunk).await?;
    }
    Ok(())
}

/// Marks, moves or deletes `uids` of the folder `config` reads, as `after_read` says.
/// The session may have another folder of the run selected for reading: then this
/// folder is selected for the commit, its UIDVALIDITY checked, and the other one
/// selected again before the session is given back.
pub(super) async fn commit_in(
    conn: &EmailConnection,
    config: &ReadConfig,
    uids: &[u32],
) -> Result<()> {
    let set = crate::protocol::imap::uid_set(uids);
    let what = conn.imap()?.what();
    // Marking is idempotent (a flag set twice, a UID already moved or expunged is no
    // longer there), so after a lost connection it is simply done again; so too after
    // an answer the client could not parse (GNU imap4d 3.15 answers EXPUNGE with
    // `* 1 EXPUNGED`): on a new session, doing it again finds it done, or does it.
    match apply(conn, config, &what, &set).await {
        Err(e) if lost(&e) || crate::protocol::imap::unparsed_answer(&e) => {
            tracing::warn!(target: TARGET, folder = %config.folder, "committing again on a new session: {}", e.message());
            conn.reconnect(&e).await?;
            apply(conn, config, &what, &set).await?;
        }
        done => done?,
    }
    tracing::debug!(target: TARGET, folder = %config.folder, count = uids.len(), uids = %set, "committed");
    Ok(())
}

/// Marks, deletes or moves the messages in `set` after their records were delivered.
async fn apply(conn: &EmailConnection, config: &ReadConfig, what: &str, set: &str) -> Result<()> {
    let imap = conn.imap()?;
    let mut session = conn.session().await?;
    // Another folder of the run is selected for reading: this one is selected for the
    // commit (UIDs mean something only in their folder, under its UIDVALIDITY), and
    // that one again after, all while the session is held, so the read never fetches
    // from the wrong folder.
    let elsewhere = conn.selected_now().filter(|(f, _)| *f != config.folder);
    if elsewhere.is_some() {
        reselect(
            imap,
            &mut session,
            &config.folder,
            conn.validity_of(&config.folder),
        )
        .await?;
    }
    let done = apply_on(imap, &mut session, config, what, set).await;
    if let Some((back, validity)) = elsewhere {
        reselect(imap, &mut session, &back, Some(validity)).await?;
    }
    done
}

/// Selects `folder`, checking its UIDVALIDITY is still `expected`.
async fn reselect(
    imap: &crate::protocol::imap::ImapDialer,
    session: &mut crate::protocol::imap::ImapSession,
    folder: &str,
    expected: Option<u32>,
) -> Result<()> {
    imap.begin();
    let mailbox = session
        .select(crate::protocol::mutf7::encode(folder))
        .await
        .map_err(|e| imap.failed("SELECT", e))?;
    let now = mailbox.uid_validity.unwrap_or(0);
    match expected {
        Some(v) if v == now => Ok(()),
        Some(v) => Err(Error::protocol(format!(
            "{}: UIDVALIDITY of {folder} changed from {v} to {now} during the run: nothing more is committed there (the next run reads it again)",
            imap.what()
        ))),
        None => Err(Error::internal(format!(
            "a commit names {folder}, which this run did not read"
        ))),
    }
}

async fn apply_on(
    imap: &crate::protocol::imap::ImapDialer,
    session: &mut crate::protocol::imap::ImapSession,
    config: &ReadConfig,
    what: &str,
    set: &str,
) -> Result<()> {
    match &config.after_read {
        AfterRead::None => {}
        AfterRead::MarkSeen => {
            imap.begin();
            drain(
                session.uid_store(set, "+FLAGS.SILENT (\\Seen)").await,
                what,
                "UID STORE",
            )
            .await?;
            imap.completed("UID STORE")?;
        }
        AfterRead::Delete => {
            let expunged = delete(imap, session, what, set).await?;
            tracing::debug!(target: TARGET, expunged, "deleted");
        }
        AfterRead::MoveTo(folder) => {
            let caps = session
                .capabilities()
                .await
                .map_err(|e| classify(what, "CAPABILITY", e))?;
            if caps.has_str("MOVE") {
                imap.begin();
                session
                    .uid_mv(set, crate::protocol::mutf7::encode(folder))
                    .await
                    .map_err(|e| classify(what, "UID MOVE", e))?;
                imap.completed("UID MOVE")?;
            } else {
                // Copy, then flag \Deleted and expunge. Done again after a failure (a
                // lost connection, an answer that could not be parsed), this must not
                // copy twice: a message already flagged \Deleted was copied, one
                // already expunged is gone, so only those still undeleted are copied.
                imap.begin();
                let pending = session
                    .uid_search(format!("UID {set} UNDELETED"))
                    .await
                    .map_err(|e| classify(what, "UID SEARCH", e))?;
                imap.completed("UID SEARCH")?;
                if !pending.is_empty() {
                    let mut pending: Vec<u32> = pending.into_iter().collect();
                    pending.sort_unstable();
                    imap.begin();
                    session
                        .uid_copy(
                            crate::protocol::imap::uid_set(&pending),
                            crate::protocol::mutf7::encode(folder),
                        )
                        .await
                        .map_err(|e| classify(what, "UID COPY", e))?;
                    imap.completed("UID COPY")?;
                }
                delete(imap, session, what, set).await?;
            }
        }
    }
    // The answers to STORE and EXPUNGE also end quietly when the connection drops.
    confirm(imap, session, what).await
}

/// Flags the messages in `set` `\\Deleted` and expunges them (only them: UID
/// EXPUNGE). Returns how many went.
async fn delete(
    imap: &ImapDialer,
    session: &mut ImapSession,
    what: &str,
    set: &str,
) -> Result<usize> {
    imap.begin();
    drain(
        session.uid_store(set, "+FLAGS.SILENT (\\Deleted)").await,
        what,
        "UID STORE",
    )
    .await?;
    imap.completed("UID STORE")?;
    let caps = session
        .capabilities()
        .await
        .map_err(|e| classify(what, "CAPABILITY", e))?;
    if !caps.has_str("UIDPLUS") {
        return expunge_without_uidplus(imap, session, what, set).await;
    }
    imap.begin();
    let expunged: Vec<_> = session
        .uid_expunge(set)
        .await
        .map_err(|e| classify(what, "UID EXPUNGE", e))?
        .try_collect()
        .await
        .map_err(|e| classify(what, "UID EXPUNGE", e))?;
    imap.completed("UID EXPUNGE")?;
    Ok(expunged.len())
}

/// Without UIDPLUS there is no `UID EXPUNGE`, and a plain `EXPUNGE` removes every
/// message flagged `\Deleted` (RFC 3501 section 6.4.3), not only ours. So: a plain
/// `EXPUNGE` only when no other message is flagged; otherwise ours stay flagged
/// `\Deleted` (searches skip them: `UNDELETED`) and a warning says so. Never a `UID
/// EXPUNGE` the server would refuse while the run says it deleted.
async fn expunge_without_uidplus(
    imap: &ImapDialer,
    session: &mut ImapSession,
    what: &str,
    set: &str,
) -> Result<usize> {
    imap.begin();
    let flagged = session
        .uid_search("DELETED")
        .await
        .map_err(|e| classify(what, "UID SEARCH", e))?;
    imap.completed("UID SEARCH")?;
    let ours: std::collections::HashSet<u32> = parse_set(set);
    let others = flagged.iter().filter(|u| !ours.contains(u)).count();
    if others > 0 {
        tracing::warn!(target: TARGET, others, "the server has no UIDPLUS and {others} other messages are flagged \\Deleted: an EXPUNGE would remove them too, so the messages read stay flagged \\Deleted (and are not read again) until the folder is expunged");
        return Ok(0);
    }
    imap.begin();
    // The answer is read by the connector (`protocol::fetch`), which reads it to its
    // completion whatever form the `EXPUNGE` lines take.
    let tag = session
        .run_command("EXPUNGE")
        .await
        .map_err(|e| classify(what, "EXPUNGE", e))?;
    let expunged = Answers::new(session.get_mut(), &tag.0)
        .expunged()
        .await
        .map_err(|e| classify(what, "EXPUNGE", e))?;
    imap.completed("EXPUNGE")?;
    Ok(expunged)
}

/// The UIDs of a set written by [`uid_set`] (`1:3,7`).
fn parse_set(set: &str) -> std::collections::HashSet<u32> {
    let mut out = std::collections::HashSet::new();
    for part in set.split(',') {
        let mut ends = part.splitn(2, ':').map(|n| n.parse::<u32>().unwrap_or(0));
        let lo = ends.next().unwrap_or(0);
        let hi = ends.next().unwrap_or(lo);
        out.extend(lo.min(hi)..=lo.max(hi));
    }
    out
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
