//! Address lists and dates read from a header's own text, by RFC 5322 with its
//! obsolete syntax (section 4), where mail-parser 0.11 misreads real mail: comments
//! folded into display names (`Pete(A wonderful \) chap) <pete(his account)@silly.test>`
//! came out as the name `Pete (A wonderful ) chap his account his host)`), source
//! routes kept in the address (`<@machine.tld:mary@example.net>`), spaces kept inside
//! it (`jdoe@machine.  example`), bare words in a list taken for names, the quotes of
//! a quoted local part dropped (`"Big Bug bb"@bug.com` became an address that is not
//! one); dates without seconds, with a comment before the zone, with a three-digit
//! zone or none at all, not read or read hours off. Found by the public corpus
//! comparison (`tests/public_corpus.rs`). Both parsers are single passes over the
//! value with counters, no recursion, so no input can make them deep or slow.
//!
//! One concern, RFC 5322's structured fields (addresses, identifiers, dates), in one
//! file: they share the tokenizer (comments, quoted strings, specials).

use std::borrow::Cow;

use super::record::AddressRecord;

/// One lexical piece of a structured header value (RFC 5322 section 3.2), borrowed
/// from the value unless escapes or line breaks had to be taken out.
#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    /// An atom, or a run of characters that are neither specials nor space.
    Atom(Cow<'a, str>),
    /// The content of a quoted string, escapes undone.
    Quoted(Cow<'a, str>),
    /// The content of a comment (nested comments flattened), escapes undone.
    Comment(Cow<'a, str>),
    /// A domain literal `[...]`, brackets kept.
    Literal(Cow<'a, str>),
    /// One of `<>@,;:.`.
    Special(char),
    /// Folding white space between two tokens.
    Space,
}

/// Whether `c` ends an atom.
fn ends_atom(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '(' | ')' | '[' | ']' | '<' | '>' | '@' | ',' | ';' | ':' | '.'
        )
}

/// Splits a header value into tokens. Unterminated quotes, comments and literals end
/// at the end of the value (a stranger's header must not make the reading fail).
/// Tokens are slices of `value` where they can be (this runs on every address of
/// every message).
fn tokens(value: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut chars = value.char_indices().peekable();
    // The end of the value from `at` on, as a slice or an owned string.
    let piece = |from: usize, to: usize, owned: Option<String>| match owned {
        Some(s) => Cow::Owned(s),
        None => Cow::Borrowed(&value[from..to]),
    };
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                out.push(Token::Space);
            }
            '"' => {
                // Borrowed until an escape or a line break is met; then copied.
                let (from, mut to, mut owned) = (at + 1, value.len(), None::<String>);
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' | '\r' | '\n' => {
                            let s = owned.get_or_insert_with(|| value[from..i].to_owned());
                            if c == '\\' {
                                s.extend(chars.next().map(|(_, c)| c));
                            }
                        }
                        '"' => {
                            to = i;
                            break;
                        }
                        c => {
                            if let Some(s) = owned.as_mut() {
                                s.push(c);
                            }
                        }
                    }
                }
                out.push(Token::Quoted(piece(from, to, owned)));
            }
            '(' => {
                let (from, mut to, mut owned, mut depth) =
                    (at + 1, value.len(), None::<String>, 1usize);
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            let s = owned.get_or_insert_with(|| value[from..i].to_owned());
                            s.extend(chars.next().map(|(_, c)| c));
                            continue;
                        }
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                to = i;
                                break;
                            }
                        }
                        _ => {}
                    }
                    if let Some(s) = owned.as_mut() {
                        s.push(c);
                    }
                }
                let comment = match piece(from, to, owned) {
                    Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                    Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
                };
                out.push(Token::Comment(comment));
            }
            '[' => {
                let (mut to, mut owned) = (value.len(), None::<String>);
                for (i, c) in chars.by_ref() {
                    if c.is_whitespace() {
                        owned.get_or_insert_with(|| value[at..i].to_owned());
                    } else if let Some(s) = owned.as_mut() {
                        s.push(c);
                    }
                    if c == ']' {
                        to = i + 1;
                        break;
                    }
                }
                out.push(Token::Literal(piece(at, to, owned)));
            }
            '<' | '>' | '@' | ',' | ';' | ':' | '.' => out.push(Token::Special(c)),
            _ => {
                let mut to = at + c.len_utf8();
                while let Some((i, c)) = chars.next_if(|(_, c)| !ends_atom(*c)) {
                    to = i + c.len_utf8();
                }
                out.push(Token::Atom(Cow::Borrowed(&value[at..to])));
            }
        }
    }
    out
}

/// A phrase (display name): its words joined by single spaces, encoded words
/// (RFC 2047) decoded, adjacent encoded words joined without the space between them
/// (section 6.2). `.` is allowed in phrases (obsolete syntax, section 4.1).
fn phrase(words: &[Token<'_>]) -> Option<String> {
    let mut out = String::new();
    let mut last_encoded = false;
    let mut pending_space = false;
    for t in words {
        let (text, encoded) = match t {
            Token::Atom(a) => match decode_word(a) {
                Some(d) => (d, true),
                None => (a.to_string(), false),
            },
            Token::Quoted(q) => (decode_words_in(q), false),
            Token::Special(c @ ('.' | '@')) => {
                out.push(*c);
                pending_space = false;
                last_encoded = false;
                continue;
            }
            Token::Space => {
                pending_space = !out.is_empty();
                continue;
            }
            _ => continue,
        };
        if pending_space && !(encoded && last_encoded) {
            out.push(' ');
        }
        pending_space = false;
        out.push_str(&text);
        last_encoded = encoded;
    }
    let out = out.trim().to_owned();
    (!out.is_empty()).then_some(out)
}

/// An RFC 2047 encoded word, decoded with mail-parser's charset tables; `None` when
/// `word` is not one.
fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix('=')?;
    if !inner.starts_with('?') || !inner.ends_with("?=") {
        return None;
    }
    mail_parser::parsers::MessageStream::new(inner.as_bytes()).decode_rfc2047()
}

/// Encoded words inside a quoted string (not allowed by RFC 2047, written by many
/// mailers; every mail client decodes them).
fn decode_words_in(text: &str) -> String {
    if !text.contains("=?") {
        return text.to_owned();
    }
    text.split(' ')
        .map(|w| decode_word(w).unwrap_or_else(|| w.to_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An address from the tokens of an addr-spec: spaces and comments between its parts
/// dropped (obsolete syntax), a source route (`@a,@b:`) dropped (section 4.4), and the
/// local part quoted again when it needs to be (`"Big Bug bb"@bug.com`).
fn addr_spec(parts: &[Token<'_>]) -> Option<String> {
    let route_end = parts
        .iter()
        .rposition(|t| *t == Token::Special(':'))
        .map_or(0, |i| i + 1);
    let parts = &parts[route_end..];
    let at = parts.iter().rposition(|t| *t == Token::Special('@'));
    let text = |ts: &[Token<'_>]| -> (String, bool) {
        let (mut s, mut quoted) = (String::new(), false);
        for t in ts {
            match t {
                Token::Atom(a) | Token::Literal(a) => s.push_str(a),
                Token::Quoted(q) => {
                    s.push_str(q);
                    quoted = true;
                }
                Token::Special(c) if !matches!(c, ',' | ';' | ':') => s.push(*c),
                _ => {}
            }
        }
        (s, quoted)
    };
    let (local, domain) = match at {
        Some(at) => (text(&parts[..at]), Some(text(&parts[at + 1..]).0)),
        None => (text(parts), None),
    };
    let (mut local, quoted) = local;
    if domain.is_some() && local.is_empty() {
        return None; // `@domain` alone (a route, or a group's junk) is no address
    }
    let needs_quotes = local.is_empty()
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || local.chars().any(|c| {
            c.is_ascii() && !(c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        });
    if quoted && needs_quotes && !local.is_empty() {
        local = format!("\"{}\"", local.replace('\\', "\\\\").replace('"', "\\\""));
    }
    let address = match domain {
        Some(d) => format!("{local}@{d}"),
        None => local,
    };
    (!address.is_empty() && address != "@").then_some(address)
}

/// Splits tokens into words at spaces, except spaces next to `.` or `@` (obsolete
/// syntax allows `jdoe@test  . example`).
fn words_of<'a>(tokens: &[Token<'a>]) -> Vec<Vec<Token<'a>>> {
    let mut out: Vec<Vec<Token<'a>>> = vec![Vec::new()];
    let joins = |t: Option<&Token<'_>>| matches!(t, Some(Token::Special('.' | '@')));
    for (i, t) in tokens.iter().enumerate() {
        if *t == Token::Space {
            let before = out.last().and_then(|w| w.last());
            let after = tokens[i + 1..].iter().find(|t| **t != Token::Space);
            if !joins(before) && !joins(after) && out.last().is_some_and(|w| !w.is_empty()) {
                out.push(Vec::new());
            }
            continue;
        }
        if let Some(w) = out.last_mut() {
            w.push(t.clone());
        }
    }
    out.retain(|w| !w.is_empty());
    out
}

/// An address list (`From`, `To`, `Cc`, `Reply-To`): each mailbox with its display
/// name and address; groups flattened (an empty group such as
/// `undisclosed-recipients:;` gives nothing); a name written as a comment after a
/// bare address (`a@b (Name)`, the RFC 822 custom) taken as the display name; a bare
/// word (`MAILER-DAEMON`, a local part alone) taken as an address.
pub(crate) fn addresses(value: &str) -> Vec<AddressRecord<'_>> {
    fast::addresses(value).unwrap_or_else(|| addresses_by_tokens(value))
}

/// A mailbox the general reader made: its name and address are its own.
fn owned(name: Option<String>, address: Option<String>) -> AddressRecord<'static> {
    AddressRecord {
        name: name.map(Cow::Owned),
        address: address.map(Cow::Owned),
    }
}

/// [`addresses`] by the general reader: tokens, phrases, groups, obsolete syntax.
fn addresses_by_tokens(value: &str) -> Vec<AddressRecord<'static>> {
    let ts = tokens(value);
    let mut out = Vec::new();
    let mut current: Vec<Token<'_>> = Vec::new();
    let mut angle: Option<Vec<Token<'_>>> = None;
    let mut in_angle = false;
    let mut finish = |current: &mut Vec<Token<'_>>, angle: &mut Option<Vec<Token<'_>>>| {
        let words = std::mem::take(current);
        if let Some(inner) = angle.take() {
            let name = phrase(&words);
            let address = addr_spec(&inner);
            if name.is_some() || address.is_some() {
                out.push(owned(name, address));
            }
            return;
        }
        let comments: Vec<&str> = words
            .iter()
            .filter_map(|t| match t {
                Token::Comment(c) if !c.is_empty() => Some(c.as_ref()),
                _ => None,
            })
            .collect();
        let meaningful: Vec<Token<'_>> = words
            .iter()
            .filter(|t| !matches!(t, Token::Comment(_)))
            .cloned()
            .collect();
        if meaningful.iter().all(|t| *t == Token::Space) {
            return;
        }
        let has_at = meaningful.contains(&Token::Special('@'));
        let mut words = meaningful.iter().filter(|t| **t != Token::Space);
        let bare_word = matches!((words.next(), words.next()), (Some(Token::Atom(_)), None));
        if bare_word {
            out.push(owned(None, addr_spec(&meaningful)));
        } else if has_at {
            // Words without angle brackets: each word with an `@` is an address (two
            // written with only a space between are two), the words before one its
            // name (`Big Bug bb@bug.com`), a comment its name when there are none.
            let mut name_words: Vec<Token<'_>> = Vec::new();
            for word in words_of(&meaningful) {
                if word.contains(&Token::Special('@')) {
                    let name = phrase(&name_words).or_else(|| {
                        (!comments.is_empty()).then(|| decode_words_in(&comments.join(" ")))
                    });
                    out.push(owned(name, addr_spec(&word)));
                    name_words.clear();
                } else {
                    if !name_words.is_empty() {
                        name_words.push(Token::Space);
                    }
                    name_words.extend(word);
                }
            }
        } else {
            // Several words and no address: a name whose address is missing.
            out.push(owned(phrase(&meaningful), None));
        }
    };
    let mut seen_angle = false;
    // Whether `current` holds an `@`, kept as tokens come (scanning it at each `:`
    // would make `@:@:@:…` quadratic).
    let mut current_at = false;
    for t in ts {
        if in_angle {
            match t {
                Token::Special('>') => in_angle = false,
                Token::Space | Token::Comment(_) => {}
                t => angle.get_or_insert_with(Vec::new).push(t),
            }
            continue;
        }
        match t {
            Token::Special('<') => {
                in_angle = true;
                seen_angle = true;
                angle.get_or_insert_with(Vec::new);
            }
            Token::Special(',' | ';') => {
                finish(&mut current, &mut angle);
                seen_angle = false;
                current_at = false;
            }
            Token::Special(':') if !seen_angle && !current_at => {
                // A group's name: what came before is not a mailbox.
                current.clear();
            }
            Token::Special('>') => {}
            t if angle.is_some() => {
                // After `<...>`: only comments belong to this mailbox; words are junk.
                if let Token::Comment(_) = t {
                    continue;
                }
            }
            t => {
                current_at |= t == Token::Special('@');
                current.push(t);
            }
        }
    }
    finish(&mut current, &mut angle);
    out
}

/// The message identifiers in a header value (`Message-ID`, `In-Reply-To`,
/// `References`), each as records carry it, in angle brackets: each `<...>` with the
/// white space inside removed, or, when the value has none, the value itself as one
/// identifier.
pub(crate) fn ids(value: &str) -> Vec<Cow<'_, str>> {
    match without_comments(value) {
        Cow::Borrowed(value) => ids_in(value),
        Cow::Owned(value) => ids_in(&value)
            .into_iter()
            .map(|id| Cow::Owned(id.into_owned()))
            .collect(),
    }
}

/// [`ids`] in a value without comments: each identifier as written when it has no
/// white space inside (nearly all), not copied.
fn ids_in(value: &str) -> Vec<Cow<'_, str>> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(['>', '<']) else {
            break;
        };
        if after.as_bytes()[close] == b'>' {
            let inside = &after[..close];
            if inside.contains(char::is_whitespace) {
                let mut id = String::with_capacity(inside.len() + 2);
                id.push('<');
                id.extend(inside.chars().filter(|c| !c.is_whitespace()));
                if id.len() > 1 {
                    id.push('>');
                    out.push(Cow::Owned(id));
                }
            } else if !inside.is_empty() {
                // `<inside>`, brackets included, as it stands.
                out.push(Cow::Borrowed(&rest[open..open + close + 2]));
            }
            rest = &after[close + 1..];
        } else {
            rest = &after[close..];
        }
    }
    if out.is_empty() {
        let bare = value.trim();
        if !bare.is_empty() && !bare.contains(char::is_whitespace) {
            out.push(Cow::Owned(format!("<{bare}>")));
        }
    }
    out
}

/// `value` with its comments removed (outside quoted strings), nesting counted.
fn without_comments(value: &str) -> std::borrow::Cow<'_, str> {
    // Nearly every identifier field has neither a comment nor an escape: as it is.
    if memchr::memchr2(b'(', b'\\', value.as_bytes()).is_none() {
        return std::borrow::Cow::Borrowed(value);
    }
    std::borrow::Cow::Owned(strip_comments(value))
}

/// `value` without its comments, a character at a time.
fn strip_comments(value: &str) -> String {
    let (mut out, mut depth, mut quoted, mut escaped) = (String::new(), 0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// A date (`Date` header) as seconds since the epoch, by RFC 5322 section 3.3 and
/// its obsolete forms (section 4.3): day of week optional, two- and three-digit years
/// (00–49 are 2000–2049, 50–999 add 1900), seconds optional, comments anywhere, zone
/// as `±hhmm`, `±hmm` (three digits), a name (`UT`, `GMT`, `EST`, `EDT`, `CST`, `CDT`,
/// `MST`, `MDT`, `PST`, `PDT`) or missing (read as UTC, like `-0000`); military letters
/// are read as `-0000`, as section 4.3 says (RFC 822 defined their signs backwards).
/// The asctime order (`Wed Feb 15 09:38:18 1995`) is read too. `None` when a part is
/// missing or out of range.
pub(crate) fn date(value: &str) -> Option<i64> {
    fast::date(value).unwrap_or_else(|| date_by_tokens(value))
}

/// [`date`] by the general reader: every obsolete form, comments anywhere.
fn date_by_tokens(value: &str) -> Option<i64> {
    let words: Vec<String> = tokens(value)
        .into_iter()
        .filter_map(|t| match t {
            Token::Atom(a) => Some(a.into_owned()),
            Token::Special(':') => Some(":".into()),
            Token::Special('.') => Some(".".into()),
            _ => None,
        })
        .collect();
    // Glue `hh : mm : ss` (spaces and comments allowed between, obsolete syntax).
    let mut parts: Vec<String> = Vec::new();
    for w in words {
        let glue = w == ":" || parts.last().is_some_and(|p| p.ends_with(':'));
        match parts.last_mut() {
            Some(last) if glue => last.push_str(&w),
            _ => parts.push(w),
        }
    }
    let (mut day, mut month, mut year, mut time, mut zone) = (None, None, None, None, None);
    for p in &parts {
        let lower = p.trim_end_matches([',', '.']).to_ascii_lowercase();
        if lower.contains(':') && time.is_none() {
            time = clock(&lower);
            time?;
        } else if let Some(m) = month_number(&lower).filter(|_| month.is_none()) {
            month = Some(m);
        } else if (lower.starts_with('+') || lower.starts_with('-')) && zone.is_none() {
            zone = Some(offset(&lower)?);
        } else if lower.bytes().all(|b| b.is_ascii_digit()) && !lower.is_empty() {
            let n: i64 = lower.parse().ok()?;
            if day.is_none() && lower.len() <= 2 && year.is_none() {
                day = Some(n);
            } else if year.is_none() {
                year = Some(match lower.len() {
                    1 | 2 if n < 50 => 2000 + n,
                    1..=3 => 1900 + n,
                    _ => n,
                });
            } else {
                return None;
            }
        } else if let Some(z) = named_zone(&lower).filter(|_| zone.is_none() && time.is_some()) {
            zone = Some(z);
        }
    }
    let (day, month, year, (h, m, s)) = (day?, month?, year?, time?);
    if !(1..=31).contains(&day) || !(1..=9999).contains(&year) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + h * 3600 + m * 60 + s - zone.unwrap_or(0))
}

fn clock(text: &str) -> Option<(i64, i64, i64)> {
    let mut it = text.split(':');
    let h: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let s: i64 = match it.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if it.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h, m, s))
}

fn month_number(word: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = word.get(..3)?;
    if !word.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| *m == prefix)
        .map(|i| i as i64 + 1)
}

/// `+hhmm`, `-hhmm`, or three digits `-hmm`, in seconds east of UTC.
fn offset(text: &str) -> Option<i64> {
    let (sign, digits) = text.split_at(1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(3..=4).contains(&digits.len()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let (h, m) = (n / 100, n % 100);
    if m > 59 || h > 99 {
        return None;
    }
    let secs = h * 3600 + m * 60;
    Some(if sign == "-" { -secs } else { secs })
}

fn named_zone(word: &str) -> Option<i64> {
    let hours = match word {
        "ut" | "utc" | "gmt" | "z" => 0,
        "est" => -5,
        "edt" => -4,
        "cst" => -6,
        "cdt" => -5,
        "mst" => -7,
        "mdt" => -6,
        "pst" => -8,
        "pdt" => -7,
        w if w.len() == 1 && w.bytes().all(|b| b.is_ascii_alphabetic()) && w != "j" => 0,
        _ => return None,
    };
    Some(hours * 3600)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[path = "fields_fast.rs"]
mod fast;

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
