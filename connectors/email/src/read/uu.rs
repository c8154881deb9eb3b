//! uuencoded files inside a text body (`begin 644 name` … `end`), as older mailers and
//! some gateways still send them: mail-parser 0.11 leaves them as text, so the file is
//! lost to anyone who does not decode it by hand. Each complete block becomes an
//! attachment and leaves the text; a block that does not decode stays text.

use std::borrow::Cow;

/// A file found in a text body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UuFile {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
}

/// Takes the uuencoded blocks out of `text` (lines separated by `\n`); returns the text
/// without them and the files, in order (the text itself, not a copy, when it has none).
pub(crate) fn extract(text: Cow<'_, str>) -> (Cow<'_, str>, Vec<UuFile>) {
    // Nearly every body has no `begin ` line at all: no need to split it up. The
    // searcher is made once (made for each body, it cost a third as much again as the
    // search of a 3 KB body).
    static BEGIN: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\nbegin "));
    if !text.starts_with("begin ") && BEGIN.find(text.as_bytes()).is_none() {
        return (text, Vec::new());
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    let mut files = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(name) = begin(lines[i])
            && let Some((bytes, end)) = decode(&lines[i + 1..])
        {
            files.push(UuFile {
                name: name.to_owned(),
                bytes,
            });
            i += end + 2; // the begin line, the body, the end line
            continue;
        }
        kept.push(lines[i]);
        i += 1;
    }
    if files.is_empty() {
        return (text, files);
    }
    let rest = kept.join("\n").trim_end().to_owned();
    (Cow::Owned(rest), files)
}

/// The file name of a `begin <mode> <name>` line (mode in octal).
fn begin(line: &str) -> Option<&str> {
    let rest = line.trim_end().strip_prefix("begin ")?;
    let (mode, name) = rest.split_once(' ')?;
    let octal = (3..=4).contains(&mode.len()) && mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
    (octal && !name.trim().is_empty()).then(|| name.trim())
}

/// Decodes body lines up to `end`; returns the bytes and how many lines the body took
/// (the `end` line not counted), or `None` if a line is not uuencode or `end` is
/// missing.
fn decode(lines: &[&str]) -> Option<(Vec<u8>, usize)> {
    let value = |c: u8| c.wrapping_sub(b' ') & 0x3f;
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let line = line.trim_end_matches('\r');
        if line == "end" {
            return Some((out, n));
        }
        let bytes = line.as_bytes();
        let Some((&first, rest)) = bytes.split_first() else {
            return None; // a blank line inside a block: not uuencode
        };
        if !(b' '..=b'`').contains(&first) {
            return None;
        }
        let len = usize::from(value(first));
        if rest.len() < len.div_ceil(3) * 4 || rest.iter().any(|b| !(b' '..=b'`').contains(b)) {
            return None;
        }
        let mut chunk = Vec::with_capacity(len + 2);
        for group in rest.chunks(4).take(len.div_ceil(3)) {
            let v: Vec<u8> = group.iter().map(|&c| value(c)).collect();
            let (a, b, c, d) = (
                v[0],
                v[1],
                v.get(2).copied().unwrap_or(0),
                v.get(3).copied().unwrap_or(0),
            );
            chunk.extend_from_slice(&[(a << 2) | (b >> 4), (b << 4) | (c >> 2), (c << 6) | d]);
        }
        chunk.truncate(len);
        out.extend_from_slice(&chunk);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuencoded_file_leaves_the_text_and_becomes_a_file() {
        // `uuencode hello.txt` of "hello world\n".
        let text = "see the file\n\nbegin 644 hello.txt\n,:&5L;&\\@=V]R;&0*\n`\nend\n\nbye";
        let (rest, files) = extract(Cow::Borrowed(text));
        assert_eq!(rest, "see the file\n\n\nbye");
        assert_eq!(
            files,
            [UuFile {
                name: "hello.txt".into(),
                bytes: b"hello world\n".to_vec()
            }]
        );
    }

    #[test]
    fn what_is_not_uuencode_stays_text() {
        for text in [
            "begin 644 x.txt\nthis is prose, not uuencode\nend",
            "begin 644 x.txt\n,:&5L;&\\@=V]R;&0*\n`\n(no end line)",
            "begin the meeting at 9\nend",
            "begin 9999 x\n`\nend",
        ] {
            let (rest, files) = extract(Cow::Borrowed(text));
            assert!(files.is_empty(), "{text:?}");
            assert_eq!(rest, text);
        }
        // An empty file.
        let (_, files) = extract(Cow::Borrowed("begin 600 empty\n`\nend"));
        assert_eq!(files[0].bytes, b"");
    }
}
