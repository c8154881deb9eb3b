//! A message's header section, read from the message's own bytes where mail-parser's
//! reading is not enough: where it starts (after a byte-order mark or lines of spaces;
//! nowhere for a message without a header), how long it is, and the first field of a
//! name as written (RFC 5322 allows one of each; readers take the first).

use std::borrow::Cow;

use mail_parser::{Header, HeaderName, Message};

/// The length of the header section: up to the first empty line (RFC 5322 section
/// 2.1), or the whole message if there is none.
pub(super) fn header_len(raw: &[u8]) -> usize {
    let mut at = 0;
    while let Some(nl) = raw[at..].iter().position(|&b| b == b'\n') {
        let end = at + nl + 1;
        let rest = &raw[end..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return end;
        }
        at = end;
    }
    raw.len()
}

/// Where a message's header section starts.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HeaderStart {
    /// At this offset: after a byte-order mark or lines of only white space that some
    /// mailers put first (which made mail-parser see no header at all).
    At(usize),
    /// Nowhere: the first line is not a header field (nor an mbox `From ` line).
    None,
}

pub(super) fn header_start(raw: &[u8]) -> HeaderStart {
    // A UTF-8 byte-order mark some Windows tools write first is not part of a field.
    let mut at = if raw.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    loop {
        let end = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |n| at + n + 1);
        let line = &raw[at..end];
        let blank = line.iter().all(|b| b.is_ascii_whitespace());
        if blank && line.first().is_some_and(|b| *b == b' ' || *b == b'\t') && end < raw.len() {
            at = end; // a line of spaces before the first field
            continue;
        }
        return if is_field(line) || line.starts_with(b"From ") || blank {
            HeaderStart::At(at)
        } else {
            HeaderStart::None
        };
    }
}

/// Whether `line` starts a header field: a name of printable ASCII, then a colon
/// (white space before it is RFC 5322's obsolete syntax, section 4.5).
fn is_field(line: &[u8]) -> bool {
    let name_len = line
        .iter()
        .position(|&b| b == b':' || b <= b' ' || b >= 0x7f)
        .unwrap_or(line.len());
    let rest = &line[name_len..];
    let colon = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .is_some_and(|i| rest[i] == b':');
    name_len > 0 && colon
}

/// A top-level header field's value, unfolded, as written (not UTF-8 bytes replaced).
pub(super) fn raw_value<'m>(message: &'m Message<'_>, h: &Header<'_>) -> Option<Cow<'m, str>> {
    let raw = &message.raw_message;
    let bytes = raw.get(h.offset_start as usize..h.offset_end as usize)?;
    let mut value = lossy(bytes);
    let rest = stray_continuation(raw, h.offset_end as usize);
    if !rest.is_empty() {
        let value = value.to_mut();
        value.push('\n');
        value.push_str(&lossy(rest));
    }
    Some(unfolded(value))
}

/// [`unfold`] of a value that may be the message's own text: most fields are one line
/// (nothing to unfold once the line break that ends the field is trimmed), and those
/// are returned as written, not copied.
pub(super) fn unfolded(value: Cow<'_, str>) -> Cow<'_, str> {
    match value {
        Cow::Borrowed(one) => {
            let one = one.trim();
            match memchr::memchr2(b'\r', b'\n', one.as_bytes()) {
                None => Cow::Borrowed(one),
                Some(_) => Cow::Owned(unfold(one)),
            }
        }
        Cow::Owned(other) => Cow::Owned(unfold(&other)),
    }
}

/// The lines that still continue a field ending at `end` after stray lines, lines that
/// are neither a field nor a continuation (RFC 2822's appendix A.6.3 writes `__` for a
/// line of spaces), which mail-parser ends the field at. A stray line is skipped as
/// if it were not there, as Dovecot and Python's reader do; what follows it is the
/// field's only if it is folded (starts with white space). Empty when no stray line
/// follows, or only fields after it.
fn stray_continuation(raw: &[u8], end: usize) -> &[u8] {
    let line_at = |at: usize| {
        let rest = raw.get(at..).unwrap_or_default();
        let len = memchr::memchr(b'\n', rest).map_or(rest.len(), |n| n + 1);
        &rest[..len]
    };
    // mail-parser's end may sit before the line break.
    let mut at = end;
    if !(at == 0 || raw.get(at - 1) == Some(&b'\n')) {
        at += line_at(at).len();
    }
    let (mut strays, mut from) = (false, None);
    loop {
        let line = line_at(at);
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        let blank = line.iter().all(u8::is_ascii_whitespace);
        if blank {
            break; // the end of the header section (or of the message)
        } else if folded {
            if !strays {
                break;
            }
            from.get_or_insert(at);
        } else if is_field(line) {
            break;
        } else if from.is_some() {
            break; // a second stray line after a continuation: leave the rest
        } else {
            strays = true;
        }
        at += line.len();
    }
    from.map_or(&[][..], |from| raw[from..at].trim_ascii_end())
}

/// The first top-level field of each name of `names` that is one: its name written at
/// the start of its line (mail-parser 0.11 also takes a stray line such as
/// `:cc:content-type;`, a broken continuation, for a `Cc` field). One pass over the
/// fields for all of them, names compared by mail-parser's number for a name it knows
/// (a record reads nine fields; nine searches by text were a twentieth of building it).
pub(super) fn first_fields<'m, const N: usize>(
    message: &'m Message<'_>,
    names: [HeaderName<'static>; N],
) -> [Option<&'m Header<'m>>; N] {
    let mut found = [None; N];
    let Some(top) = message.parts.first() else {
        return found;
    };
    // Each name's number once, not once per field it is compared with.
    let ids = names.each_ref().map(HeaderName::id);
    for h in &top.headers {
        let i = match &h.name {
            HeaderName::Other(name) => names
                .iter()
                .position(|want| name.eq_ignore_ascii_case(want.as_static_str())),
            known => {
                let id = known.id();
                ids.iter().position(|want| *want == id)
            }
        };
        let Some(i) = i else {
            continue;
        };
        if found[i].is_some() {
            continue;
        }
        let name = names[i].as_static_str();
        let at = h.offset_field as usize;
        let line_start = at == 0 || message.raw_message.get(at - 1) == Some(&b'\n');
        if line_start
            && message
                .raw_message
                .get(at..at + name.len())
                .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        {
            found[i] = Some(h);
        }
    }
    found
}

/// A top-level field's decoded text (mail-parser keeps the last of several; RFC 5322
/// allows one, and readers take the first), if it has any.
pub(super) fn text_value<'m>(h: &'m Header<'_>) -> Option<Cow<'m, str>> {
    h.value
        .as_text()
        .filter(|t| !t.trim().is_empty())
        .map(Cow::Borrowed)
}

/// `bytes` as text, with replacement characters where they are not UTF-8, like
/// `String::from_utf8_lossy`, but valid UTF-8 (nearly every header) is checked by
/// `str::from_utf8`, a word at a time through ASCII, where `from_utf8_lossy` looks
/// at each byte (about three times as long on a header value).
pub(super) fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Unfolds a raw header value: each line break with the whitespace after it becomes
/// one space (RFC 5322 section 2.2.3).
pub(super) fn unfold(value: &str) -> String {
    // Trimmed first, then copied run by run between line breaks (one allocation; this
    // runs for every header of every message).
    let value = value.trim();
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut start = 0;
    while let Some(at) = memchr::memchr2(b'\r', b'\n', &bytes[start..]) {
        let at = start + at;
        out.push_str(&value[start..at]);
        out.push(' ');
        start = at
            + bytes[at..]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
                .count();
    }
    out.push_str(&value[start..]);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// The plain reading of RFC 5322 section 2.2.3, a character at a time: every line
    /// break with the white space after it becomes one space, then the ends are trimmed.
    fn unfold_by_chars(value: &str) -> String {
        let mut out = String::new();
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\r' || c == '\n' {
                while chars
                    .peek()
                    .is_some_and(|c| matches!(c, '\r' | '\n' | ' ' | '\t'))
                {
                    chars.next();
                }
                out.push(' ');
            } else {
                out.push(c);
            }
        }
        out.trim().to_owned()
    }

    #[test]
    fn folded_values_become_one_line() {
        for (value, unfolded) in [
            (" plain", "plain"),
            ("a\r\n b", "a b"),
            ("a \r\n\t b", "a  b"),
            ("a\r\n\r\n  b\n c\r", "a b c"),
            ("\r\n leading and trailing \r\n", "leading and trailing"),
            ("é\r\n ü\u{a0}", "é ü"),
            ("", ""),
        ] {
            assert_eq!(super::unfold(value), unfolded, "{value:?}");
        }
    }

    proptest! {
        /// `raw_header`'s shortcut for a one-line value: unfolding it is trimming it.
        #[test]
        fn a_value_without_line_breaks_unfolds_to_itself_trimmed(value in "[a \t\u{a0}\u{2003}é,:<>\"]{0,40}") {
            prop_assert_eq!(super::unfold(&value), value.trim());
        }

        #[test]
        fn unfolding_agrees_with_the_plain_reading(value in "[a \\t\\r\\n\u{a0}é,:<>\"]{0,40}") {
            prop_assert_eq!(super::unfold(&value), unfold_by_chars(&value));
        }

        /// The same text as `from_utf8_lossy`, borrowed exactly when it is valid.
        #[test]
        fn lossy_is_from_utf8_lossy(bytes in proptest::collection::vec(prop_oneof![
            Just(b'a'), Just(0xc3), Just(0xa9), Just(0xff), Just(0x80), Just(b' ')
        ], 0..24)) {
            let ours = super::lossy(&bytes);
            let std = String::from_utf8_lossy(&bytes);
            prop_assert_eq!(
                matches!(ours, std::borrow::Cow::Borrowed(_)),
                matches!(std, std::borrow::Cow::Borrowed(_))
            );
            prop_assert_eq!(ours, std);
        }
    }
}
