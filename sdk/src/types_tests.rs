//! Tests of `types.rs`: each type's parsing, printing, JSON forms, limits and schema.
use super::*;

#[test]
fn durations_parse_and_print() {
    for (text, millis) in [
        ("30s", 30_000),
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("2d", 172_800_000),
        ("250ms", 250),
        ("45", 45_000),
        (" 1s ", 1_000),
    ] {
        let d: Duration = text.parse().expect(text);
        assert_eq!(d.as_millis(), millis, "{text}");
    }
    for bad in [
        "",
        "s",
        "5x",
        "1.5s",
        "-3s",
        "99999999999999999999d",
        "1h 30m",
    ] {
        assert!(bad.parse::<Duration>().is_err(), "{bad}");
    }
    assert_eq!(
        Duration::from(std::time::Duration::from_millis(1500)).to_string(),
        "1500ms"
    );
}

#[test]
fn urls_keep_their_text_and_find_their_host() {
    let u: Url = "HTTPS://User@Example.com:8443/a?b#c".parse().expect("url");
    assert_eq!(u.scheme(), "https");
    assert_eq!(u.host(), Some("Example.com"));
    assert_eq!(u.as_str(), "https://User@Example.com:8443/a?b#c");
    assert!("mailto:a@b.c".parse::<Url>().is_ok());
    assert!("/relative".parse::<Url>().is_err());
    assert!("http://exa mple.com".parse::<Url>().is_err());
    // Only http and https need a host; other schemes may have none.
    assert!("https:///path".parse::<Url>().is_err());
    assert!("http://".parse::<Url>().is_err());
    let file: Url = "file:///etc/hosts".parse().expect("file URL");
    assert_eq!((file.scheme(), file.host()), ("file", None));
    assert_eq!(
        format!("{u:?}"),
        "Url(\"https://User@Example.com:8443/a?b#c\")"
    );
    assert_eq!(u.to_string(), u.as_str());
}

/// Each type's schema, as the manifest shows it: inlined (never a `$ref`), under
/// the type's own name, and exactly this.
#[test]
fn each_type_has_its_schema_inlined_under_its_own_name() {
    fn schema_of<T: JsonSchema>() -> (String, bool, serde_json::Value) {
        let mut generator = SchemaGenerator::default();
        (
            T::schema_name().into_owned(),
            T::inline_schema(),
            T::json_schema(&mut generator).to_value(),
        )
    }
    let (name, inline, schema) = schema_of::<Url>();
    assert_eq!((name.as_str(), inline), ("Url", true));
    assert_eq!(schema["format"], "uri");
    assert_eq!(schema["type"], "string");
    let (name, inline, schema) = schema_of::<Duration>();
    assert_eq!((name.as_str(), inline), ("Duration", true));
    assert_eq!(
        schema["anyOf"][1],
        serde_json::json!({"type": "integer", "minimum": 0})
    );
    let pattern = schema["anyOf"][0]["pattern"].as_str().expect("pattern");
    assert_eq!(pattern, "^\\s*([0-9]+(ms|s|m|h|d))+\\s*$");
    let (name, inline, schema) = schema_of::<EmailAddress>();
    assert_eq!((name.as_str(), inline), ("EmailAddress", true));
    assert_eq!(
        (schema["format"].as_str(), schema["maxLength"].as_u64()),
        (Some("email"), Some(254))
    );
    let (name, inline, schema) = schema_of::<NonEmptyString>();
    assert_eq!((name.as_str(), inline), ("NonEmptyString", true));
    assert_eq!(
        schema,
        serde_json::json!({"type": "string", "minLength": 1, "pattern": "\\S"})
    );
    let (name, inline, schema) = schema_of::<Port>();
    assert_eq!((name.as_str(), inline), ("Port", true));
    assert_eq!(
        schema,
        serde_json::json!({"type": "integer", "minimum": 1, "maximum": 65535})
    );
}

#[test]
fn durations_convert_and_go_through_json_either_way() {
    let d = Duration::from(std::time::Duration::from_secs(90));
    assert_eq!(d.get(), std::time::Duration::from_secs(90));
    assert_eq!(
        std::time::Duration::from(d),
        std::time::Duration::from_secs(90)
    );
    assert_eq!(d.as_secs(), 90); // through Deref
    assert_eq!(d.to_string(), "90s");
    assert_eq!(Duration::default().to_string(), "0s");
    // Written as its text; read from a number of seconds or a text.
    assert_eq!(
        serde_json::to_value(d).expect("json"),
        serde_json::json!("90s")
    );
    let read = |v: serde_json::Value| serde_json::from_value::<Duration>(v);
    assert_eq!(read(serde_json::json!(45)).expect("u64").as_secs(), 45);
    assert_eq!(read(serde_json::json!("1m30s")).expect("str"), d);
    assert_eq!(
        read(serde_json::json!(" 250ms")).expect("str").as_millis(),
        250
    );
    let negative = read(serde_json::json!(-3)).expect_err("negative");
    assert!(
        negative.to_string().contains("cannot be negative"),
        "{negative}"
    );
    let wrong = read(serde_json::json!(true)).expect_err("a bool");
    assert!(
        wrong.to_string().contains("a duration like \"30s\""),
        "{wrong}"
    );
    // Units add up, each as itself; too long a text is refused.
    for (text, millis) in [
        ("1d1h1m1s1ms", 90_061_001u128),
        ("2s", 2_000),
        ("3m", 180_000),
        ("4h", 14_400_000),
    ] {
        assert_eq!(
            text.parse::<Duration>().expect(text).as_millis(),
            millis,
            "{text}"
        );
    }
    assert!("1s".repeat(33).parse::<Duration>().is_err());
    assert!("1s".repeat(32).parse::<Duration>().is_ok());
    assert!("7".parse::<Duration>().is_ok_and(|d| d.as_secs() == 7));
    for bad in ["s5", "5 s", "18446744073709551615d", "5y"] {
        let e = bad.parse::<Duration>().expect_err(bad);
        assert!(e.contains(&format!("`{bad}`")), "{e}");
    }
}

#[test]
fn email_addresses_are_checked_and_keep_their_text() {
    let a: EmailAddress = "ops@mail.example.com".parse().expect("address");
    assert_eq!(a.as_str(), "ops@mail.example.com");
    assert_eq!(a.domain(), "mail.example.com");
    assert_eq!(a.to_string(), "ops@mail.example.com");
    assert_eq!(
        serde_json::to_value(&a).expect("json"),
        serde_json::json!("ops@mail.example.com")
    );
    let long = format!("{}@example.com", "a".repeat(254 - 12));
    assert_eq!(long.len(), 254);
    // 254 is RFC 5321's longest path; one more is refused, even if well formed.
    let too_long = format!("{}@example.com", "a".repeat(255 - 12));
    for bad in [
        "",
        "ops",
        "ops@",
        "@example.com",
        "ops at example.com",
        too_long.as_str(),
    ] {
        assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?}");
    }
    let local = format!("{}@example.com", "a".repeat(64));
    assert!(local.parse::<EmailAddress>().is_ok());
    // The longest address RFC 5321 allows (64 + 1 + 189 = 254) is taken; one more
    // character in the domain is refused.
    let domain = format!("{}.{}.{}", "b".repeat(63), "c".repeat(63), "d".repeat(61));
    let longest = format!("{}@{domain}", "a".repeat(64));
    assert_eq!(longest.len(), 254);
    assert!(longest.parse::<EmailAddress>().is_ok(), "{longest}");
    let over = format!("{}@{domain}e", "a".repeat(64));
    assert!(over.parse::<EmailAddress>().is_err(), "{over}");
    let e = serde_json::from_value::<EmailAddress>(serde_json::json!(7)).expect_err("number");
    assert!(e.to_string().contains("an email address like"), "{e}");
}

#[test]
fn non_empty_strings_refuse_blank_text() {
    let s: NonEmptyString = " invoices ".parse().expect("text");
    assert_eq!(s.as_str(), " invoices ");
    assert_eq!(&*s, " invoices ");
    assert_eq!(s.len(), 10); // through Deref to str
    for bad in ["", " ", "\t\n"] {
        let e = bad.parse::<NonEmptyString>().expect_err(bad);
        assert!(e.contains("must not be empty"), "{e}");
    }
    assert_eq!(
        serde_json::from_value::<NonEmptyString>(serde_json::json!("x")).expect("json"),
        "x".parse::<NonEmptyString>().expect("x")
    );
}

#[test]
fn ports_are_one_to_65535() {
    let p = Port::try_from(993).expect("port");
    assert_eq!(p.get(), 993);
    assert_eq!(p.to_string(), "993");
    assert_eq!(
        serde_json::to_value(p).expect("json"),
        serde_json::json!(993)
    );
    assert!(Port::try_from(0).is_err());
    assert_eq!(Port::try_from(65535).map(Port::get), Ok(65535));
    let read = |v: serde_json::Value| serde_json::from_value::<Port>(v);
    assert_eq!(read(serde_json::json!(1)).map(Port::get).ok(), Some(1));
    for bad in [
        serde_json::json!(0),
        serde_json::json!(65536),
        serde_json::json!(-1),
    ] {
        assert!(read(bad.clone()).is_err(), "{bad}");
    }
    let e = read(serde_json::json!(70000)).expect_err("too big");
    assert!(e.to_string().contains("from 1 to 65535"), "{e}");
}
