//! Tests of `fields.rs`: RFC 5322's examples and the corpus's misreadings for the
//! general readers, and the fast readers (`fields_fast.rs`) checked against them. One
//! file because they are one concern: each fast-reader property test needs the general
//! reader it is compared with, and the general readers' cases are what it must agree on.

use super::*;

fn pairs(value: &str) -> Vec<(Option<String>, Option<String>)> {
    pairs_of(addresses(value))
}

fn p(name: Option<&str>, address: Option<&str>) -> (Option<String>, Option<String>) {
    (name.map(str::to_owned), address.map(str::to_owned))
}

#[test]
fn rfc5322_appendix_a_addresses() {
    // A.1.2: groups, a quoted name, a plain address.
    assert_eq!(
        pairs(r#""Joe Q. Public" <john.q.public@example.com>"#),
        vec![p(Some("Joe Q. Public"), Some("john.q.public@example.com"))]
    );
    assert_eq!(
        pairs("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"),
        vec![
            p(Some("Mary Smith"), Some("mary@x.test")),
            p(None, Some("jdoe@example.org")),
            p(Some("Who?"), Some("one@y.test")),
        ]
    );
    assert_eq!(
        pairs(r#"<boss@nil.test>, "Giant; \"Big\" Box" <sysservices@example.net>"#),
        vec![
            p(None, Some("boss@nil.test")),
            p(Some(r#"Giant; "Big" Box"#), Some("sysservices@example.net")),
        ]
    );
    assert_eq!(
        pairs("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
        vec![
            p(Some("Ed Jones"), Some("c@a.test")),
            p(None, Some("joe@where.test")),
            p(Some("John"), Some("jdoe@one.test")),
        ]
    );
    assert_eq!(pairs("Undisclosed recipients:;"), vec![]);
    // A.5: comments and white space everywhere.
    assert_eq!(
        pairs(r"Pete(A nice \) chap) <pete(his account)@silly.test(his host)>"),
        vec![p(Some("Pete"), Some("pete@silly.test"))]
    );
    assert_eq!(
        pairs(
            "A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)"
        ),
        vec![
            p(Some("Chris Jones"), Some("c@public.example")),
            p(None, Some("joe@example.org")),
            p(Some("John"), Some("jdoe@one.test")),
        ]
    );
    assert_eq!(
        pairs("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;"),
        vec![]
    );
    // A.6.1: an obsolete source route and spaces around the dots.
    assert_eq!(
        pairs("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example"),
        vec![
            p(Some("Mary Smith"), Some("mary@example.net")),
            p(None, Some("jdoe@test.example")),
        ]
    );
    // A.6.3: a comment inside the domain.
    assert_eq!(
        pairs("John Doe <jdoe@machine(comment).  example>"),
        vec![p(Some("John Doe"), Some("jdoe@machine.example"))]
    );
}

#[test]
fn real_world_address_forms() {
    // The RFC 822 custom: the name as a comment after the address.
    assert_eq!(
        pairs("deuschle@mnh.telekom.de (Guenter Deuschle)"),
        vec![p(Some("Guenter Deuschle"), Some("deuschle@mnh.telekom.de"))]
    );
    // Bare words, alone and in a list.
    assert_eq!(pairs("MAILER-DAEMON"), vec![p(None, Some("MAILER-DAEMON"))]);
    assert_eq!(
        pairs("a@x.test, b@x.test, eryq"),
        vec![
            p(None, Some("a@x.test")),
            p(None, Some("b@x.test")),
            p(None, Some("eryq")),
        ]
    );
    // A quoted local part keeps its quotes when it needs them, and only then.
    assert_eq!(
        pairs(r#""Big Bug bb"@bug.com"#),
        vec![p(None, Some(r#""Big Bug bb"@bug.com"#))]
    );
    assert_eq!(pairs(r#""joe"@x.test"#), vec![p(None, Some("joe@x.test"))]);
    // Encoded words: adjacent ones joined, others spaced; inside quotes too.
    assert_eq!(
        pairs("=?utf-8?Q?J=C3=B6rg?= =?utf-8?Q?_M=C3=BCller?= <j@x.test>"),
        vec![p(Some("Jörg Müller"), Some("j@x.test"))]
    );
    assert_eq!(
        pairs(r#""=?iso-8859-1?Q?Andr=E9?= Pirard" <pirard@x.test>"#),
        vec![p(Some("André Pirard"), Some("pirard@x.test"))]
    );
    // A name with no address, and the null address.
    assert_eq!(
        pairs("no To-header on input <>"),
        vec![p(Some("no To-header on input"), None)]
    );
    // UTF-8 in the header itself (RFC 6532).
    assert_eq!(
        pairs("Jöhn Doe <jdöe@mächine.example>"),
        vec![p(Some("Jöhn Doe"), Some("jdöe@mächine.example"))]
    );
    assert_eq!(pairs(""), vec![]);
    assert_eq!(pairs(" , ,"), vec![]);
}

#[test]
fn hostile_address_values_end_quickly_and_lose_nothing_they_hold() {
    let deep = format!("{}x{} <a@b.test>", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(pairs(&deep), vec![p(None, Some("a@b.test"))]);
    let unterminated = r#""never closed <a@b.test>"#;
    assert_eq!(
        pairs(unterminated),
        vec![p(Some("never closed <a@b.test>"), None)]
    );
    let many = "a@b.test,".repeat(50_000);
    assert_eq!(addresses(&many).len(), 50_000);
    // A megabyte of colons after an `@` (each colon once looked back over the whole
    // mailbox: quadratic), and of angle brackets and dots.
    for hostile in [
        "@:".repeat(500_000),
        "<".repeat(1_000_000),
        ".".repeat(1_000_000),
    ] {
        let _ = addresses(&hostile);
        let _ = ids(&hostile);
        let _ = date(&hostile);
    }
}

#[test]
fn identifiers() {
    assert_eq!(ids("<a@b>"), vec!["<a@b>"]);
    assert_eq!(
        ids(" <a@b> (comment) <c@d>\r\n <e@f>"),
        vec!["<a@b>", "<c@d>", "<e@f>"]
    );
    assert_eq!(ids("bare@id"), vec!["<bare@id>"]);
    assert_eq!(ids("<broken <ok@x>"), vec!["<ok@x>"]);
    assert_eq!(ids("<a b@c>"), vec!["<ab@c>"]);
    assert_eq!(ids("< >"), Vec::<String>::new());
    assert_eq!(ids("two words"), Vec::<String>::new());
    assert_eq!(ids(""), Vec::<String>::new());
}

fn utc(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
    days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
}

#[test]
fn dates_current_and_obsolete() {
    let cases: &[(&str, Option<i64>)] = &[
        (
            "Fri, 21 Nov 1997 09:55:06 -0600",
            Some(utc(1997, 11, 21, 15, 55, 6)),
        ),
        (
            "21 Nov 1997 09:55:06 +0100",
            Some(utc(1997, 11, 21, 8, 55, 6)),
        ),
        // Obsolete: two- and three-digit years, named and missing zones, no seconds.
        (
            "Wed, 20 Dec 95 19:59 CST",
            Some(utc(1995, 12, 21, 1, 59, 0)),
        ),
        ("Thu, 1 Jan 49 00:00 GMT", Some(utc(2049, 1, 1, 0, 0, 0))),
        ("Sat, 1 Jan 50 00:00 GMT", Some(utc(1950, 1, 1, 0, 0, 0))),
        ("Mon, 1 Jan 101 00:00 UT", Some(utc(2001, 1, 1, 0, 0, 0))),
        (
            "Thu, 8 Mar 2005 17:40:36 EDT",
            Some(utc(2005, 3, 8, 21, 40, 36)),
        ),
        (
            "Wed, 15 Feb 1995 09:38:18",
            Some(utc(1995, 2, 15, 9, 38, 18)),
        ),
        (
            "Mon, 21 Aug 95 13:30:57 -600",
            Some(utc(1995, 8, 21, 19, 30, 57)),
        ),
        // A comment before the zone, comments and spaces inside the time.
        (
            "Wed, 20 Sep 1995 00:19:00 (EDT) -0400",
            Some(utc(1995, 9, 20, 4, 19, 0)),
        ),
        (
            "Fri, 21 Nov 1997 09(comment):   55  :  06 -0600",
            Some(utc(1997, 11, 21, 15, 55, 6)),
        ),
        // Military zones are -0000 (RFC 5322 section 4.3).
        (
            "Fri, 21 Nov 1997 09:55:06 Q",
            Some(utc(1997, 11, 21, 9, 55, 6)),
        ),
        // asctime order.
        (
            "Wed Feb 15 09:38:18 1995",
            Some(utc(1995, 2, 15, 9, 38, 18)),
        ),
        // Not dates.
        ("Wed, 15 Dec 2010    59:10 -0500", None),
        ("Malformed Date.", None),
        ("", None),
        ("1 Foo 2020 10:00 +0000", None),
        ("32 Jan 2020 10:00 +0000", None),
    ];
    for (text, want) in cases {
        assert_eq!(date(text), *want, "{text}");
    }
}

#[test]
fn every_zone_rfc_5322_names_and_only_well_formed_offsets() {
    // RFC 5322 section 4.3: the eight US zones, UT and GMT, military letters (-0000).
    for (name, hours) in [
        ("ut", 0),
        ("utc", 0),
        ("gmt", 0),
        ("z", 0),
        ("est", -5),
        ("edt", -4),
        ("cst", -6),
        ("cdt", -5),
        ("mst", -7),
        ("mdt", -6),
        ("pst", -8),
        ("pdt", -7),
        ("a", 0),
        ("y", 0),
    ] {
        assert_eq!(named_zone(name), Some(hours * 3600), "{name}");
    }
    for not in ["j", "cet", "", "aa"] {
        assert_eq!(named_zone(not), None, "{not}");
    }
    assert_eq!(offset("+0130"), Some(5400));
    assert_eq!(offset("-600"), Some(-21_600));
    // Too short or too long, a letter among the digits, minutes past 59.
    for bad in ["+12", "+12345", "+1a30", "-0160"] {
        assert_eq!(offset(bad), None, "{bad}");
    }
}

#[test]
fn obsolete_phrases_keep_their_dots_and_at_signs() {
    assert_eq!(
        pairs("Joe Q. Public <john.q.public@example.com>"),
        vec![p(Some("Joe Q. Public"), Some("john.q.public@example.com"))]
    );
    assert_eq!(
        pairs("MySurvey.com & Carol <c@x.test>"),
        vec![p(Some("MySurvey.com & Carol"), Some("c@x.test"))]
    );
    assert_eq!(
        pairs("Mikel@Lindsaar <raasdnil@gmail.com>"),
        vec![p(Some("Mikel@Lindsaar"), Some("raasdnil@gmail.com"))]
    );
    assert_eq!(
        ids("<1234   @   local(blah)  .machine .example>"),
        vec!["<1234@local.machine.example>"]
    );
}

#[test]
fn words_without_brackets_are_split_into_names_and_addresses() {
    assert_eq!(
        pairs("tim@powerupdev.com concierge@powerupdev.com"),
        vec![
            p(None, Some("tim@powerupdev.com")),
            p(None, Some("concierge@powerupdev.com")),
        ]
    );
    assert_eq!(
        pairs("Big Bug bb@bug.com"),
        vec![p(Some("Big Bug"), Some("bb@bug.com"))]
    );
}

#[test]
fn junk_inside_brackets_is_no_address() {
    // Ruby mail's error_emails_missing_body: a group written inside angle brackets.
    assert_eq!(pairs("<Undisclosed-Recipient:@mailman.enron.com;>"), vec![]);
    assert_eq!(pairs("<@only.route>"), vec![]);
}

/// The tokenizer as it was before it borrowed from the value: a character at a time,
/// every token its own string. The borrowing one must cut every value the same way.
fn tokens_by_chars(value: &str) -> Vec<Token<'static>> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    let owned = |s: String| Cow::Owned(s);
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                out.push(Token::Space);
            }
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => s.extend(chars.next()),
                        '"' => break,
                        '\r' | '\n' => {}
                        c => s.push(c),
                    }
                }
                out.push(Token::Quoted(owned(s)));
            }
            '(' => {
                let (mut s, mut depth) = (String::new(), 1usize);
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => s.extend(chars.next()),
                        '(' => {
                            depth += 1;
                            s.push(c);
                        }
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            s.push(c);
                        }
                        c => s.push(c),
                    }
                }
                out.push(Token::Comment(owned(s.trim().to_owned())));
            }
            '[' => {
                let mut s = String::from('[');
                for c in chars.by_ref() {
                    if !c.is_whitespace() {
                        s.push(c);
                    }
                    if c == ']' {
                        break;
                    }
                }
                out.push(Token::Literal(owned(s)));
            }
            '<' | '>' | '@' | ',' | ';' | ':' | '.' => out.push(Token::Special(c)),
            c => {
                let mut s = String::from(c);
                while let Some(c) = chars.next_if(|c| !ends_atom(*c)) {
                    s.push(c);
                }
                out.push(Token::Atom(owned(s)));
            }
        }
    }
    out
}

#[test]
fn tokens_borrow_what_needs_no_unescaping() {
    let ts = tokens(r#"Pete(A \) chap) "q\"x" [1. 2] <a@b>"#);
    assert_eq!(
        ts,
        tokens_by_chars(r#"Pete(A \) chap) "q\"x" [1. 2] <a@b>"#)
    );
    assert!(matches!(&ts[0], Token::Atom(Cow::Borrowed("Pete"))));
    assert!(matches!(&ts[1], Token::Comment(Cow::Owned(c)) if c == "A ) chap"));
    let plain = tokens(r#""plain" (comment) [literal]"#);
    assert!(
        plain.iter().all(|t| !matches!(
            t,
            Token::Quoted(Cow::Owned(_))
                | Token::Comment(Cow::Owned(_))
                | Token::Literal(Cow::Owned(_))
        )),
        "{plain:?}"
    );
}

proptest::proptest! {
    #[test]
    fn tokens_cut_any_value_as_the_character_reading_does(
        value in "[a-z \\t\\r\\n\u{a0}é\"\\\\()\\[\\]<>@,;:.]{0,40}"
    ) {
        proptest::prop_assert_eq!(tokens(&value), tokens_by_chars(&value));
    }
}

fn pairs_of(list: Vec<AddressRecord<'_>>) -> Vec<(Option<String>, Option<String>)> {
    let owned = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
    list.into_iter()
        .map(|a| (owned(a.name), owned(a.address)))
        .collect()
}

#[test]
fn the_common_forms_take_the_fast_path() {
    // Not vacuous: the forms nearly every message has are read by it, and right.
    let quick = |v: &str| fast::addresses(v).map(pairs_of);
    assert_eq!(
        quick("Sender 7 <sender7@example.test>"),
        Some(vec![p(Some("Sender 7"), Some("sender7@example.test"))])
    );
    assert_eq!(
        quick("a@x.test, \"Doe, Jane\"  <jane@y.test>"),
        None,
        "a quoted name in a list is the general reader's"
    );
    assert_eq!(
        quick(r#""Doe, Jane" <jane@y.test>"#),
        Some(vec![p(Some("Doe, Jane"), Some("jane@y.test"))])
    );
    assert_eq!(
        quick("reader@example.test, <b@x.test> ,, c.d@e"),
        Some(vec![
            p(None, Some("reader@example.test")),
            p(None, Some("b@x.test")),
            p(None, Some("c.d@e")),
        ])
    );
    for general in [
        "=?utf-8?q?J=C3=B6rg?= <j@x.test>",
        "Jörg <j@x.test>",
        "Pete(A chap) <pete@silly.test>",
        "A Group:a@x.test;",
        "J. Doe <j@x.test>",
        "a@b@c",
        "MAILER-DAEMON",
    ] {
        assert_eq!(quick(general), None, "{general}");
    }
    assert_eq!(
        fast::date("Mon, 02 Mar 2026 10:00:00 +0000"),
        Some(date_by_tokens("Mon, 02 Mar 2026 10:00:00 +0000"))
    );
    assert_eq!(
        fast::date("2 mar 2026 23:59:60 -0130"),
        Some(date_by_tokens("2 mar 2026 23:59:60 -0130"))
    );
    assert!(fast::date("Mon, 02 Mar 2026 10:00:00 +0000").is_some_and(|d| d.is_some()));
    for general in [
        "Mon, 02 Mar 2026 10:00 +0000",
        "Mon, 02 Mar 2026 10:00:00 +0000 (UTC)",
        "Mon, 02 Mar 26 10:00:00 GMT",
        "Wed Feb 15 09:38:18 1995",
        "Jan, 02 Mar 2026 10:00:00 +0000",
    ] {
        assert_eq!(fast::date(general), None, "{general}");
    }
}

/// A value made of pieces that each matter to one of the readers.
fn address_value() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        Just("a"),
        Just("Sender"),
        Just("7"),
        Just("b.c"),
        Just("example.test"),
        Just("Who?"),
        Just("!#'"),
        Just("="),
        Just("=?"),
        Just("?="),
        Just("@"),
        Just("<"),
        Just(">"),
        Just(" "),
        Just("  "),
        Just(","),
        Just("\""),
        Just("."),
        Just(".."),
        Just("("),
        Just(")"),
        Just(":"),
        Just(";"),
        Just("\\"),
        Just("\t"),
        Just("é"),
        Just("[1.2.3.4]"),
    ];
    // Mostly what the fast reader takes, with one piece of anything now and then.
    let likely = prop_oneof![
        4 => prop_oneof![Just("a"), Just("Sender"), Just("7"), Just("b.c"), Just("x-y"), Just("!#'"), Just(" ")],
        1 => piece.clone(),
    ];
    let shaped = (
        prop::collection::vec(likely.clone(), 0..4),
        prop::bool::ANY,
        prop::collection::vec(likely.clone(), 1..3),
        prop::collection::vec(likely, 1..3),
    )
        .prop_map(|(name, quoted, local, domain)| {
            let name = name.concat();
            let name = if quoted { format!("\"{name}\"") } else { name };
            format!("{name} <{}@{}>", local.concat(), domain.concat())
        });
    prop_oneof![
        prop::collection::vec(piece, 0..14).prop_map(|p| p.concat()),
        prop::collection::vec(shaped, 1..3).prop_map(|m| m.join(", ")),
    ]
}

/// A date of the section 3.3 form, mostly well made, with any part off now and then:
/// out of range, misspelled, shorter or longer.
fn date_value() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    // The usual choice three times in four, any of the others otherwise.
    fn usually<T: Clone + std::fmt::Debug + 'static>(
        usual: T,
        others: &[T],
    ) -> impl Strategy<Value = T> {
        prop_oneof![3 => Just(usual), 1 => proptest::sample::select(others.to_vec())]
    }
    (
        usually("Mon, ", &["", "sun, ", "Jan, ", "Foo, ", "Mon ", "Mon,"]),
        (0u32..40, usually(2usize, &[1, 3])),
        usually("Mar", &["mar", "DEC", "Foo", "Ma"]),
        (0u32..10_000, usually(false, &[true])),
        (0u32..30, 0u32..70, 0u32..70),
        usually("+", &["-", ""]),
        (0u32..10_000, usually(4usize, &[3, 5])),
        usually("", &[" (UTC)", " GMT", " "]),
    )
        .prop_map(
            |(wd, (day, dw), month, (year, short_year), (h, m, s), sign, (zone, zw), tail)| {
                let year = if short_year {
                    format!("{:02}", year % 100)
                } else {
                    format!("{year:04}")
                };
                format!(
                    "{wd}{day:0dw$} {month} {year} {h:02}:{m:02}:{s:02} {sign}{zone:0zw$}{tail}"
                )
            },
        )
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2048))]

    #[test]
    fn the_fast_address_reader_agrees_with_the_general_one(value in address_value()) {
        if let Some(quick) = fast::addresses(&value) {
            proptest::prop_assert_eq!(pairs_of(quick), pairs_of(addresses_by_tokens(&value)));
        }
    }

    #[test]
    fn the_fast_date_reader_agrees_with_the_general_one(value in date_value()) {
        if let Some(quick) = fast::date(&value) {
            proptest::prop_assert_eq!(quick, date_by_tokens(&value));
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2048))]

    /// Text taken as it is (no comment, no escape) is what stripping comments gives.
    #[test]
    fn comments_are_stripped_the_same_with_or_without_the_shortcut(
        value in "[<>@a-z \"()\\\\.\t]{0,40}"
    ) {
        proptest::prop_assert_eq!(without_comments(&value).into_owned(), strip_comments(&value));
    }
}
