//! Property tests of the parse a stranger's message goes through: any bytes, and MIME
//! trees of any shape (bogus types, charsets and encodings, boundaries missing or
//! prefixes of their parent's, messages in multiparts in messages), become a record or
//! a reported error: never a panic, never a record bigger than the message allows.

use proptest::prelude::*;

use super::config::ReadConfig;
use super::mime::record;
use super::record::EmailRecord;

fn config() -> ReadConfig {
    connector_sdk::from_value(&serde_json::json!({"max_nesting_depth": 20})).expect("valid")
}

/// One MIME entity, as bytes: a leaf part, a multipart, or a message/rfc822.
fn entity() -> impl Strategy<Value = Vec<u8>> {
    let leaf = (
        prop::sample::select(vec![
            "text/plain",
            "text/html",
            "application/octet-stream",
            "image/png",
            "text/x-bogus",
            "",
            "multipart/mixed",
            "message/rfc822",
        ]),
        prop::sample::select(vec![
            "utf-8",
            "iso-8859-1",
            "x-no-such-charset",
            "utf-7",
            "gb2312",
            "",
        ]),
        prop::sample::select(vec![
            "7bit",
            "base64",
            "quoted-printable",
            "x-uue",
            "8bit",
            "",
        ]),
        prop::collection::vec(any::<u8>(), 0..300),
        proptest::option::of("[ -~]{0,40}"),
    )
        .prop_map(|(ctype, charset, encoding, body, name)| {
            let mut out = format!("Content-Type: {ctype}; charset=\"{charset}\"");
            if let Some(name) = name {
                out.push_str(&format!("; name=\"{}\"", name.replace('"', "")));
            }
            out.push_str(&format!(
                "\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
            ));
            let mut bytes = out.into_bytes();
            bytes.extend(body);
            bytes
        });
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            (
                prop::collection::vec(inner.clone(), 0..6),
                "[a-z]{0,8}",
                any::<bool>()
            )
                .prop_map(|(parts, boundary, close)| {
                    let mut out =
                        format!("Content-Type: multipart/mixed; boundary=\"b{boundary}\"\r\n\r\n")
                            .into_bytes();
                    for p in parts {
                        out.extend(format!("--b{boundary}\r\n").bytes());
                        out.extend(p);
                        out.extend(b"\r\n");
                    }
                    if close {
                        out.extend(format!("--b{boundary}--\r\n").bytes());
                    }
                    out
                }),
            inner.prop_map(|m| {
                let mut out = b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n".to_vec();
                out.extend(m);
                out
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_become_a_record_or_an_error(raw in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = record(&config(), 1, 1, Vec::new(), &raw, |_| Ok(()));
    }

    #[test]
    fn any_mime_tree_becomes_a_record_or_an_error(
        headers in "(From|To|Cc|Subject|Date|Message-ID|X-[A-Za-z]{1,5}): [ -~]{0,60}\r\n",
        body in entity(),
    ) {
        let mut raw = headers.into_bytes();
        raw.extend(body);
        let written = |rec: &EmailRecord<'_>| Ok((rec.uid, serde_json::to_vec(rec).map(|v| v.len()).unwrap_or(0)));
        if let Ok((uid, size)) = record(&config(), 7, 1, Vec::new(), &raw, written) {
            prop_assert_eq!(uid, 7);
            // Nothing in a record is larger than what the message brought.
            prop_assert!(size <= 8 * raw.len() + 4096, "{} bytes of record for {} of message", size, raw.len());
        }
    }

    /// The short walk, where it answers (a small message without messages inside),
    /// gives the depth the general walk gives, on any tree the parser makes.
    #[test]
    fn the_short_nesting_walk_agrees_with_the_general_one(body in entity()) {
        let mut raw = b"Subject: x\r\n".to_vec();
        raw.extend(body);
        // mail-parser's `debug_assert!` on some malformed nesting (caught by `record`)
        // is no case here.
        let parsed = std::panic::catch_unwind(|| mail_parser::MessageParser::new().parse(&raw[..]));
        prop_assume!(parsed.is_ok());
        if let Some(message) = parsed.ok().flatten()
            && let Some(depth) = super::tree::small_nesting(&message)
        {
            prop_assert_eq!(depth, super::tree::any_nesting(&message));
        }
    }
}
