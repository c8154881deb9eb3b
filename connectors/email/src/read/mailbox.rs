//! The IMAP side of Read Email: the search, the oversized check, fetching, the flag
//! changes, and the commits (mark seen, delete, move) with every answer confirmed.

use std::collections::HashMap;

use connector_sdk::{Error, Result};
use futures_util::TryStreamExt;

use super::config::ReadConfig;
use crate::connection::EmailConnection;
use crate::protocol::fetch::Answers;
use crate::protocol::imap::{ImapDialer, ImapSession, classify, quote, uid_set};

/// The server-side search for the settings, for a server that takes literals inline.
pub(crate) fn search_query(config: &ReadConfig) -> Result<String> {
    search_within(config, None, Offers::ALL)
}

/// What a server offers that a search may use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Offers {
    /// LITERAL+ or LITERAL- (RFC 7888): literals sent inline.
    pub(crate) inline_literals: bool,
    /// X-GM-EXT-1 (Gmail): `X-GM-RAW`.
    pub(crate) gmail: bool,
}

impl Offers {
    /// Everything: for checking settings before a server is asked.
    pub(crate) const ALL: Self = Self {
        inline_literals: true,
        gmail: true,
    };
}

/// Whether a filter has text that is not ASCII: RFC 3501 allows it only in a literal
/// (section 4.3), which the search must then send inline.
fn eight_bit(config: &ReadConfig) -> bool {
    let f = &config.filter;
    [&f.from, &f.subject, &f.to, &f.gmail_raw]
        .into_iter()
        .flatten()
        .chain(f.header.values())
        .any(|v| !v.is_ascii())
}

/// The search, limited to a UID set when given (`31:*` after a cursor, `1:30` for what a
/// deferred commit covers). Text that is not ASCII goes as a non-synchronizing literal
/// (`{6+}`, RFC 7888) when `inline_literals` (the server offers LITERAL+ or LITERAL-);
/// otherwise such a filter is an error that says so, since a quoted string may not
/// carry it and a server may take it for something else.
pub(crate) fn search_within(
    config: &ReadConfig,
    uids: Option<&str>,
    offers: Offers,
) -> Result<String> {
    let inline_literals = offers.inline_literals;
    let mut terms: Vec<String> = Vec::new();
    if let Some(uids) = uids {
        terms.push(format!("UID {uids}"));
    }
    let mut utf8 = false;
    if config.unseen_only {
        terms.push("UNSEEN".into());
    }
    // A message flagged \Deleted is on its way out (or was deleted by a run on a server
    // without UIDPLUS, whose EXPUNGE had to wait): never read it again.
    terms.push("UNDELETED".into());
    let f = &config.filter;
    let mut texts: Vec<(String, &String, String)> = Vec::new();
    for (key, value, path) in [
        ("FROM", &f.from, "/filter/from"),
        ("TO", &f.to, "/filter/to"),
        ("SUBJECT", &f.subject, "/filter/subject"),
    ] {
        if let Some(v) = value {
            texts.push((key.to_owned(), v, path.to_owned()));
        }
    }
    if let Some(v) = &f.gmail_raw {
        if !offers.gmail {
            return Err(Error::config(
                "/filter/gmail_raw",
                "this server does not offer Gmail's search (no X-GM-EXT-1 capability): use `search` or the other filters",
            ));
        }
        texts.push(("X-GM-RAW".to_owned(), v, "/filter/gmail_raw".to_owned()));
    }
    for (name, v) in &f.header {
        // The name was checked to be a header field name (no spaces, no specials).
        texts.push((
            format!("HEADER {name}"),
            v,
            format!(
                "/filter/header/{}",
                name.replace('~', "~0").replace('/', "~1")
            ),
        ));
    }
    for (key, v, path) in texts {
        let q = quote(v).ok_or_else(|| Error::config(&path, "line breaks are not allowed here"))?;
        if v.is_ascii() {
            terms.push(format!("{key} {q}"));
        } else if inline_literals {
            utf8 = true;
            terms.push(format!("{key} {{{}+}}\r\n{v}", v.len()));
        } else {
            return Err(Error::config(
                path,
                "text that is not ASCII must go to the server as a literal, and this server takes none inline (no LITERAL+ or LITERAL-, RFC 7888): use ASCII text",
            ));
        }
    }
    if let Some(d) = config.filter.since {
        terms.push(format!("SENTSINCE {}", d.imap()));
    }
    if let Some(d) = config.filter.before {
        terms.push(format!("SENTBEFORE {}", d.imap()));
    }
    if let Some(n) = f.larger {
        terms.push(format!("LARGER {n}"));
    }
    if let Some(n) = f.smaller {
        terms.push(format!("SMALLER {n}"));
    }
    match f.flagged {
        Some(true) => terms.push("FLAGGED".into()),
        Some(false) => terms.push("UNFLAGGED".into()),
        None => {}
    }
    if let Some(raw) = &f.search {
        // Checked with the settings: ASCII, balanced, no literal.
        terms.push(format!("({raw})"));
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

/// The messages of `uids` larger than `max` bytes, with their sizes: one `UID SEARCH
/// UID … LARGER max` (the server knows every size; nothing is fetched for the others),
/// then the sizes of those it names, if any. Such a message is reported and never
/// fetched. UIDs the server names outside `uids` are not trusted and dropped.
pub(super) async fn larger_than(
    conn: &EmailConnection,
    what: &str,
    uids: &[u32],
    max: u64,
) -> Result<Vec<(u32, u64)>> {
    // RFC822.SIZE is a 32-bit number: no message can be larger than a larger limit.
    let Ok(max) = u32::try_from(max) else {
        return Ok(Vec::new());
    };
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let imap = conn.imap()?;
    let mut large: Vec<u32> = {
        let mut session = conn.session().await?;
        imap.begin();
        let answer = session
            .uid_search(format!("UID {} LARGER {max}", uid_set(uids)))
            .await
            .map_err(|e| classify(what, "UID SEARCH LARGER", e))?;
        imap.completed("UID SEARCH")?;
        let asked: std::collections::HashSet<u32> = uids.iter().copied().collect();
        answer.into_iter().filter(|u| asked.contains(u)).collect()
    };
    if large.is_empty() {
        return Ok(Vec::new());
    }
    large.sort_unstable();
    let fetched = uid_fetch(conn, what, &large, "(UID RFC822.SIZE)").await?;
    let sizes: HashMap<u32, u64> = fetched
        .messages
        .iter()
        .filter_map(|f| Some((f.uid?, u64::from(f.size?))))
        .collect();
    Ok(large
        .into_iter()
        .map(|uid| (uid, sizes.get(&uid).copied().unwrap_or(0)))
        .collect())
}

/// What one `UID FETCH` brought: the messages, and the server's refusal (`NO` or
/// `BAD`) if it completed the command with one.
pub(super) struct Fetched {
    pub(super) messages: Vec<async_imap::types::Fetch>,
    pub(super) refused: Option<Error>,
}

/// The messages of `batch`, whole, without marking them read (`BODY.PEEK`).
pub(super) async fn fetch_batch(
    conn: &EmailConnection,
    what: &str,
    batch: &[u32],
) -> Result<Fetched> {
    uid_fetch(conn, what, batch, "(UID FLAGS RFC822.SIZE BODY.PEEK[])").await
}

/// One `UID FETCH` of `uids` for `items`, holding the session only while fetching (so
/// commits can run in between).
async fn uid_fetch(
    conn: &EmailConnection,
    what: &str,
    uids: &[u32],
    items: &str,
) -> Result<Fetched> {
    let imap = conn.imap()?;
    let mut session = conn.session().await?;
    let mut pending = HalfAnswered(conn, true);
    imap.begin();
    let messages: Vec<async_imap::types::Fetch> = session
        .uid_fetch(uid_set(uids), items)
        .await
        .map_err(|e| classify(what, "UID FETCH", e))?
        .try_collect()
        .await
        .map_err(|e| classify(what, "UID FETCH", e))?;
    pending.1 = false;
    let refused = imap.completed("UID FETCH").err();
    if refused.is_none() && messages.len() < uids.len() {
        // async-imap ends a FETCH stream quietly when the connection drops; a NOOP
        // tells that apart from messages expunged in the meantime.
        confirm(imap, &mut session, what).await?;
    }
    drop(pending);
    Ok(Fetched { messages, refused })
}

/// Marks the session abandoned if dropped armed: a command whose answer was not read
/// to its end (the run stopped and the future was dropped, or an error) leaves the
/// session unusable, and the commits that follow must get a new one. Declared after
/// the session's guard, so it runs before the guard lets anyone else have it.
pub(super) struct HalfAnswered<'a>(pub(super) &'a EmailConnection, pub(super) bool);

impl Drop for HalfAnswered<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.abandon();
        }
    }
}

/// How many UIDs one `CHANGEDSINCE` fetch covers: what a server answers for it is held
/// at most this many entries, whatever it sends.
pub(super) const CHANGES_WINDOW: u32 = 5_000;

/// What changed in a window of UIDs since a mod-sequence.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Changes {
    /// The messages whose flags changed, with their flags now, in UID order.
    pub(super) flags: Vec<(u32, Vec<String>)>,
    /// The messages expunged (QRESYNC's `VANISHED (EARLIER)`), in UID order. RFC 7162
    /// lets a server name UIDs it never used, so a consumer treats these as "gone if
    /// you had it".
    pub(super) vanished: Vec<u32>,
}

/// The messages with a UID in `lo..=hi` whose flags changed after mod-sequence `since`
/// (RFC 7162 `CHANGEDSINCE`), with their flags now, in UID order: one command, flags
/// only, nothing fetched again. With `qresync` (the session has `ENABLE QRESYNC`d),
/// the same command's `VANISHED` modifier also names the messages expunged since.
/// Answers outside the window, or more than one per UID, are not kept (a hostile
/// server could send them without end), so what is held is at most two entries per
/// UID of the window, whatever the server sends.
pub(super) async fn changed_flags(
    conn: &EmailConnection,
    what: &str,
    (lo, hi): (u32, u32),
    since: u64,
    qresync: bool,
) -> Result<Changes> {
    let imap = conn.imap()?;
    let mut session = conn.session().await?;
    // What earlier commands left unasked is not this command's answer.
    while session.unsolicited_responses.try_recv().is_ok() {}
    imap.begin();
    let mut changed: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
    let modifiers = if qresync {
        format!("(CHANGEDSINCE {since} VANISHED)")
    } else {
        format!("(CHANGEDSINCE {since})")
    };
    {
        let mut answers = session
            .uid_fetch(format!("{lo}:{hi}"), format!("(UID FLAGS) {modifiers}"))
            .await
            .map_err(|e| classify(what, "UID FETCH CHANGEDSINCE", e))?;
        while let Some(fetch) = answers
            .try_next()
            .await
            .map_err(|e| classify(what, "UID FETCH CHANGEDSINCE", e))?
        {
            if let Some(uid) = fetch.uid.filter(|u| (lo..=hi).contains(u)) {
                let flags = fetch
                    .flags()
                    .map(|f| crate::protocol::imap::flag_name(&f))
                    .collect();
                changed.insert(uid, flags);
            }
        }
    }
    imap.completed("UID FETCH")?;
    let mut vanished = std::collections::BTreeSet::new();
    if qresync {
        while let Ok(answer) = session.unsolicited_responses.try_recv() {
            if let async_imap::types::UnsolicitedResponse::Other(data) = answer
                && let async_imap::imap_proto::Response::Vanished { uids, .. } = data.parsed()
            {
                within(uids, (lo, hi), &mut vanished);
            }
        }
    }
    Ok(Changes {
        flags: changed.into_iter().collect(),
        vanished: vanished.into_iter().collect(),
    })
}

/// Adds the UIDs of `ranges` that lie in `lo..=hi` to `into`: a range as wide as the
/// server likes costs at most the window. A range may be written either way round
/// (`8:3` is `3:8`, RFC 3501's `seq-range`).
fn within(
    ranges: &[std::ops::RangeInclusive<u32>],
    (lo, hi): (u32, u32),
    into: &mut std::collections::BTreeSet<u32>,
) {
    for range in ranges {
        let (start, end) = (*range.start(), *range.end());
        let (a, b) = (start.min(end).max(lo), start.max(end).min(hi));
        if a <= b {
            into.extend(a..=b);
        }
    }
}

/// Confirms the session is still there (a NOOP), so an operation whose answer stream
/// ended early is known to be complete rather than cut off.
pub(super) async fn confirm(
    imap: &ImapDialer,
    session: &mut ImapSession,
    what: &str,
) -> Result<()> {
    imap.begin();
    session
        .noop()
        .await
        .map_err(|e| classify(what, "NOOP", e))?;
    imap.completed("NOOP")
}

/// How many UIDs one `UID SEARCH` covers: its answer then lists at most this many, about
/// 550 KB, well under the line limit of [`crate::transport::watch::MAX_LINE`], and
/// parsed in linear time.
pub(crate) const SEARCH_WINDOW: u32 = 50_000;

/// What a windowed search found: the first UIDs in order, and how many matched in all.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub(super) first: Vec<u32>,
    pub(super) matching: usize,
}

/// `UID SEARCH` for the settings over UIDs `from..=to`, in windows of
/// [`SEARCH_WINDOW`] UIDs, keeping the first `keep` matches (a mailbox of a million
/// unread messages costs a count, not a million-entry answer line). With `to` unknown
/// (a server that gave no UIDNEXT) one search covers `from:*`. UIDs the server names
/// outside the window are not trusted and dropped; a `NO` or `BAD` fails.
pub(super) async fn search(
    imap: &ImapDialer,
    session: &mut ImapSession,
    config: &ReadConfig,
    from: u32,
    to: Option<u32>,
    keep: usize,
) -> Result<Found> {
    let what = imap.what();
    let offers = if eight_bit(config) || config.filter.gmail_raw.is_some() {
        let caps = session
            .capabilities()
            .await
            .map_err(|e| classify(&what, "CAPABILITY", e))?;
        Offers {
            inline_literals: caps.has_str("LITERAL+") || caps.has_str("LITERAL-"),
            gmail: caps.has_str("X-GM-EXT-1"),
        }
    } else {
        Offers {
            inline_literals: false,
            gmail: false,
        }
    };
    let mut found = Found::default();
    let mut lo = from.max(1);
    loop {
        let (range, hi) = match to {
            Some(to) if lo > to => break,
            Some(to) => {
                let hi = lo.saturating_add(SEARCH_WINDOW - 1).min(to);
                (format!("{lo}:{hi}"), hi)
            }
            None => (format!("{lo}:*"), u32::MAX),
        };
        let query = search_within(config, Some(&range), offers)?;
        imap.begin();
        // Sent by async-imap, the answer read by the connector (`protocol::fetch`): an
        // answer of 50,000 UIDs cost async-imap's parser a tenth of a read's time.
        let tag = session
            .run_command(format!("UID SEARCH {query}"))
            .await
            .map_err(|e| classify(&what, "UID SEARCH", e))?;
        let answer = Answers::new(session.get_mut(), &tag.0)
            .search()
            .await
            .map_err(|e| classify(&what, "UID SEARCH", e))?;
        imap.completed("UID SEARCH")?;
        let mut uids: Vec<u32> = answer
            .into_iter()
            .filter(|u| (lo..=hi).contains(u))
            .collect();
        uids.sort_unstable();
        uids.dedup();
        found.matching += uids.len();
        let room = keep.saturating_sub(found.first.len());
        found.first.extend(uids.into_iter().take(room));
        if hi == u32::MAX {
            break;
        }
        lo = hi + 1;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::config::Filter;

    #[test]
    fn vanished_ranges_are_clipped_to_the_window_either_way_round() {
        // As the parser gives them: `8:3` is `8..=3` (RFC 3501: either way round).
        let r = std::ops::RangeInclusive::new;
        let mut into = std::collections::BTreeSet::new();
        // As wide as a server likes, written backwards, a single UID, one outside.
        within(
            &[r(u32::MAX, 1), r(9, 7), r(12, 12), r(20, 30)],
            (5, 15),
            &mut into,
        );
        assert_eq!(
            into.into_iter().collect::<Vec<_>>(),
            (5..=15).collect::<Vec<_>>()
        );
        let mut into = std::collections::BTreeSet::new();
        within(
            &[r(9, 7), r(12, 12), r(16, 16), r(1, 4)],
            (5, 15),
            &mut into,
        );
        assert_eq!(into.into_iter().collect::<Vec<_>>(), vec![7, 8, 9, 12]);
    }

    #[test]
    fn search_query_combines_terms() {
        let mut config: ReadConfig = connector_sdk::from_value(&serde_json::json!({
            "filter": {"from": "a@b", "subject": "Grüße", "since": "2026-01-31"}
        }))
        .expect("valid");
        assert_eq!(
            search_query(&config).expect("query"),
            "CHARSET UTF-8 UNSEEN UNDELETED FROM \"a@b\" SUBJECT {7+}\r\nGrüße SENTSINCE 31-Jan-2026"
        );
        let refused = search_within(
            &config,
            None,
            Offers {
                inline_literals: false,
                gmail: false,
            },
        )
        .expect_err("no inline literals");
        assert_eq!(refused.path(), Some("/filter/subject"));
        assert!(refused.message().contains("LITERAL+"), "{refused}");
        config.unseen_only = false;
        config.filter = Filter::default();
        assert_eq!(search_query(&config).expect("query"), "UNDELETED");
    }
}
