//! The connector's own reading of FETCH and SEARCH answers against imap-proto's (what
//! async-imap gives): the fast form must give the same fields whenever it takes an
//! answer, on Dovecot's exact answers and on generated ones of every shape the grammar
//! allows (items in any order, repeated, other items, other cases, literal bodies of
//! any bytes), and an answer split anywhere must be framed the same.

use proptest::prelude::*;

use super::*;

const DOVECOT: &[u8] =
    b"* 12 FETCH (UID 4711 FLAGS (\\Seen $Forwarded) BODY[] {11}\r\nhello\r\n(x)})\r\n";

#[test]
fn dovecots_answer_is_read_in_the_fast_form() {
    let f = fast(DOVECOT).expect("the common form");
    assert_eq!(f.uid, Some(4711));
    assert_eq!(f.flags, ["\\Seen", "$Forwarded"]);
    assert_eq!(f.body.as_deref(), Some(&b"hello\r\n(x)}"[..]));
    assert_eq!(general(DOVECOT).expect("imap-proto reads it"), f);
}

#[test]
fn other_forms_go_to_the_general_parser_and_read_the_same() {
    for answer in [
        // Lower case, another item, a quoted body, NIL, no flags, RFC822.
        &b"* 1 fetch (uid 5 flags () body[] {2}\r\nhi)\r\n"[..],
        b"* 1 FETCH (UID 5 RFC822.SIZE 2 BODY[] {2}\r\nhi FLAGS (\\Seen))\r\n",
        b"* 1 FETCH (UID 5 BODY[] \"hi\")\r\n",
        b"* 1 FETCH (UID 5 BODY[] NIL)\r\n",
        b"* 1 FETCH (FLAGS (\\Seen))\r\n",
        b"* 1 FETCH (UID 5 RFC822 {2}\r\nhi)\r\n",
        b"* 1 FETCH (UID 5 UID 6 FLAGS (\\Seen) FLAGS (\\Draft))\r\n",
        b"* 1 FETCH (UID 5 MODSEQ (77) BODY[] {0}\r\n)\r\n",
    ] {
        let general = general(answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"));
        if let Some(f) = fast(answer) {
            assert_eq!(f, general, "{}", String::from_utf8_lossy(answer));
        }
    }
    // Repeats: the last UID, every flag, the first body (async-imap's reading).
    let f = general(b"* 1 FETCH (UID 5 BODY[] {1}\r\na UID 6 FLAGS (\\Seen) FLAGS (\\Draft) BODY[] {1}\r\nb)\r\n")
        .expect("valid");
    assert_eq!(
        (f.uid, f.flags.as_slice(), f.body.as_deref()),
        (
            Some(6),
            &["\\Seen".to_owned(), "\\Draft".to_owned()][..],
            Some(&b"a"[..])
        )
    );
}

#[test]
fn the_fast_form_refuses_what_it_does_not_know() {
    for answer in [
        &b"* 1 FETCH (UID 4294967296)\r\n"[..],
        b"* 1 FETCH (UID 5 FLAGS (\\Seen  \\Draft))\r\n",
        b"* 1 FETCH (UID 5 FLAGS (a]b))\r\n",
        b"* 1 FETCH (UID 5 BODY[] {3}\r\nhi)\r\n",
        b"* 1 FETCH (UID 5)\r\ntrailing",
        b"* 1 FETCH (UID 5))\r\n",
        b"* 1 FETCH (UID 5 UID 6)\r\n",
        b"* 1 FETCH (UID 5 X-GM-MSGID 9)\r\n",
    ] {
        assert_eq!(fast(answer), None, "{}", String::from_utf8_lossy(answer));
    }
}

#[test]
fn an_answer_that_is_no_fetch_is_an_error_for_the_general_parser() {
    assert!(general(b"* 3 EXISTS\r\n").is_err());
    assert!(general(b"* 1 FETCH (UID 5\r\n").is_err());
    assert!(general(b"* 1 FETCH (UID 5) trailing\r\n").is_err());
}

#[test]
fn search_answers_are_read_as_numbers() {
    let mut ids = Vec::new();
    assert!(search_numbers(b" 1 2 4294967295\r\n", &mut ids));
    assert!(search_numbers(b"\r\n", &mut ids));
    assert_eq!(ids, [1, 2, u32::MAX]);
    // Anything else is left to imap-proto, and nothing is kept of it.
    for other in [
        &b" 1 (MODSEQ 5)\r\n"[..],
        b" 1  2\r\n",
        b" 4294967296\r\n",
        b" 1 x\r\n",
        b" 1",
    ] {
        assert!(!search_numbers(other, &mut ids), "{other:?}");
        assert_eq!(ids.len(), 3);
    }
}

/// Frames `data` given in pieces of `cut` bytes, as a reader that reads that much at a
/// time would: the lengths of the answers found.
fn framed_in_pieces(data: &[u8], cut: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let (mut start, mut end, mut framed) = (0, 0, 0);
    while start < data.len() {
        match frame(&data[start..end], &mut framed) {
            Some(len) => {
                found.push(len);
                start += len;
                framed = 0;
            }
            None if end == data.len() => break,
            None => end = (end + cut).min(data.len()),
        }
    }
    found
}

#[test]
fn answers_are_framed_the_same_however_they_arrive() {
    // A literal that holds what looks like an announcement and a line break.
    let tricky = b"* 13 FETCH (BODY[] {4}\r\n{2}\n UID 9 BODY[1] {0}\r\n)\r\n";
    let mut stream = Vec::new();
    stream.extend_from_slice(DOVECOT);
    stream.extend_from_slice(b"* 3 EXISTS\r\n");
    stream.extend_from_slice(tricky);
    stream.extend_from_slice(b"a7 OK done\r\n");
    let whole = framed_in_pieces(&stream, stream.len());
    assert_eq!(whole, [DOVECOT.len(), 12, tricky.len(), 12]);
    for cut in 1..stream.len() {
        assert_eq!(framed_in_pieces(&stream, cut), whole, "pieces of {cut}");
    }
}

#[test]
fn an_announcement_too_large_to_arrive_is_never_framed() {
    // The stream's watch refuses such a line before the reader sees more; framing
    // on its own must not wrap the size around and call a short answer whole.
    for line in [
        &b"* 1 FETCH (BODY[] {99999999999999999999999}\r\nhi)\r\n"[..],
        b"* 1 FETCH (BODY[] {18446744073709551615}\r\nhi)\r\n",
    ] {
        let mut framed = 0;
        assert_eq!(frame(line, &mut framed), None);
    }
}

/// A flag imap-proto reads: a system flag, a keyword, `\*`, or one of its leniencies.
fn flag() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\\Seen",
            "\\Answered",
            "\\Flagged",
            "\\Deleted",
            "\\Draft",
            "\\Recent",
            "\\*",
            "$Forwarded",
            "$MDNSent",
            "Junk",
            "NonJunk",
            "$label1",
            "a.b-c_d",
            "\\Extension",
            "OIB-Seen-[Gmail]/All",
        ])
        .prop_map(str::to_owned),
        "[A-Za-z0-9$_.\\-]{1,12}",
        "\\\\[A-Za-z]{1,8}",
    ]
}

/// One item of a FETCH answer, as the server may write it.
fn item() -> impl Strategy<Value = Vec<u8>> {
    let body = prop::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        4 => (any::<u32>(), prop::bool::ANY).prop_map(|(n, lower)| {
            format!("{} {n}", if lower { "uid" } else { "UID" }).into_bytes()
        }),
        4 => prop::collection::vec(flag(), 0..5)
            .prop_map(|flags| format!("FLAGS ({})", flags.join(" ")).into_bytes()),
        4 => body.clone().prop_map(|b| {
            let mut out = format!("BODY[] {{{}}}\r\n", b.len()).into_bytes();
            out.extend_from_slice(&b);
            out
        }),
        1 => "[a-zA-Z0-9 ]{0,20}".prop_map(|t| format!("BODY[] \"{t}\"").into_bytes()),
        1 => Just(b"BODY[] NIL".to_vec()),
        1 => body.prop_map(|b| {
            let mut out = format!("RFC822 {{{}}}\r\n", b.len()).into_bytes();
            out.extend_from_slice(&b);
            out
        }),
        1 => any::<u32>().prop_map(|n| format!("RFC822.SIZE {n}").into_bytes()),
        1 => any::<u32>().prop_map(|n| format!("MODSEQ ({n})").into_bytes()),
        1 => Just(b"INTERNALDATE \"02-Mar-2026 10:00:00 +0000\"".to_vec()),
    ]
}

fn answer() -> impl Strategy<Value = Vec<u8>> {
    (1u32..100_000, prop::collection::vec(item(), 1..5)).prop_map(|(seq, items)| {
        let mut out = format!("* {seq} FETCH (").into_bytes();
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(it);
        }
        out.extend_from_slice(b")\r\n");
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_fast_form_reads_what_imap_proto_reads(a in answer()) {
        let general = general(&a);
        prop_assert!(general.is_ok(), "imap-proto refused {:?}", String::from_utf8_lossy(&a));
        if let Some(f) = fast(&a) {
            prop_assert_eq!(Some(f), general.ok());
        }
    }

    #[test]
    fn an_answer_is_framed_whole_wherever_it_is_cut(a in answer(), cut in 1usize..64) {
        let mut stream = a.clone();
        stream.extend_from_slice(b"a1 OK done\r\n");
        prop_assert_eq!(framed_in_pieces(&stream, cut), vec![a.len(), 12]);
    }

    #[test]
    fn a_number_is_what_str_parse_reads_from_its_digits(text in "[0-9]{0,12}[ )a-z]?") {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let want = (digits <= 10)
            .then(|| text[..digits].parse::<u32>().ok())
            .flatten();
        let mut r = Reader(text.as_bytes());
        prop_assert_eq!(r.number(), want);
        let rest = if want.is_some() { &text[digits..] } else { &text[..] };
        prop_assert_eq!(r.0, rest.as_bytes());
    }

    #[test]
    fn search_numbers_read_what_imap_proto_reads(ids in prop::collection::vec(any::<u32>(), 0..50)) {
        let mut line = b"* SEARCH".to_vec();
        for id in &ids {
            line.extend_from_slice(format!(" {id}").as_bytes());
        }
        line.extend_from_slice(b"\r\n");
        let mut fast = Vec::new();
        prop_assert!(search_numbers(&line[8..], &mut fast));
        let (_, parsed) = imap_proto::parser::parse_response(&line).expect("valid");
        let Response::MailboxData(imap_proto::MailboxDatum::Search(general)) = parsed else {
            panic!("not a search answer");
        };
        prop_assert_eq!(fast, general);
    }
}

#[test]
fn the_fast_form_takes_most_of_what_dovecot_sends() {
    // Dovecot's order for `(UID FLAGS BODY.PEEK[])`, with the flags a mailbox has.
    for flags in ["", "\\Seen", "\\Seen \\Flagged $Forwarded", "\\Recent"] {
        let a = format!("* 7 FETCH (UID 7 FLAGS ({flags}) BODY[] {{3}}\r\nabc)\r\n");
        let f = fast(a.as_bytes()).expect("fast");
        assert_eq!(Some(f), general(a.as_bytes()).ok());
    }
}

/// Reads the answers to `tag` from a server that writes `script` in `pieces` bytes at a
/// time and then closes its side; what came (or the error), and what the stream serves
/// next (nothing of the answer stays).
fn read_answers(
    script: Vec<u8>,
    pieces: usize,
    tag: &str,
) -> (Result<Vec<Fetched>, String>, Vec<u8>) {
    read_with(script, pieces, tag, false)
}

/// As [`read_answers`], or with `expunge`, the count of `EXPUNGE` answers (as that many
/// empty answers, to share the plumbing).
fn read_with(
    script: Vec<u8>,
    pieces: usize,
    tag: &str,
    expunge: bool,
) -> (Result<Vec<Fetched>, String>, Vec<u8>) {
    use std::io::Write as _;
    use tokio::io::AsyncReadExt as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            for piece in script.chunks(pieces) {
                s.write_all(piece).expect("write");
                s.flush().expect("flush");
            }
            s.shutdown(std::net::Shutdown::Write).expect("shutdown");
            // Kept until the client has read the rest.
            let _ = std::io::Read::read(&mut s, &mut [0u8; 1]);
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let watch = std::sync::Arc::new(crate::transport::watch::Watch::default());
        let mut stream = Stream::imap_for_test(tcp, watch);
        let mut got = Ok(Vec::new());
        if expunge {
            got = Answers::new(&mut stream, tag)
                .expunged()
                .await
                .map(|n| vec![Fetched::default(); n])
                .map_err(|e| e.to_string());
        } else {
            let mut answers = Answers::new(&mut stream, tag);
            loop {
                match answers.next().await {
                    Ok(Some(f)) => got.as_mut().expect("ok so far").push(f),
                    Ok(None) => break,
                    Err(e) => {
                        got = Err(e.to_string());
                        break;
                    }
                }
            }
        }
        let mut rest = vec![0u8; 64];
        let n = stream.read(&mut rest).await.expect("the rest");
        rest.truncate(n);
        drop(stream);
        server.join().expect("server");
        (got, rest)
    })
}

#[test]
fn answers_are_read_to_their_completion_and_no_further() {
    // A message larger than the buffer, the usual one, a form for the general parser,
    // untagged answers and another tag's completion passed over, then what follows
    // the completion, which the stream keeps for whoever reads next.
    let big: Vec<u8> = (0..700_000u32)
        .map(|i| b"abcdefghij\r\n"[(i % 12) as usize])
        .collect();
    let mut script = format!(
        "* 1 FETCH (UID 10 FLAGS (\\Seen) BODY[] {{{}}}\r\n",
        big.len()
    )
    .into_bytes();
    script.extend_from_slice(&big);
    script.extend_from_slice(b")\r\n* 5 EXISTS\r\n");
    script.extend_from_slice(DOVECOT);
    script.extend_from_slice(b"* 2 fetch (uid 11 body[] \"hi\")\r\n+ go on\r\nz9 OK not ours\r\n");
    script.extend_from_slice(b"A0007 OK Fetch completed.\r\n* 6 EXISTS\r\n");
    for pieces in [script.len(), 4096, 1000] {
        let (got, rest) = read_answers(script.clone(), pieces, "A0007");
        let got = got.expect("answers");
        let uids: Vec<_> = got.iter().map(|f| f.uid).collect();
        assert_eq!(uids, [Some(10), Some(4711), Some(11)], "pieces of {pieces}");
        assert_eq!(got[0].body.as_deref(), Some(big.as_slice()));
        assert_eq!(got[0].flags, ["\\Seen"]);
        assert_eq!(got[2].body.as_deref(), Some(&b"hi"[..]));
        assert_eq!(rest, b"* 6 EXISTS\r\n", "pieces of {pieces}");
    }
}

#[test]
fn a_connection_that_ends_mid_answer_is_an_error_and_between_answers_an_end() {
    let (got, _) = read_answers(DOVECOT.to_vec(), 100, "A1");
    assert_eq!(
        got.expect("no error").len(),
        1,
        "ended quietly after a whole answer, as async-imap ends"
    );
    let cut = DOVECOT[..DOVECOT.len() - 5].to_vec();
    let (got, _) = read_answers(cut, 100, "A1");
    assert!(got.is_err(), "an answer cut off is an error: {got:?}");
}

#[test]
fn expunge_answers_are_counted_in_either_form_to_the_completion() {
    // GNU imap4d 3.15 writes `EXPUNGED`; async-imap stopped there, mid-answer.
    let script =
        b"* 2 EXPUNGED\r\n* 2 EXPUNGE\r\n* 1 EXISTS\r\nA9 OK EXPUNGE Completed\r\n* 1 RECENT\r\n";
    let (got, rest) = read_with(script.to_vec(), 7, "A9", true);
    assert_eq!(got.expect("counted").len(), 2);
    assert_eq!(rest, b"* 1 RECENT\r\n");
    let (got, _) = read_with(b"* 2 EXPUNGED\r\n".to_vec(), 7, "A9", true);
    assert!(got.is_err(), "no completion: the connection ended first");
}
