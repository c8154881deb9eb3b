//! One pass over a folder: select it, search, fetch in batches while the previous
//! batch is parsed, emit each message's record (or report why it cannot be one), and
//! checkpoint after each batch; with `flag_changes`, the flag changes since the last
//! run. Used by a plain run (once per folder) and by `follow` (again after new mail).

use connector_sdk::{Emitter, Error, Result};

use super::TARGET;
use super::config::{AfterRead, ReadConfig, ReadMode, UidValidityChange};
use super::mailbox::{
    self, Fetched, changed_flags, fetch_batch, fetch_sizes, lost, plan_batches, search,
    search_query,
};
use super::mime;
use super::record::EmailRecord;
use super::state::{Progress, ReadState};
use crate::connection::EmailConnection;
use crate::protocol::imap::flag_name;

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

/// A fetched message, parsed or not.
enum Parsed {
    Record(Box<EmailRecord>, u32),
    Unreadable { uid: u32, size: usize, why: String },
}

impl Parsed {
    fn uid(&self) -> u32 {
        match self {
            Self::Record(_, uid) | Self::Unreadable { uid, .. } => *uid,
        }
    }
}

/// After a batch FETCH the server refused (`NO` or `BAD`, often for one message it
/// cannot read): each message it did not send is asked for on its own, and one it
/// refuses again is reported with its UID and left untouched, while the rest of the
/// batch is read. A refusal of the whole batch is not taken for an empty mailbox.
async fn one_by_one(
    conn: &EmailConnection,
    what: &str,
    uids: &[u32],
    fetched: Fetched,
    refused: &mut Vec<(u32, usize, String)>,
) -> Result<Vec<async_imap::types::Fetch>> {
    let Fetched {
        mut messages,
        refused: why,
    } = fetched;
    let Some(why) = why else {
        return Ok(messages);
    };
    tracing::warn!(target: TARGET, "{why}; fetching the messages it did not send one by one");
    let have: std::collections::HashSet<u32> = messages
        .iter()
        .filter(|f| f.body().is_some())
        .filter_map(|f| f.uid)
        .collect();
    for &uid in uids.iter().filter(|u| !have.contains(u)) {
        let one = fetch_batch(conn, what, &[uid]).await?;
        match one.refused {
            Some(e) => refused.push((
                uid,
                0,
                format!("the server refused to send it: {}", e.message()),
            )),
            None => messages.extend(one.messages),
        }
    }
    Ok(messages)
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
    out: &Emitter<EmailRecord, (u16, u32), ReadState>,
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
    // Nothing a server sends may exceed what the settings allow, whatever sizes it
    // reports: one piece at most max_message_bytes, one answer at most a batch.
    imap.watch.limit(
        config.max_message_bytes,
        config.batch_bytes.saturating_add(config.max_message_bytes),
    );
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
        let (fetch, oversized): (Vec<u32>, Vec<u32>) = batch.iter().partition(|uid| {
            sizes
                .get(uid)
                .is_none_or(|s| *s <= config.max_message_bytes)
        });
        let mut refused: Vec<(u32, usize, String)> = oversized
            .iter()
            .map(|uid| {
                let size = sizes.get(uid).copied().unwrap_or(0);
                (
                    *uid,
                    usize::try_from(size).unwrap_or(usize::MAX),
                    format!(
                        "it is larger than max_message_bytes ({})",
                        config.max_message_bytes
                    ),
                )
            })
            .collect();
        let fetched = if fetch.is_empty() {
            Vec::new()
        } else {
            let fetched = match fetch_batch(conn, &what, &fetch).await {
                Err(e) if lost(&e) => {
                    conn.reconnect(&e).await?;
                    fetch_batch(conn, &what, &fetch).await?
                }
                fetched => fetched?,
            };
            one_by_one(conn, &what, &fetch, fetched, &mut refused).await?
        };
        if let Some((upto, previous)) = parsing.take() {
            let skipped = emit_parsed(out, &config.folder, index, previous).await?;
            out.checkpoint(progress.batch_done(upto, &skipped)).await?;
        }
        let config = std::sync::Arc::clone(&shared);
        let upto = batch.iter().copied().max().unwrap_or(0);
        let wanted: std::collections::HashSet<u32> = batch.iter().copied().collect();
        parsing = Some((
            upto,
            tokio::task::spawn_blocking(move || {
                // One record per UID: a server may answer twice for a message (flags
                // alone, then the content); the answer with content counts.
                let with_body: std::collections::HashSet<u32> = fetched
                    .iter()
                    .filter(|f| f.body().is_some())
                    .filter_map(|f| f.uid)
                    .collect();
                let mut seen = std::collections::HashSet::new();
                let mut parsed: Vec<Parsed> = fetched
                    .iter()
                    .filter(|f| {
                        f.uid.is_some_and(|u| {
                            (f.body().is_some() || !with_body.contains(&u)) && seen.insert(u)
                        })
                    })
                    .filter_map(|f| parse_fetch(&config, uid_validity, &wanted, f))
                    .chain(
                        refused
                            .into_iter()
                            .map(|(uid, size, why)| Parsed::Unreadable { uid, size, why }),
                    )
                    .collect();
                parsed.sort_by_key(Parsed::uid);
                parsed
            }),
        ));
    }
    if let Some((upto, last)) = parsing {
        let skipped = emit_parsed(out, &config.folder, index, last).await?;
        out.checkpoint(progress.batch_done(upto, &skipped)).await?;
    }
    if let Some((up_to, since, now)) = flags_since {
        let mut complete = true;
        if let (Some(since), true) = (since, up_to > 0) {
            let (mut found, mut lo) = (0usize, 1u32);
            complete = false;
            while !out.is_stopped() {
                let hi = lo.saturating_add(mailbox::CHANGES_WINDOW - 1).min(up_to);
                for (uid, flags) in changed_flags(conn, &what, (lo, hi), since).await? {
                    found += 1;
                    let record =
                        EmailRecord::flags_changed(uid, uid_validity, &config.folder, flags);
                    out.emit(record, (index, uid)).await?;
                }
                if hi == up_to {
                    complete = true;
                    break;
                }
                lo = hi + 1;
            }
            tracing::info!(target: TARGET, folder = %config.folder, changed = found, since, "flag changes");
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
    let Some(raw) = fetch.body() else {
        return Some(Parsed::Unreadable {
            uid,
            size: 0,
            why: "the server sent no content for it".into(),
        });
    };
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
    out: &Emitter<EmailRecord, (u16, u32), ReadState>,
    folder: &str,
    index: u16,
    parsing: tokio::task::JoinHandle<Vec<Parsed>>,
) -> Result<Vec<u32>> {
    let parsed = parsing
        .await
        .map_err(|e| Error::internal(format!("parsing messages failed: {e}")))?;
    let mut skipped = Vec::new();
    for p in parsed {
        match p {
            Parsed::Record(rec, uid) => out.emit(*rec, (index, uid)).await?,
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
