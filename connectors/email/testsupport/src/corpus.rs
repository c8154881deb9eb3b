//! A hostile MIME corpus, generated: messages any sender can deliver that aim at a
//! parser's weak points (nesting of every kind, huge part counts, headers and lines,
//! broken encodings, bogus charsets, missing or overlapping boundaries, address lists
//! and parameters built to make a parser recurse or allocate). Generated, not stored,
//! so nothing large sits in the repository.
//!
//! ```
//! let corpus = email_testsupport::corpus::hostile();
//! assert!(corpus.len() >= 20);
//! assert!(corpus.iter().all(|case| !case.raw.is_empty()));
//! ```

/// One message of the corpus.
#[derive(Debug, Clone)]
pub struct Case {
    /// What it attacks.
    pub name: &'static str,
    /// The message.
    pub raw: Vec<u8>,
}

const HEAD: &str = "From: Mallory <mallory@example.test>\r\nTo: victim@example.test\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n";

fn case(name: &'static str, raw: Vec<u8>) -> Case {
    Case { name, raw }
}

fn message(subject: &str, rest: &[u8]) -> Vec<u8> {
    let mut raw = format!("{HEAD}Subject: {subject}\r\n").into_bytes();
    raw.extend_from_slice(rest);
    raw
}

/// Every case, each under a few MB (about 30 MB in all).
pub fn hostile() -> Vec<Case> {
    let mut out = Vec::new();

    // Nesting of every kind.
    let mut rfc822 = Vec::new();
    for _ in 0..40_000 {
        rfc822.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    rfc822.extend_from_slice(b"Subject: core\r\n\r\ncore\r\n");
    out.push(case(
        "message/rfc822 nested 40,000 deep",
        message("deep rfc822", &rfc822),
    ));

    let mut multi = Vec::new();
    for i in 0..20_000 {
        multi.extend(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").bytes(),
        );
    }
    multi.extend_from_slice(b"Content-Type: text/plain\r\n\r\ncore\r\n");
    for i in (0..20_000).rev() {
        multi.extend(format!("--b{i}--\r\n").bytes());
    }
    out.push(case(
        "multipart nested 20,000 deep",
        message("deep multipart", &multi),
    ));

    let mut unclosed = Vec::new();
    for i in 0..20_000 {
        unclosed.extend(
            format!("Content-Type: multipart/alternative; boundary=u{i}\r\n\r\n--u{i}\r\n").bytes(),
        );
    }
    out.push(case(
        "multipart nested 20,000 deep, never closed",
        message("deep unclosed", &unclosed),
    ));

    let mut same = Vec::new();
    for _ in 0..20_000 {
        same.extend_from_slice(b"Content-Type: multipart/mixed; boundary=same\r\n\r\n--same\r\n");
    }
    out.push(case(
        "20,000 nested multiparts sharing one boundary",
        message("same boundary", &same),
    ));

    // Many parts.
    let mut parts = b"Content-Type: multipart/mixed; boundary=p\r\n\r\n".to_vec();
    for _ in 0..100_000 {
        parts.extend_from_slice(b"--p\r\n\r\nx\r\n");
    }
    parts.extend_from_slice(b"--p--\r\n");
    out.push(case("100,000 parts", message("many parts", &parts)));

    let mut digest = b"Content-Type: multipart/digest; boundary=d\r\n\r\n".to_vec();
    for i in 0..10_000 {
        digest.extend(format!("--d\r\n\r\nSubject: m{i}\r\n\r\nbody\r\n").bytes());
    }
    digest.extend_from_slice(b"--d--\r\n");
    out.push(case(
        "a digest of 10,000 messages",
        message("digest", &digest),
    ));

    // Huge headers and lines.
    out.push(case(
        "one 4 MB header line",
        message(
            "long header",
            format!("X-Long: {}\r\n\r\nbody\r\n", "a".repeat(4 << 20)).as_bytes(),
        ),
    ));
    let mut fields = String::new();
    for i in 0..100_000 {
        fields.push_str(&format!("X-F{i}: v\r\n"));
    }
    fields.push_str("\r\nbody\r\n");
    out.push(case(
        "100,000 header fields",
        message("many fields", fields.as_bytes()),
    ));
    let mut folded = "X-Folded: a".to_owned();
    for _ in 0..200_000 {
        folded.push_str("\r\n b");
    }
    folded.push_str("\r\n\r\nbody\r\n");
    out.push(case(
        "one header folded 200,000 times",
        message("folded", folded.as_bytes()),
    ));
    out.push(case(
        "an 8 MB body line without a line break",
        message(
            "long line",
            format!("Content-Type: text/plain\r\n\r\n{}", "b".repeat(8 << 20)).as_bytes(),
        ),
    ));

    // Broken encodings and charsets.
    out.push(case(
        "broken base64",
        message(
            "bad base64",
            b"Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK!!!***===\xff\xfe====AAAA=A=\r\n%%%%\r\n",
        ),
    ));
    out.push(case(
        "broken quoted-printable",
        message(
            "bad qp",
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=0=\r\n=E2=82=\r\n=\r\n=F0=9F=98",
        ),
    ));
    out.push(case(
        "bogus and huge charset names",
        message(
            "bogus charsets",
            format!(
                "Content-Type: text/plain; charset=\"x-{}\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\x7f caf\u{e9} \r\n",
                "q".repeat(100_000)
            )
            .as_bytes(),
        ),
    ));
    let mut words = String::from("Subject: ");
    for _ in 0..50_000 {
        words.push_str("=?x-bogus?Q?a?= =?utf-8?B?////?= ");
    }
    words.push_str("\r\n\r\nbody\r\n");
    out.push(case("50,000 encoded words, bogus and broken", {
        let mut raw = HEAD.as_bytes().to_vec();
        raw.extend(words.bytes());
        raw
    }));

    // Boundaries.
    out.push(case(
        "a boundary that never appears",
        message(
            "missing boundary",
            b"Content-Type: multipart/mixed; boundary=nowhere\r\n\r\njust text\r\n",
        ),
    ));
    out.push(case(
        "an inner boundary that is a prefix of the outer one",
        message(
            "prefix boundary",
            b"Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\nContent-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\nContent-Type: text/plain\r\n\r\ninner\r\n--abc\r\nContent-Type: text/plain\r\n\r\nouter\r\n--abc--\r\n",
        ),
    ));
    out.push(case(
        "an empty boundary",
        message(
            "empty boundary",
            b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\nx\r\n----\r\n",
        ),
    ));

    // Addresses and parameters.
    let mut to = String::from("To: ");
    for i in 0..50_000 {
        to.push_str(&format!(
            "g{i}: a{i}@example.test, \"q\\\"{i}\" <b{i}@x>;, "
        ));
    }
    to.push_str("\r\n\r\nbody\r\n");
    out.push(case("50,000 address groups", {
        let mut raw = b"From: m@example.test\r\nSubject: groups\r\n".to_vec();
        raw.extend(to.bytes());
        raw
    }));
    out.push(case(
        "a comment nested 100,000 deep in an address",
        message(
            "nested comment",
            format!(
                "Cc: {}a@b{}\r\n\r\nbody\r\n",
                "(".repeat(100_000),
                ")".repeat(100_000)
            )
            .as_bytes(),
        ),
    ));
    let mut params = String::from("Content-Type: application/octet-stream");
    for i in 0..10_000 {
        params.push_str(&format!(";\r\n filename*{i}*=utf-8''%41%42"));
    }
    params.push_str("\r\n\r\nx\r\n");
    out.push(case(
        "10,000 RFC 2231 filename continuations",
        message("params", params.as_bytes()),
    ));

    // Bytes that are not text.
    let mut binary = b"Content-Type: text/plain\r\n\r\n".to_vec();
    binary.extend((0..=255u8).cycle().take(1 << 20));
    out.push(case(
        "1 MB of every byte value in a text body",
        message("binary", &binary),
    ));
    out.push(case(
        "NUL and bare CR in the header",
        message("nul\0header", b"X-Bad: a\rb\0c\r\n\r\nbody\r\n"),
    ));
    out.push(case(
        "headers in no encoding at all",
        message(
            "raw 8bit",
            b"X-Latin: caf\xe9 \xff\xfe\r\nSubject: \xc3\x28\r\n\r\nbody\r\n",
        ),
    ));
    let mut html = b"Content-Type: text/html\r\n\r\n".to_vec();
    html.extend("<div>".repeat(100_000).bytes());
    html.extend_from_slice(b"deep");
    out.push(case(
        "HTML nested 100,000 tags deep",
        message("deep html", &html),
    ));
    out.push(case(
        "a uuencoded body that lies about its length",
        message(
            "uuencode",
            b"Content-Type: text/plain\r\n\r\nbegin 644 evil.exe\r\nM``````````````````````````````````````````````\r\n~~~~\r\nend\r\n",
        ),
    ));
    out.push(case("dates from nowhere", {
        let mut raw =
            b"From: a@b\r\nDate: Mon, 99 Foo 99999999 99:99:99 +9999\r\nSubject: date\r\n\r\nx\r\n"
                .to_vec();
        raw.extend_from_slice(b"");
        raw
    }));
    out.push(case(
        "a header and no body",
        b"From: a@b\r\nSubject: no body".to_vec(),
    ));
    // Found by the property tests: mail-parser 0.11's debug assertion ("Invalid part
    // ID, could not find multipart") fires on it, aborting a debug build.
    out.push(case(
        "a uuencoded message/rfc822 in a message in a multipart",
        b"From: a@b\r\nSubject: assert\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: message/rfc822; charset=\"utf-8\"\r\nContent-Transfer-Encoding: x-uue\r\n\r\n\x00\r\n--b\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\r\n--b--\r\n".to_vec(),
    ));
    out
}
