//! Folder names on the wire: IMAP's modified UTF-7 (RFC 3501 section 5.1.3). A folder
//! is named in Unicode in the settings and in records; the server sees `Gr&APwA3w-e`
//! for `Grüße`. Printable ASCII but `&` goes as itself, `&` as `&-`, and any other run
//! as `&` + base64 of its UTF-16 (with `,` for `/`, no padding) + `-`.

use base64::Engine as _;
use base64::alphabet::Alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};

fn engine() -> GeneralPurpose {
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
            .expect("a valid alphabet");
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
}

/// A folder name as IMAP wants it.
pub(crate) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if !run.is_empty() {
            let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&engine().encode(bytes));
            out.push('-');
            run.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A folder name from the server, in Unicode. A name that is not valid modified UTF-7
/// (some servers send raw UTF-8) is kept as it came.
pub(crate) fn decode(wire: &str) -> String {
    try_decode(wire).unwrap_or_else(|| wire.to_owned())
}

fn try_decode(wire: &str) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find('-')?;
        let encoded = &after[..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = engine().decode(encoded).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_examples_and_back() {
        // RFC 3501 section 5.1.3.
        assert_eq!(
            encode("~peter/mail/日本語/台北"),
            "~peter/mail/&ZeVnLIqe-/&U,BTFw-"
        );
        assert_eq!(
            decode("~peter/mail/&ZeVnLIqe-/&U,BTFw-"),
            "~peter/mail/日本語/台北"
        );
        for name in [
            "INBOX",
            "Grüße",
            "A & B",
            "Entwürfe/2026",
            "📬 Inbox",
            "&",
            "é&é",
        ] {
            assert_eq!(decode(&encode(name)), name, "{name}");
            assert!(encode(name).is_ascii());
        }
        assert_eq!(encode("A & B"), "A &- B");
        // Not modified UTF-7: kept as sent.
        assert_eq!(decode("Grüße"), "Grüße");
        assert_eq!(decode("&unterminated"), "&unterminated");
    }
}
