//! Tests of `mime.rs`, kept apart so the code reads in one screenful of concerns.
//! One concern, though long: how one raw message becomes a record (parts, limits,
//! headers, the parser's fixed mistakes), each case from a real mailer or RFC. The
//! property tests of the mail-parser patch's fast readings (a field's name, a
//! `Content-Type` value) are here too: each checks a reading this record is built
//! from against the general reading it stands in for, and the patch itself is
//! vendored upstream code with no tests of its own (`patches/README.md`).
use super::*;

/// The record of `raw` as the source emits it: written as its line and read back, so
/// it owns its text (and what a test sees is what a consumer reads).
fn record(
    config: &ReadConfig,
    uid: u32,
    uid_validity: u32,
    flags: Vec<String>,
    raw: &[u8],
) -> Result<EmailRecord<'static>, String> {
    super::record(config, uid, uid_validity, flags, raw, |r| {
        connector_sdk::Serialized::<EmailRecord<'static>>::from_borrowed(r, 0)
            .and_then(|line| line.to_record())
            .map_err(|e| e.message().to_owned())
    })
}

/// A message whose body is a `message/rfc822` whose body is one too, `depth` deep:
/// any sender can deliver it.
pub(crate) fn nested(depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..depth {
        out.extend_from_slice(b"Subject: x\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    out.extend_from_slice(b"Subject: core\r\n\r\nhello\r\n");
    out
}

fn config() -> ReadConfig {
    connector_sdk::from_value(&serde_json::json!({})).expect("defaults")
}

#[test]
fn a_deeply_nested_message_is_refused_without_overflowing_the_stack() {
    // The size of a tokio blocking thread's stack, where messages are parsed.
    let raw = nested(40_000);
    let outcome = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || record(&config(), 7, 1, Vec::new(), &raw).map(|r| r.uid))
        .expect("spawn")
        .join()
        .expect("parsing must not overflow the stack");
    let reason = outcome.expect_err("too deep to be a record");
    assert!(reason.contains("nested more than 100 deep"), "{reason}");
}

#[test]
fn deeply_nested_multiparts_are_refused_too() {
    let depth = 40_000;
    let mut raw = b"Subject: deep\r\n".to_vec();
    for i in 0..depth {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ncore\r\n");
    for i in (0..depth).rev() {
        raw.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    }
    let outcome = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || record(&config(), 7, 1, Vec::new(), &raw).map(|r| r.uid))
        .expect("spawn")
        .join()
        .expect("parsing must not overflow the stack");
    assert!(
        outcome
            .expect_err("too deep")
            .contains("nested more than 100 deep")
    );
}

#[test]
fn a_message_the_parser_chokes_on_is_reported_not_fatal() {
    // Found by `prop_tests`: in debug builds mail-parser 0.11 panics on it
    // ("Invalid part ID, could not find multipart").
    let raw = b"From: \r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: message/rfc822; charset=\"utf-8\"\r\nContent-Transfer-Encoding: x-uue\r\n\r\n\x00\r\n--b\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\r\n--b--\r\n";
    match record(&config(), 1, 1, Vec::new(), raw) {
        Ok(rec) => assert_eq!(rec.uid, 1),
        Err(why) => assert!(why.contains("MIME parser failed"), "{why}"),
    }
}

#[test]
fn parts_and_header_bytes_have_limits() {
    let mut config = config();
    config.max_parts = 10;
    config.max_header_bytes = 1024;
    let mut many = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n".to_vec();
    for _ in 0..20 {
        many.extend_from_slice(b"--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n");
    }
    many.extend_from_slice(b"--x--\r\n");
    let e = record(&config, 1, 1, Vec::new(), &many).expect_err("too many parts");
    assert!(e.contains("max_parts"), "{e}");
    let big = format!("From: a@b\r\nX-Long: {}\r\n\r\nbody\r\n", "y".repeat(2000));
    let e = record(&config, 1, 1, Vec::new(), big.as_bytes()).expect_err("header too big");
    assert!(e.contains("max_header_bytes"), "{e}");
    // A large body is not a large header.
    let body = format!("From: a@b\r\n\r\n{}\r\n", "z".repeat(5000));
    record(&config, 1, 1, Vec::new(), body.as_bytes()).expect("a record");
    assert_eq!(header_len(b"A: b\r\n\r\nbody"), 6);
    assert_eq!(header_len(b"A: b\nC: d\n\nbody"), 10);
    assert_eq!(header_len(b"A: b"), 4);
}

#[test]
fn a_header_that_is_not_utf8_is_kept_and_flagged() {
    let raw = b"Subject: ok\r\nX-Latin: caf\xe9 au lait\r\nFrom: a@example.com\r\n\r\nbody\r\n";
    let rec = record(&config(), 1, 1, Vec::new(), raw).expect("a record");
    let latin = rec
        .headers
        .iter()
        .find(|h| h.name == "X-Latin")
        .expect("the header is kept");
    assert_eq!(latin.value, "caf\u{fffd} au lait");
    assert_eq!(latin.not_utf8, Some(true));
    let subject = rec
        .headers
        .iter()
        .find(|h| h.name == "Subject")
        .expect("subject");
    assert_eq!(subject.not_utf8, None, "flagged only when it was not UTF-8");
}

#[test]
fn attachment_names_from_strangers_cannot_name_a_path() {
    let raw = concat!(
        "Subject: x\r\nFrom: a@example.com\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n",
        "--b\r\nContent-Type: application/octet-stream\r\n",
        "Content-Disposition: attachment; filename=\"../../etc/cron.d/evil\"\r\n\r\nx\r\n",
        "--b--\r\n"
    );
    let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
    assert_eq!(
        rec.attachments[0].filename.as_deref(),
        Some(".._.._etc_cron.d_evil")
    );
}

#[test]
fn nesting_within_the_limit_is_read() {
    let rec = record(&config(), 7, 1, Vec::new(), &nested(20)).expect("a record");
    assert_eq!(rec.subject.as_deref(), Some("x"));
}

#[test]
fn every_text_part_is_kept_with_its_part_number() {
    let raw = concat!(
        "From: a@example.com\r\nSubject: list\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nThe message.\r\n",
        "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n",
        "--c\r\nContent-Type: text/plain\r\n\r\nForwarded text.\r\n",
        "--c\r\nContent-Type: text/html\r\n\r\n<p>Forwarded</p>\r\n",
        "--c--\r\n",
        "--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline\r\n\r\n-- \r\nThe list footer\r\n",
        "--b--\r\n"
    );
    let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
    let parts: Vec<(&str, &str)> = rec
        .text_parts
        .iter()
        .map(|p| (p.part.as_str(), p.content.as_ref()))
        .collect();
    assert_eq!(
        parts,
        [
            ("1", "The message."),
            ("2.1", "Forwarded text."),
            ("3", "-- \nThe list footer")
        ]
    );
    assert_eq!(
        rec.text.as_deref(),
        Some("The message.\n\nForwarded text.\n\n-- \nThe list footer")
    );
    assert_eq!(rec.html.as_deref(), Some("<p>Forwarded</p>"));
    assert!(rec.html_parts.is_empty(), "one HTML part: no list");

    // One text part: `text` alone, no list.
    let one =
        record(&config(), 1, 1, Vec::new(), b"From: a@b.c\r\n\r\nhello\r\n").expect("a record");
    assert_eq!(one.text.as_deref(), Some("hello"));
    assert!(one.text_parts.is_empty());
}

#[test]
fn text_attachments_keep_their_own_bytes_and_charset() {
    let latin1 = b"caf\xe9 cr\xe8me\r\nna\xefve\r\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(latin1);
    let raw = format!(
        concat!(
            "From: a@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
            "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n",
            "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n",
            "Content-Disposition: attachment; filename=menu.txt\r\n",
            "Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            "--b\r\nContent-Type: text/csv; charset=iso-8859-1\r\n",
            "Content-Disposition: attachment; filename=prices.csv\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            "caf=E9;1=\r\n.50\r\n",
            "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n",
            "Content-Disposition: attachment; filename=raw.txt\r\n",
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        ),
        b64
    );
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(b"na\xefve\r\n--b--\r\n");
    let mut config = config();
    config.attachments = AttachmentMode::Content;
    let rec = record(&config, 1, 1, Vec::new(), &raw).expect("a record");
    let bytes = |name: &str| {
        let a = rec
            .attachments
            .iter()
            .find(|a| a.filename.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name}: {:?}", rec.attachments));
        let data = base64::engine::general_purpose::STANDARD
            .decode(a.content_base64.as_deref().expect("content"))
            .expect("base64");
        assert_eq!(
            a.size,
            data.len() as u64,
            "{name}: size of the original bytes"
        );
        data
    };
    assert_eq!(bytes("menu.txt"), latin1, "base64: the sender's bytes");
    // The CRLF before a boundary belongs to the boundary (RFC 2046 section 5.1.1).
    assert_eq!(bytes("prices.csv"), b"caf\xe9;1.50", "quoted-printable");
    assert_eq!(
        bytes("raw.txt"),
        b"na\xefve",
        "8bit, up to the boundary's CRLF"
    );
}

#[test]
fn untyped_parts_of_a_digest_are_messages() {
    let raw = concat!(
        "From: list@example.com\r\nSubject: digest\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=outer\r\n\r\n",
        "--outer\r\nContent-Type: text/plain\r\n\r\nToday's digest\r\n",
        "--outer\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n",
        "--d\r\n\r\nFrom: one@example.com\r\nSubject: first\r\n\r\nfirst body\r\n",
        "--d\r\n\r\nFrom: two@example.com\r\nSubject: second\r\n\r\nsecond body\r\n",
        "--d--\r\n",
        "--outer\r\nContent-Disposition: attachment; filename=notes\r\n\r\nplain\r\n",
        "--outer--\r\n"
    );
    let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
    let types: Vec<(Option<&str>, &str)> = rec
        .attachments
        .iter()
        .map(|a| (a.filename.as_deref(), a.content_type.as_ref()))
        .collect();
    assert_eq!(
        types.iter().filter(|t| t.1 == "message/rfc822").count(),
        2,
        "RFC 2046 section 5.1.5: {types:?}"
    );
    assert!(
        types.contains(&(Some("notes"), "text/plain")),
        "RFC 2045 section 5.2 outside a digest: {types:?}"
    );
    assert!(!types.iter().any(|t| t.1 == "application/octet-stream"));
}

#[test]
fn bare_words_empty_groups_and_obsolete_dates_are_read() {
    let raw = concat!(
        "From: MAILER-DAEMON\r\n",
        "To: undisclosed-recipients:;\r\n",
        "Cc: Team: ;, \"A\" <a@example.com>\r\n",
        "Subject: bounce\r\n\r\nbody\r\n"
    );
    let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
    let list = |v: &[super::super::record::AddressRecord<'_>]| {
        v.iter()
            .map(|a| {
                let owned = |s: &Option<Cow<'_, str>>| s.as_deref().map(str::to_owned);
                (owned(&a.name), owned(&a.address))
            })
            .collect::<Vec<_>>()
    };
    // mail-parser 0.11 makes the bare word a display name: read by `fields.rs`.
    assert_eq!(list(&rec.from), [(None, Some("MAILER-DAEMON".into()))]);
    // Kept as regression tests of `fields.rs`.
    assert_eq!(list(&rec.to), [], "an empty group is no recipient");
    assert_eq!(
        list(&rec.cc),
        [(Some("A".into()), Some("a@example.com".into()))]
    );
    for (date, utc) in [
        ("Tue, 20 Jan 15 17:35:20 EST", "2015-01-20T22:35:20Z"),
        ("1 Jan 98 12:00:00 PDT", "1998-01-01T19:00:00Z"),
        (
            "Mon, 2 Mar 2026 10:00:00 +0100 (CET)",
            "2026-03-02T09:00:00Z",
        ),
        (
            "Thu, 13 Feb 1969 23:32 -0330 (Newfoundland Time)",
            "1969-02-14T03:02:00Z",
        ),
        ("21 Nov 97 09:55:06 GMT", "1997-11-21T09:55:06Z"),
        ("Fri, 21 Nov 1997 09:55:06 A", "1997-11-21T09:55:06Z"),
        ("Fri, 21 Nov 097 09:55:06 -0600", "1997-11-21T15:55:06Z"),
    ] {
        let raw = format!("From: a@example.com\r\nDate: {date}\r\n\r\nx\r\n");
        let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
        assert_eq!(rec.date.as_deref(), Some(utc), "{date}");
    }
    // A name with an address is left alone.
    let named = record(
        &config(),
        1,
        1,
        Vec::new(),
        b"From: Bob <bob@example.com>\r\n\r\nx\r\n",
    )
    .expect("a record");
    assert_eq!(
        list(&named.from),
        [(Some("Bob".into()), Some("bob@example.com".into()))]
    );
}

#[test]
fn a_uuencoded_file_in_the_body_is_an_attachment() {
    let raw = "From: a@example.com\r\nSubject: uu\r\n\r\nsee file\r\n\r\nbegin 644 hello.txt\r\n,:&5L;&\\@=V]R;&0*\r\n`\r\nend\r\n";
    let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
    assert_eq!(rec.text.as_deref(), Some("see file"));
    let file = &rec.attachments[0];
    assert_eq!(file.filename.as_deref(), Some("hello.txt"));
    assert_eq!(file.content_type, "text/plain");
    assert_eq!(file.size, 12);
    assert_eq!(file.content_base64.as_deref(), Some("aGVsbG8gd29ybGQK"));
}

#[test]
fn folded_rfc2231_names_and_a_boundary_that_prefixes_another() {
    // mail-parser 0.11.9 reads both right; kept as regression tests.
    let raw = concat!(
        "From: a@example.com\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n",
        "--b\r\nContent-Type: application/octet-stream\r\n",
        "Content-Disposition: attachment;\r\n filename*0*=utf-8''very%20long%20name%20;\r\n",
        " filename*1*=part%20two;\r\n filename*2=\".pdf\"\r\n\r\nxx\r\n--b--\r\n"
    );
    let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
    assert_eq!(
        rec.attachments[0].filename.as_deref(),
        Some("very long name part two.pdf")
    );
    let raw = concat!(
        "From: a@example.com\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n",
        "--outer\r\nContent-Type: text/plain\r\n\r\nbody\r\n",
        "--outer\r\nContent-Type: message/rfc822\r\n\r\n",
        "From: x@example.com\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=\"out\"\r\n\r\n",
        "--out\r\nContent-Type: text/plain\r\n\r\ninner\r\n--out--\r\n",
        "--outer\r\nContent-Type: application/pdf\r\n",
        "Content-Disposition: attachment; filename=x.pdf\r\n\r\nPDF\r\n--outer--\r\n"
    );
    let rec = record(&config(), 1, 1, Vec::new(), raw.as_bytes()).expect("a record");
    let names: Vec<_> = rec
        .attachments
        .iter()
        .map(|a| (a.content_type.as_ref(), a.size))
        .collect();
    // 152: the forwarded message up to its own `--out--`, not into `--outer`.
    assert_eq!(names, [("message/rfc822", 152), ("application/pdf", 3)]);
}

fn read(raw: &[u8]) -> EmailRecord<'static> {
    record(&config(), 1, 1, Vec::new(), raw).expect("a record")
}

#[test]
fn a_message_without_any_header_is_read_as_its_body() {
    // mime4j's malformedHeader-noheader: before, "it cannot be parsed as MIME" and the
    // message stayed unread for ever (every run ended with exit 1).
    let r = read(b"This is a simple message not having headers.\r\nThe whole text should be recognized as body.\r\n");
    assert_eq!(
        r.text.as_deref(),
        Some(
            "This is a simple message not having headers.\nThe whole text should be recognized as body."
        )
    );
    assert!(r.subject.is_none() && r.from.is_empty() && r.headers.is_empty());
    // A first line that is not a field means there is no header section either.
    let r = read(b"This is an invalid header\r\nAnother: is this a header?\r\n\r\nBody\r\n");
    assert_eq!(
        r.text.as_deref(),
        Some("This is an invalid header\nAnother: is this a header?\n\nBody")
    );
}

#[test]
fn lines_of_spaces_before_the_first_field_are_skipped() {
    // php-mime-mail-parser's m0011: before, "it has no header".
    let r = read(b"      \nSubject: hi\nFrom: a@b.test\n\nbody\n");
    assert_eq!(r.subject.as_deref(), Some("hi"));
    assert_eq!(r.from[0].address.as_deref(), Some("a@b.test"));
    assert_eq!(r.text.as_deref(), Some("body"));
    // An mbox separator line is not a reason to read the header as body.
    let r = read(b"From someone Thu Apr 30 14:27:51 1998\nSubject: mbox\n\nbody\n");
    assert_eq!(r.subject.as_deref(), Some("mbox"));
}

#[test]
fn the_first_of_repeated_fields_counts() {
    // Ruby mail's raw_email_with_binary_encoded: two Subject fields; mail-parser
    // keeps the last, readers (and RFC 5322's one-field rule) the first.
    let r = read(b"Subject: Testing outlook\r\nSubject: Another PDF\r\nDate: Wed, 20 Dec 95 19:59 CST\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\nbody\r\n");
    assert_eq!(r.subject.as_deref(), Some("Testing outlook"));
    assert_eq!(r.date.as_deref(), Some("1995-12-21T01:59:00Z"));
    assert_eq!(r.message_id.as_deref(), Some("<first@x>"));
}

#[test]
fn a_stray_line_inside_a_field_does_not_cut_off_its_continuation() {
    // Ruby mail's rfc2822_example13 (RFC 2822 appendix A.6.3, where `__` pictures a
    // line of spaces): the stray line is no field and no continuation; the folded
    // line after it still belongs to To. Before, To was "Mary Smith" without an
    // address.
    let r = read(b"From  : John Doe <jdoe@machine.example>\r\nTo    : Mary Smith\r\n__\r\n          <mary@example.net>\r\nSubject     : Saying Hello\r\n\r\nThis is a message just to say hello.\r\n");
    assert_eq!(r.to.len(), 1, "{:?}", r.to);
    assert_eq!(r.to[0].name.as_deref(), Some("Mary Smith"));
    assert_eq!(r.to[0].address.as_deref(), Some("mary@example.net"));
    assert_eq!(r.subject.as_deref(), Some("Saying Hello"));
    assert_eq!(
        r.text.as_deref(),
        Some("This is a message just to say hello.")
    );
    // A stray line followed by a field takes nothing with it; one at the end of the
    // header section neither.
    let r =
        read(b"To: a@b.test\r\nstray\r\nSubject: s\r\nCc: c@d.test\r\nnot a field\r\n\r\nbody\r\n");
    assert_eq!(r.to[0].address.as_deref(), Some("a@b.test"));
    assert_eq!(r.subject.as_deref(), Some("s"));
    assert_eq!(r.cc.len(), 1, "{:?}", r.cc);
    assert_eq!(r.cc[0].address.as_deref(), Some("c@d.test"));
}

fn multipart(boundary: &str, body: &str) -> Vec<u8> {
    format!(
        "From: a@b.test\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n{body}"
    )
    .into_bytes()
}

#[test]
fn a_boundary_counts_only_at_the_start_of_a_line_and_alone() {
    // mime4j misplaced-boundary: `--b` in the middle of a line is text.
    let r = read(&multipart(
        "b",
        "--b\r\nContent-Type: text/plain\r\n\r\nsee the --b marker\r\nand more\r\n--b--\r\n",
    ));
    assert_eq!(r.text.as_deref(), Some("see the --b marker\nand more"));
    // A longer boundary that starts with this one (`--b-inner`) is not its delimiter.
    let r = read(&multipart(
        "b",
        "--b\r\nContent-Type: text/plain\r\n\r\nline\r\n--b-inner is text\r\n--b--\r\n",
    ));
    assert_eq!(r.text.as_deref(), Some("line\n--b-inner is text"));
    // White space and text after a delimiter: still a delimiter, the rest ignored
    // (RFC 2046 section 5.1.1's note to implementors; mime4j ending-boundaries).
    let r = read(&multipart(
        "b",
        "--b ignored\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b-- ignored too\r\n",
    ));
    assert_eq!(r.text.as_deref(), Some("first part"));
}

#[test]
fn a_quoted_printable_soft_break_before_the_delimiter_loses_nothing() {
    // mail-parser 0.11 took back the line end *and* two content bytes when the last
    // line of a quoted-printable part ended in a soft break (`=`).
    let r = read(&multipart(
        "b",
        "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhello wor=\r\n--b--\r\n",
    ));
    assert_eq!(r.text.as_deref(), Some("hello wor"));
    let r = read(&multipart(
        "b",
        "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhello=\r\nworld\r\n--b--\r\n",
    ));
    assert_eq!(r.text.as_deref(), Some("helloworld"));
}

#[test]
fn a_part_cut_off_before_its_delimiter_is_still_decoded() {
    // php-mime-mail-parser failure.eml: a truncated message (no close delimiter).
    let r = read(&multipart(
        "b",
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n",
    ));
    assert_eq!(r.text.as_deref(), Some("Grüße"));
    let r = read(&multipart(
        "b",
        "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: application/octet-stream; name=x.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n",
    ));
    let a = &r.attachments[0];
    assert_eq!(a.content_base64.as_deref(), Some("AAECAw=="), "{a:?}");
}

#[test]
fn a_parameter_value_folded_onto_the_next_line_is_kept() {
    // php-mime-mail-parser m0013: `name=` ends the line, the value is on the next.
    let r = read(&multipart(
        "b",
        "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: application/pdf; name=\r\n\t\"=?iso-8859-1?Q?N=B0_1.?=\r\n =?iso-8859-1?Q?pdf?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n",
    ));
    assert_eq!(r.attachments[0].filename.as_deref(), Some("N° 1.pdf"));
}

/// The forms nearly every message uses are read at once by the mail-parser patch
/// (and are what the general reader gives); a folded value or an RFC 2231 parameter
/// is left to the general reader, with nothing read.
#[test]
fn common_content_types_are_read_at_once_and_the_rest_byte_by_byte() {
    use mail_parser::parsers::MessageStream;
    for common in [
        " text/plain; charset=utf-8\r\n",
        " multipart/mixed; boundary=b0\r\nX",
        " attachment; filename=\"row 0.csv\"\r\n",
        " Text/HTML;Charset=\"UTF-8\" ;\r\n",
        " multipart/alternative; boundary=\"----=_Part_1_2.3\"; type=text/plain\n",
        " inline\r\n",
    ] {
        let mut fast = MessageStream::new(common.as_bytes());
        let value = fast
            .parse_content_type_simple()
            .unwrap_or_else(|| panic!("read at once: {common:?}"));
        let mut general = MessageStream::new(common.as_bytes());
        assert_eq!(value, general.parse_content_type_general(), "{common:?}");
        assert_eq!(fast.offset(), general.offset(), "{common:?}");
    }
    for other in [
        " multipart/mixed;\r\n\tboundary=b0\r\n",
        " attachment; filename*=utf-8''%e2%82%ac.txt\r\n",
        " text/plain; charset=\"a\\\"b\"\r\n",
        " text/plain (comment); charset=utf-8\r\n",
        " text/plain; name=\"=?utf-8?q?x?=\"\r\n",
        " text/plain; name=\"\"\r\n",
        " text/plain; charset=utf-8",
    ] {
        let mut stream = MessageStream::new(other.as_bytes());
        assert!(stream.parse_content_type_simple().is_none(), "{other:?}");
        assert_eq!(stream.offset(), 0, "{other:?}");
    }
}

#[test]
fn the_first_content_type_counts_when_there_are_two() {
    // Ruby mail's error_emails_multiple_content_types.
    let raw = b"From: a@b.test\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\nContent-type: text/plain\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfoo\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>foo</p>\r\n--b--\r\n";
    let r = read(raw);
    assert_eq!(r.text.as_deref(), Some("foo"));
    assert_eq!(r.html.as_deref(), Some("<p>foo</p>"));
}

#[test]
fn utf8_in_a_part_labelled_us_ascii_is_read_as_utf8() {
    // Ruby mail's raw_email6: 8-bit UTF-8 under `charset=us-ascii`; decoded as
    // windows-1252 it became `EnvoyÃ©`.
    let r = read(
        "From: a@b.test\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 8bit\r\n\r\nEnvoyé par le service\r\n"
            .as_bytes(),
    );
    assert_eq!(r.text.as_deref(), Some("Envoyé par le service"));
    // A declared 8-bit charset is still followed.
    let mut raw =
        b"From: a@b.test\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nD".to_vec();
    raw.extend_from_slice(&[0xe9]);
    raw.extend_from_slice(b"j\xe0\r\n");
    assert_eq!(read(&raw).text.as_deref(), Some("Déjà"));
}

#[test]
fn every_part_is_somewhere_in_the_record() {
    // php-mime-mail-parser m0027: the whole message is one named, empty file;
    // mail-parser listed it nowhere, so the record did not say it exists.
    let r = read(b"From: a@b.test\r\nContent-Type: application/txt; name=\"1234/../../1234.txt\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    assert_eq!(r.attachments.len(), 1, "{:?}", r.attachments);
    assert_eq!(
        r.attachments[0].filename.as_deref(),
        Some("1234_.._.._1234.txt")
    );
    assert_eq!(r.attachments[0].size, 0);
    // An empty multipart (no parts, nothing in it) is no attachment.
    let r = read(b"From: a@b.test\r\nContent-Type: multipart/alternative; boundary=\"x\"\r\n\r\n");
    assert!(r.attachments.is_empty(), "{:?}", r.attachments);
}

#[test]
fn a_nested_multipart_without_its_close_delimiter_ends_at_the_outer_one() {
    // MIME-tools' multi-frag: the inner close delimiter is lost; the parts after it
    // in the outer multipart were lost with it.
    let r = read(&multipart(
        "outer",
        "--outer\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--outer\r\nContent-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--outer\r\nContent-Type: application/octet-stream; name=b.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAwQF\r\n--outer--\r\n",
    ));
    let names: Vec<Option<&str>> = r
        .attachments
        .iter()
        .map(|a| a.filename.as_deref())
        .collect();
    assert_eq!(names, [Some("a.bin"), Some("b.bin")], "{:?}", r.attachments);
    assert_eq!(r.attachments[0].content_base64.as_deref(), Some("AAEC"));
    assert_eq!(r.attachments[1].content_base64.as_deref(), Some("AwQF"));
    assert_eq!(r.text.as_deref(), Some("first"));
}

#[test]
fn characters_outside_base64_are_ignored_not_the_end_of_the_part() {
    // RFC 2045 section 6.8. Before, a stray character made mail-parser give the part
    // up and hand it on undecoded.
    let r = read(&multipart(
        "b",
        "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: application/octet-stream; name=x.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAA!EC\r\nAw-QF\r\n--b--\r\n",
    ));
    assert_eq!(r.attachments[0].content_base64.as_deref(), Some("AAECAwQF"));
}

#[test]
fn a_multipart_with_no_parts_is_kept_whole_and_its_epilogue_is_not_the_text() {
    // mime4j's multipartnopart: the first delimiter is the close delimiter. Before,
    // the epilogue after it came out as the message's text.
    let r = read(&multipart(
        "b",
        "This is a multi-part message with no parts.\r\n\r\n--b--\r\n\r\nEpilogue\r\n",
    ));
    assert_eq!(r.text, None, "{r:?}");
    assert_eq!(r.attachments.len(), 1, "{:?}", r.attachments);
    assert_eq!(r.attachments[0].content_type, "multipart/mixed");
}

#[test]
fn bodies_lose_crlf_pairs_and_trailing_breaks_only() {
    // Against the plain definition: every CRLF pair becomes LF, then trailing CR and
    // LF go.
    let plain = |t: &str| {
        t.replace("\r\n", "\n")
            .trim_end_matches(['\n', '\r'])
            .to_owned()
    };
    for text in [
        "",
        "\r",
        "\r\n",
        "a\r\nb\r\n\r\n",
        "a\r\r\nb",
        "\r\r\n\n\r",
        "é\r\nü\rx\n\r\n",
        "no breaks at all",
        "\n\n\r\n",
        "line\r\n\r\r\n",
    ] {
        assert_eq!(
            super::normalize_body(Cow::Borrowed(text)),
            plain(text),
            "{text:?}"
        );
    }
}

proptest::proptest! {
    /// Dates are written in UTC with `Z`, as `to_rfc3339` and a `+00:00` replaced gave.
    #[test]
    fn utc_times_end_in_z(ts in -62_135_596_800i64..253_402_300_799) {
        let written = super::utc(ts);
        let before = mail_parser::DateTime::from_timestamp(ts)
            .to_rfc3339()
            .replace("+00:00", "Z");
        proptest::prop_assert_eq!(&written, &before);
        proptest::prop_assert!(written.ends_with('Z'), "{}", written);
    }

    /// The mail-parser patch reads a header kept as written from line break to line
    /// break: the value and where the stream stops are what 0.11.9's reading a byte at
    /// a time gave (written out here), on any text of white space, line breaks and
    /// words.
    #[test]
    fn a_raw_header_value_is_read_as_it_was_byte_by_byte(
        text in "[a \t\r\n:é]{0,40}",
    ) {
        use mail_parser::parsers::MessageStream;
        let bytes = text.as_bytes();
        // 0.11.9's `parse_raw`, on offsets.
        let (mut first, mut last, mut at) = (None, 0, 0);
        while at < bytes.len() {
            let b = bytes[at];
            at += 1;
            match b {
                b'\n' => {
                    if matches!(bytes.get(at), Some(b' ' | b'\t')) {
                        at += 1;
                        continue;
                    }
                    break;
                }
                b' ' | b'\t' | b'\r' => continue,
                _ => {}
            }
            first.get_or_insert(at - 1);
            last = at;
        }
        let want = first.map(|f| String::from_utf8_lossy(&bytes[f..last]).into_owned());
        let mut stream = MessageStream::new(bytes);
        let got = stream.parse_raw().as_text().map(str::to_owned);
        proptest::prop_assert_eq!(got, want);
        proptest::prop_assert_eq!(stream.offset(), at);
    }

    /// The mail-parser patch finds a field's name by its colon when the name is one
    /// run of non-blank bytes: the name read, and where the stream stops, are what
    /// 0.11.9's reading a byte at a time gave (written out here), for known names in
    /// any case and for any text of letters, blanks, colons and line breaks after them.
    #[test]
    fn a_field_name_is_read_as_it_was_byte_by_byte(
        known in proptest::sample::select(vec![
            "", "From", "content-TYPE", "X-Mailer", "Subject", "DKIM-Signature",
            "Received", "x", "List-Unsubscribe-Post",
        ]),
        rest in "[a-zA-Z \t\r\n:é_-]{0,40}",
    ) {
        use mail_parser::HeaderName;
        use mail_parser::parsers::MessageStream;
        let text = format!("{known}{rest}");
        let bytes = text.as_bytes();
        // 0.11.9's `parse_header_name`, on offsets.
        let (mut first, mut last, mut lower, mut at) = (None, 0, String::new(), 0);
        let mut ended_line = false;
        while at < bytes.len() {
            let b = bytes[at];
            at += 1;
            match b {
                b':' if first.is_some() => break,
                b':' => {}
                b'\n' => {
                    ended_line = true;
                    break;
                }
                b if b.is_ascii_whitespace() => {}
                b => {
                    first.get_or_insert(at - 1);
                    last = at;
                    lower.push(char::from(b.to_ascii_lowercase()));
                }
            }
        }
        let want = match first {
            Some(first) if !ended_line => {
                let known = (lower.len() <= 34)
                    .then(|| HeaderName::parse(lower.clone()))
                    .flatten()
                    .filter(|name| !matches!(name, HeaderName::Other(_)));
                Some(known.unwrap_or_else(|| {
                    HeaderName::Other(String::from_utf8_lossy(&bytes[first..last]))
                }))
            }
            _ => None,
        };
        let mut stream = MessageStream::new(bytes);
        let got = stream.parse_header_name();
        proptest::prop_assert_eq!(got, want);
        proptest::prop_assert_eq!(stream.offset(), at);
    }

    /// The mail-parser patch reads the common form of a `Content-Type` (or
    /// `Content-Disposition`) value at once: whenever it takes a value, the value and
    /// where the stream stops are the general byte-by-byte reader's, for values built
    /// from the grammar's pieces with the bytes that make the general reader change
    /// course (quotes, escapes, `*`, `=?`, comments, blanks, folding, 8-bit bytes)
    /// mixed in, and for any short text of such bytes.
    #[test]
    fn a_content_type_read_at_once_is_what_the_general_reader_gives(
        text in proptest::prop_oneof![
            // The common form's own pieces: most of these are read at once.
            3 => "[ \t]{0,2}[a-zA-Z0-9+.#$&^%~_!-]{1,6}(/[a-zA-Z0-9+.-]{1,6})?([ \t]{0,2};[ \t]{0,2}[a-zA-Z0-9._-]{1,6}=(\"[a-zA-Z0-9 ;()/:._-]{1,8}\"|[a-zA-Z0-9/:@,._-]{1,8})){0,3}[ \t]{0,2};?[ \t]{0,2}\r?\n[X\r]?",
            1 => "[ \t]{0,2}[a-zA-Z*]{1,6}(/[a-zA-Z+.*-]{0,6})?([ \t]{0,2};[ \t]{0,2}[a-zA-Z*'-]{0,6}[ \t]{0,1}=[ \t]{0,1}(\"[a-zA-Z0-9 =?;()\\\\/._é\t-]{0,8}\"|[a-zA-Z0-9=?/:@,.()_*'é-]{0,8})[ \t]{0,2}){0,3};?[ \t]{0,2}\r?\n[ \tX]?",
            1 => "[a-zA-Z/;=\" \t\r\n()*'?\\\\0-9é-]{0,30}",
        ],
    ) {
        use mail_parser::parsers::MessageStream;
        let bytes = text.as_bytes();
        let mut simple = MessageStream::new(bytes);
        if let Some(value) = simple.parse_content_type_simple() {
            let mut general = MessageStream::new(bytes);
            let want = general.parse_content_type_general();
            proptest::prop_assert_eq!(&value, &want, "{:?}", text);
            proptest::prop_assert_eq!(simple.offset(), general.offset(), "{:?}", text);
        } else {
            proptest::prop_assert_eq!(simple.offset(), 0, "nothing read when not taken");
        }
    }

    /// Written by hand, the same text as mail-parser's `to_rfc3339` for any time a
    /// date field can say (five-digit years and wrapped ones included).
    #[test]
    fn utc_is_to_rfc3339_for_any_time(ts in proptest::prelude::any::<i64>()) {
        let want = mail_parser::DateTime::from_timestamp(ts).to_rfc3339();
        proptest::prop_assert_eq!(super::utc(ts), want);
    }
}
