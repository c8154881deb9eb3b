//! One pass over a folder: select it, search, read what matched through the fetch
//! pipeline ([`super::flow`]: streamed, parsed while it arrives, checkpointed after
//! each batch); with `flag_changes`, the flag changes since the last
//! run. Used by a plain run (once per folder) and by `follow` (again after new mail).

use connector_sdk::{Emitter, Error, Result};

use super::TARGET;
use super::config::{AfterRead, ReadConfig, ReadMode, UidValidityChange};
use super::mailbox::{self, changed_flags, search, search_query};
use super::record::EmailRecord;
use super::state::{Progress, ReadState};
use crate::connection::EmailConnection;

/// Where a pass reads and what it carries on from the passes before it.
pub(crate) struct Scope {
    /// The folder's place in the run (its acknowledgements say it).
    pub(crate) index: u16,
    /// Read only UIDs above this one.
    pub(crate) after: u32,
    /// How many messages earlier passes of the run planned (for the progress total).
    pub(crate) planned: u64,
    /// The run's state so far (every folder).
    pub(crate) state: ReadState,
}

/// What one pass did.
#[derive(Debug, Clone)]
pub(crate) struct Pass {
    /// The folder's UIDVALIDITY.
    pub(crate) uid_validity: u32,
    /// The highest UID it read (emitted or reported), or where it started.
    pub(crate) last_uid: u32,
    /// How many messages it planned to read.
    pub(crate) planned: u64,
    /// Whether more matching messages wait (over `max_messages`).
    pub(crate) more: bool,
    /// How many matching messages wait for a later pass or run.
    pub(crate) remaining: u64,
    /// The run's state after it (every folder).
    pub(crate) state: ReadState,
}

/// One pass over the folder: select, search (UIDs above `scope.after`), fetch in
/// batches, emit, each record acknowledged with the folder's place in the run.
pub(crate) async fn pass(
    conn: &EmailConnection,
    config: &ReadConfig,
    out: &Emitter<EmailRecord<'static>, (u16, u32), ReadState>,
    scope: Scope,
) -> Result<Pass> {
    let Scope {
        index,
        after,
        planned,
        state,
    } = scope;
    let imap = conn.imap()?;
    let what = imap.what();
    let (uid_validity, uids, mut progress, matching, flags_since) = {
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
        let mut qresync = false;
        if config.flag_changes {
            let caps = session
                .capabilities()
                .await
                .map_err(|e| crate::protocol::imap::classify(&what, "CAPABILITY", e))?;
            if !caps.has_str("CONDSTORE") {
                return Err(Error::config(
                    "/flag_changes",
                    format!(
                        "{what} does not offer CONDSTORE (RFC 7162): flag changes cannot be found cheaply there; set flag_changes to false"
                    ),
                ));
            }
            // With QRESYNC the same fetch also names what was expunged.
            qresync = caps.has_str("QRESYNC");
            if qresync {
                conn.enable_qresync(&mut session).await?;
            }
        }
        imap.begin();
        let name = crate::protocol::mutf7::encode(&config.folder);
        let selected = if config.flag_changes {
            session.select_condstore(name).await
        } else {
            session.select(name).await
        };
        let mailbox = selected.map_err(|e| match imap.failed("SELECT", e) {
            err if err.kind() == connector_sdk::ErrorKind::Rejected => Error::config(
                "/folder",
                crate::hints::with(
                    format!("cannot open folder `{}`: {}", config.folder, err.message()),
                    crate::hints::NO_FOLDER,
                ),
            ),
            err => err,
        })?;
        let uid_validity = mailbox.uid_validity.unwrap_or(0);
        conn.selected(&config.folder, uid_validity);
        let renumbered = Progress::renumbered(&state, &config.folder, uid_validity);
        let mut progress = Progress::new(&config.folder, uid_validity, state);
        if renumbered && config.mode == ReadMode::Cursor {
            match config.on_uidvalidity_change {
                UidValidityChange::Reread => {}
                UidValidityChange::FromNow => {
                    let now = mailbox.uid_next.map_or(0, |n| n.saturating_sub(1));
                    tracing::warn!(target: TARGET, folder = %config.folder, from_uid = now, "UIDVALIDITY changed: reading only what arrives from now on (on_uidvalidity_change: from_now)");
                    progress.start_at(now);
                    // Kept at once: a run that reads nothing must still move the place.
                    out.checkpoint(progress.state()).await?;
                }
                UidValidityChange::Fail => {
                    return Err(Error::protocol(format!(
                        "the UIDVALIDITY of {} changed since the state was written ({uid_validity} now): the state's place means nothing there; set on_uidvalidity_change to `reread` or `from_now` to go on",
                        config.folder
                    ))
                    .retryable(false));
                }
            }
        }
        // With flag_changes: what the place covered before this run, and the
        // mod-sequence it was kept at; the folder's mod-sequence now.
        let flags_since = config.flag_changes.then(|| {
            (
                progress.last_uid(),
                progress.modseq(),
                mailbox.highest_modseq,
                qresync,
            )
        });
        // A cursor reads on after the last UID delivered; a follow run after the
        // last one it read (those not yet committed must not come twice).
        let after = match config.mode {
            ReadMode::Cursor => progress.last_uid().max(after),
            ReadMode::Mark => after,
        };
        let keep = config.max_messages.get() as usize;
        let to = mailbox.uid_next.map(|next| next.saturating_sub(1));
        let found = search(
            imap,
            &mut session,
            config,
            after.saturating_add(1),
            to,
            keep,
        )
        .await?;
        let (uids, matching) = (found.first, found.matching);
        tracing::info!(target: TARGET, folder = %config.folder, uid_validity, matching, reading = uids.len(), query = %search_query(config)?, "searched");
        out.expect(planned + uids.len() as u64);
        if matching > uids.len() {
            tracing::warn!(target: TARGET, folder = %config.folder, remaining = matching - uids.len(), max_messages = config.max_messages.get(), "{} more matching messages wait for the next run (max_messages is {})", matching - uids.len(), config.max_messages.get());
        }
        (uid_validity, uids, progress, matching, flags_since)
    };
    super::flow::Flow {
        conn,
        what: &what,
        config: std::sync::Arc::new(config.clone()),
        out,
        index,
        uid_validity,
        progress: &mut progress,
        parsing: Default::default(),
        sizes_first: false,
    }
    .read(&uids)
    .await?;
    if let Some((up_to, since, now, qresync)) = flags_since {
        let mut complete = true;
        if let (Some(since), true) = (since, up_to > 0) {
            let (mut found, mut gone, mut lo) = (0usize, 0usize, 1u32);
            complete = false;
            while !out.is_stopped() {
                let hi = lo.saturating_add(mailbox::CHANGES_WINDOW - 1).min(up_to);
                let changes = changed_flags(conn, &what, (lo, hi), since, qresync).await?;
                found += changes.flags.len();
                gone += changes.vanished.len();
                let mut records: Vec<EmailRecord<'static>> = changes
                    .flags
                    .into_iter()
                    .map(|(uid, now)| {
                        EmailRecord::flags_changed(uid, uid_validity, &config.folder, now)
                    })
                    .chain(
                        changes
                            .vanished
                            .into_iter()
                            .map(|uid| EmailRecord::vanished(uid, uid_validity, &config.folder)),
                    )
                    .collect();
                // In UID order: the consumer sees one folder's story.
                records.sort_by_key(|r| r.uid);
                for record in records {
                    let uid = record.uid;
                    out.emit(record, (index, uid)).await?;
                }
                if hi == up_to {
                    complete = true;
                    break;
                }
                lo = hi + 1;
            }
            tracing::info!(target: TARGET, folder = %config.folder, changed = found, vanished = gone, since, qresync, "flag changes");
        }
        let now = now.ok_or_else(|| {
            Error::protocol(format!(
                "{what}: the server offers CONDSTORE but gave no HIGHESTMODSEQ for {}",
                config.folder
            ))
        })?;
        // Only once every change was handed on: a run stopped half-way reports the
        // rest next time.
        if complete && !out.is_stopped() {
            progress.set_modseq(now);
            out.checkpoint(progress.state()).await?;
        }
    }
    Ok(Pass {
        uid_validity,
        last_uid: uids.iter().copied().max().unwrap_or(after),
        planned: uids.len() as u64,
        more: matching > uids.len(),
        remaining: (matching - uids.len()) as u64,
        state: progress.state(),
    })
}
