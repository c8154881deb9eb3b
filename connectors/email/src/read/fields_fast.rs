//! The common forms of address lists and dates, read without the tokenizer: nearly
//! every message has a `From` such as `Name <local@domain>`, a `To` of plain addresses
//! and a `Date` as RFC 5322 section 3.3 writes it, and the general readers (tokens,
//! phrases, obsolete syntax) cost a tenth of a read's CPU on them (a profile of 10,000
//! messages: addresses 10%, the date 6%). Each function here takes a value only when
//! every byte is of a form it knows and otherwise says `None`, and then the general
//! reader decides; where it answers, its answer is the general reader's (property
//! tests in `fields_tests.rs` compare the two on generated values).

use std::borrow::Cow;

use super::AddressRecord;

/// Whether `set` holds `b` (a `const` loop: the tables below are built at compile time).
const fn holds(set: &[u8], b: u8) -> bool {
    let mut i = 0;
    while i < set.len() {
        if set[i] == b {
            return true;
        }
        i += 1;
    }
    false
}

/// In an unquoted local part or domain here: atext (RFC 5322 section 3.2.3) or `.`,
/// ASCII only.
const ADDRESS: u8 = 1;
/// In a display-name word here: atext without `=` (an encoded word starts with it) and
/// without `.` (obsolete phrase syntax).
const NAME: u8 = 2;
/// In a list this reader takes: printable ASCII but `()[]:;\` (comments, groups,
/// domain literals and quoted pairs go to the general reader).
const LISTED: u8 = 4;

/// What each byte may be, looked up once per byte (the sets, searched per byte, were
/// most of the time spent reading a `From`).
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b: u8 = 0;
    loop {
        let alnum = b.is_ascii_alphanumeric();
        if alnum || holds(b"!#$%&'*+-/=?^_`{|}~.", b) {
            t[b as usize] |= ADDRESS;
        }
        if alnum || holds(b"!#$%&'*+-/?^_`{|}~", b) {
            t[b as usize] |= NAME;
        }
        if b >= b' ' && b <= b'~' && !holds(b"()[]:;\\", b) {
            t[b as usize] |= LISTED;
        }
        if b == u8::MAX {
            break;
        }
        b += 1;
    }
    t
};

/// Whether `b` is of `class`.
fn is(b: u8, class: u8) -> bool {
    CLASSES[usize::from(b)] & class != 0
}

/// Whether every byte of `s` is of `class`.
fn all(s: &str, class: u8) -> bool {
    s.bytes().all(|b| is(b, class))
}

/// `local@domain` with exactly one `@`, both sides non-empty, nothing else.
fn address(s: &str) -> Option<Cow<'_, str>> {
    let (local, domain) = s.split_once('@')?;
    let plain = |part: &str| !part.is_empty() && all(part, ADDRESS);
    (plain(local) && plain(domain)).then_some(Cow::Borrowed(s))
}

/// One mailbox: `local@domain`, `Words of a name <local@domain>` or
/// `"A quoted name" <local@domain>`, with spaces around. `s` is printable ASCII. The
/// name and address are the value's own text (a name is copied only to join its words
/// by one space where more stand between them).
fn mailbox(s: &str) -> Option<AddressRecord<'_>> {
    let s = s.trim_ascii();
    let Some((before, rest)) = s.split_once('<') else {
        return Some(AddressRecord {
            name: None,
            address: Some(address(s)?),
        });
    };
    let address = Some(address(rest.strip_suffix('>')?)?);
    let before = before.trim_ascii_end();
    let name = match before.strip_prefix('"').and_then(|b| b.strip_suffix('"')) {
        // A quoted name is kept as written inside the quotes, trimmed.
        Some(quoted) => {
            if quoted.contains(['"', '\\']) || quoted.contains("=?") {
                return None;
            }
            Cow::Borrowed(quoted.trim_ascii())
        }
        // Words are joined by one space, as the general reader's phrase does.
        None => {
            if !before.bytes().all(|b| b == b' ' || is(b, NAME)) {
                return None;
            }
            // `before` starts and ends with a word: joined already unless two spaces
            // stand together somewhere.
            if before.contains("  ") {
                Cow::Owned(
                    before
                        .split_ascii_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            } else {
                Cow::Borrowed(before)
            }
        }
    };
    Some(AddressRecord {
        name: (!name.is_empty()).then_some(name),
        address,
    })
}

/// An address list of the common forms, or `None` for the general reader. A list
/// with a quoted name holds that one mailbox only (a comma may be inside the quotes).
pub(super) fn addresses(value: &str) -> Option<Vec<AddressRecord<'_>>> {
    if !all(value, LISTED) {
        return None;
    }
    if value.contains('"') {
        return Some(vec![mailbox(value)?]);
    }
    value
        .split(',')
        .filter(|piece| !piece.trim_ascii().is_empty())
        .map(mailbox)
        .collect()
}

/// Digits as a number (at most four of them here, so no overflow).
fn number(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0i64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
    })
}

/// A date as RFC 5322 section 3.3 writes it, `Mon, 02 Mar 2026 10:00:00 +0000` (the
/// day of the week optional, the day one or two digits), or `None` for the general
/// reader. `Some(None)` is a date of this form that the general reader refuses too (a
/// day, hour or zone out of range).
pub(super) fn date(value: &str) -> Option<Option<i64>> {
    const DAYS: [&[u8]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
    const MONTHS: [&[u8]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let mut s = value.as_bytes().trim_ascii();
    if let [a, b, c, b',', b' ', rest @ ..] = s {
        let day = [
            a.to_ascii_lowercase(),
            b.to_ascii_lowercase(),
            c.to_ascii_lowercase(),
        ];
        if !DAYS.contains(&day.as_slice()) {
            return None;
        }
        s = rest;
    }
    let space = s.iter().position(|b| *b == b' ')?;
    let (day, rest) = (&s[..space], &s[space + 1..]);
    if !(1..=2).contains(&day.len()) {
        return None;
    }
    let day = number(day)?;
    let [
        m1,
        m2,
        m3,
        b' ',
        y1,
        y2,
        y3,
        y4,
        b' ',
        h1,
        h2,
        b':',
        n1,
        n2,
        b':',
        s1,
        s2,
        b' ',
        sign @ (b'+' | b'-'),
        z @ ..,
    ] = rest
    else {
        return None;
    };
    if z.len() != 4 {
        return None;
    }
    let month = [m1, m2, m3].map(u8::to_ascii_lowercase);
    let month = MONTHS.iter().position(|m| *m == month.as_slice())? as i64 + 1;
    let year = number(&[*y1, *y2, *y3, *y4])?;
    let (h, m, sec) = (
        number(&[*h1, *h2])?,
        number(&[*n1, *n2])?,
        number(&[*s1, *s2])?,
    );
    let (zh, zm) = (number(&z[..2])?, number(&z[2..])?);
    if !(1..=31).contains(&day) || year == 0 || h > 23 || m > 59 || sec > 60 || zm > 59 {
        return Some(None);
    }
    let zone = (zh * 3600 + zm * 60) * if *sign == b'-' { -1 } else { 1 };
    let days = super::days_from_civil(year, month, day);
    Some(Some(days * 86_400 + h * 3600 + m * 60 + sec - zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table says what the sets say, for every byte.
    #[test]
    fn each_byte_is_classed_as_the_sets_say() {
        for b in 0..=u8::MAX {
            let alnum = b.is_ascii_alphanumeric();
            let address = alnum || b"!#$%&'*+-/=?^_`{|}~.".contains(&b);
            let name = alnum || b"!#$%&'*+-/?^_`{|}~".contains(&b);
            let listed = (b' '..=b'~').contains(&b) && !b"()[]:;\\".contains(&b);
            assert_eq!(is(b, ADDRESS), address, "{b:#x} in an address");
            assert_eq!(is(b, NAME), name, "{b:#x} in a name");
            assert_eq!(is(b, LISTED), listed, "{b:#x} in a list");
        }
    }
}
