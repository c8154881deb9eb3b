//! The line serializer against serde_json itself: the same bytes for any value, and
//! serde_json's own output or error where it gives up.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::to_line;

fn both<T: Serialize + ?Sized>(value: &T) -> (Result<Vec<u8>, String>, Result<Vec<u8>, String>) {
    let mut ours = b"kept ".to_vec();
    let ours = to_line(&mut ours, value)
        .map(|()| ours)
        .map_err(|e| e.to_string());
    let theirs = serde_json::to_vec(value)
        .map(|v| [b"kept ".as_slice(), &v].concat())
        .map_err(|e| e.to_string());
    (ours, theirs)
}

fn same<T: Serialize + ?Sized>(value: &T) {
    let (ours, theirs) = both(value);
    assert_eq!(
        ours.as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned()),
        theirs
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    );
}

#[test]
fn every_escape_is_written_as_serde_json_writes_it() {
    let every_control: String = (0u8..0x20).map(char::from).collect();
    for s in [
        "",
        "plain",
        "\"quoted\" and \\back\\slashed\\",
        every_control.as_str(),
        "a line\nand another\r\n\ttabbed",
        "\u{7f} is not escaped, nor é, 漢字 or 🦀",
        "eight!!!\"eight!!!\\eight!!!\n",
        "seven!\"",
        "x\u{1}",
    ] {
        same(s);
        same(&s.repeat(9));
    }
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Newtype(String);

#[derive(Serialize)]
struct Pair(u8, &'static str);

#[derive(Serialize)]
enum Kinds {
    Unit,
    Newtype(Option<i64>),
    Tuple(u8, char),
    Struct { a: f32, b: Vec<u8> },
}

#[derive(Serialize)]
struct Everything {
    yes: bool,
    small: i8,
    big: u128,
    negative: i128,
    float: f64,
    not_a_number: f64,
    infinite: f32,
    letter: char,
    missing: Option<String>,
    unit: (),
    unit_struct: Unit,
    newtype: Newtype,
    pair: Pair,
    kinds: Vec<Kinds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<u8>,
    numbered: BTreeMap<u32, &'static str>,
    signed_keys: BTreeMap<i64, ()>,
    char_keys: BTreeMap<char, u8>,
    #[serde(flatten)]
    flattened: BTreeMap<String, Value>,
}

struct Bytes(&'static [u8]);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

#[test]
fn every_kind_of_value_is_written_as_serde_json_writes_it() {
    same(&Everything {
        yes: true,
        small: -128,
        big: u128::MAX,
        negative: i128::MIN,
        float: 0.1 + 0.2,
        not_a_number: f64::NAN,
        infinite: f32::INFINITY,
        letter: '"',
        missing: None,
        unit: (),
        unit_struct: Unit,
        newtype: Newtype("in\tside".into()),
        pair: Pair(7, "seven"),
        kinds: vec![
            Kinds::Unit,
            Kinds::Newtype(Some(-3)),
            Kinds::Newtype(None),
            Kinds::Tuple(1, '\n'),
            Kinds::Struct {
                a: 1.5e-7,
                b: vec![],
            },
        ],
        skipped: None,
        numbered: [(1, "one"), (20, "twenty")].into(),
        signed_keys: [(-5, ())].into(),
        char_keys: [('k', 1)].into(),
        flattened: [(
            "extra".to_owned(),
            serde_json::json!({"deep": [1, "two", null]}),
        )]
        .into(),
    });
    same(&Bytes(b"\x00\x01\xff"));
    same(&Bytes(b""));
    same(&(1u8, "two", [3.5f64]));
    same(&Vec::<u8>::new());
    same(&BTreeMap::<String, u8>::new());
}

#[test]
fn what_it_does_not_take_on_is_serde_json_s_own_output_or_error() {
    // A raw value is written verbatim.
    let raw = serde_json::value::RawValue::from_string("{\"a\":  [1 ,2]}".into()).expect("raw");
    same(&BTreeMap::from([("raw", raw)]));
    // Keys serde_json writes or refuses: the same either way.
    same(&BTreeMap::from([(true, 1)]));
    same(&BTreeMap::from([((1, 2), 1)]));
    same(&BTreeMap::from([(Some(1), 1)]));
    let (ours, _) = both(&BTreeMap::from([((1, 2), 1)]));
    assert!(ours.is_err(), "a tuple key is refused");
    // Nothing of a refused value is left behind.
    let mut out = b"before".to_vec();
    assert!(to_line(&mut out, &BTreeMap::from([(vec![1], 1)])).is_err());
    assert_eq!(out, b"before");
}

fn value() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\"\\\\a-z é\u{7f}\u{2028}🦀]{0,40}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(text.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_json_value_comes_out_byte_for_byte_as_serde_json_writes_it(v in value()) {
        let (ours, theirs) = both(&v);
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn any_string_comes_out_byte_for_byte_as_serde_json_writes_it(s in any::<String>()) {
        let (ours, theirs) = both(&s);
        prop_assert_eq!(ours, theirs);
    }

    /// Strings up to eight words long are checked whole: an escape at any place of any
    /// length around that, as a key and as a value.
    #[test]
    fn short_strings_and_keys_come_out_as_serde_json_writes_them(
        s in "[a-z \"\\\u{0}-\u{1f}\u{7f}é€😀]{0,70}",
    ) {
        let (ours, theirs) = both(&s);
        prop_assert_eq!(ours, theirs);
        let map = Map(vec![(s.as_str(), 1)]);
        let (ours, theirs) = both(&map);
        prop_assert_eq!(ours, theirs);
    }
}

/// Strings up to eight words are read as words, the last overlapping (half-words under
/// eight bytes): at every length from 0 to 66, each byte that needs an escape and each
/// just outside those classes, at every place.
#[test]
fn an_escape_at_any_place_of_a_short_string_is_found() {
    for len in 0..=66 {
        for at in 0..len {
            for b in [
                0u8, 0x1f, b'"', b'\\', b'\n', 0x20, b'!', b'#', b'[', b']', 0x7f,
            ] {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b;
                let s = String::from_utf8(bytes).expect("ASCII");
                same(&s);
                same(&Map(vec![(s.as_str(), 1)]));
            }
        }
    }
}

/// A map of any keys, in the order given (no `Ord` needed).
struct Map<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Map<K, V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Plain {
    a: i16,
    b: i32,
    c: u16,
    d: u32,
    e: &'static str,
}

#[derive(Serialize)]
enum Tag {
    Label,
    Wrapped(u8),
}

#[test]
fn plain_structs_and_every_integer_width_are_written_as_serde_json_writes_them() {
    same(&Plain {
        a: i16::MIN,
        b: i32::MIN,
        c: u16::MAX,
        d: u32::MAX,
        e: "e",
    });
    same(&vec![Plain {
        a: -1,
        b: 2,
        c: 3,
        d: 4,
        e: "",
    }]);
}

#[test]
fn map_keys_are_written_or_refused_as_serde_json_does() {
    same(&Map(vec![(i8::MIN, 1)]));
    same(&Map(vec![(i16::MIN, 1)]));
    same(&Map(vec![(i32::MIN, 1)]));
    same(&Map(vec![(i64::MIN, 1)]));
    same(&Map(vec![(i128::MIN, 1)]));
    same(&Map(vec![(u8::MAX, 1)]));
    same(&Map(vec![(u16::MAX, 1)]));
    same(&Map(vec![(u32::MAX, 1)]));
    same(&Map(vec![(u64::MAX, 1)]));
    same(&Map(vec![(u128::MAX, 1)]));
    same(&Map(vec![(Tag::Label, 1)]));
    same(&Map(vec![(Newtype("new\"type".into()), 1)]));
    // What serde_json writes in its own way or refuses: the same, and never a half
    // written key.
    same(&Map(vec![(1.5f32, 1)]));
    same(&Map(vec![(-0.25f64, 1)]));
    same(&Map(vec![(Bytes(b"k"), 1)]));
    same(&Map(vec![(None::<u8>, 1)]));
    same(&Map(vec![(Some(1u8), 1)]));
    same(&Map(vec![((), 1)]));
    same(&Map(vec![(Unit, 1)]));
    same(&Map(vec![(Tag::Wrapped(1), 1)]));
    same(&Map(vec![(vec![1u8], 1)]));
}

#[test]
fn two_escapes_in_one_span_do_not_hide_each_other() {
    // Each pair of kinds, close together in the first span: the first is found, and
    // after it the second (a scan that let two cancel out would skip the span).
    for first in [b'\n', b'"', b'\\'] {
        for second in [b'\t', b'"', b'\\'] {
            let mut text = vec![b'a'; 100];
            text[3] = first;
            text[10] = second;
            assert_eq!(
                super::next_escape(&text, 0),
                Some(3),
                "{first} then {second}"
            );
            assert_eq!(
                super::next_escape(&text, 4),
                Some(10),
                "{first} then {second}"
            );
        }
    }
}

proptest! {
    /// The span scan is exact: it finds the first byte that needs an escape at or
    /// after any start, whether it lies in a whole span, across two, or in the tail
    /// shorter than a span (otherwise an escape would be skipped, or found late).
    #[test]
    fn the_span_scan_finds_the_first_escape(
        text in proptest::collection::vec(b' '..=b'~', 0..300),
        at in 0usize..300,
        from in 0usize..300,
        escape in prop_oneof![0u8..0x20, Just(b'"'), Just(b'\\')],
    ) {
        let plain: Vec<u8> = text.iter().map(|b| if super::needs_escape(*b) { b'a' } else { *b }).collect();
        let from = from.min(plain.len());
        prop_assert_eq!(super::next_escape(&plain, from), None);
        let mut one = plain.clone();
        if !one.is_empty() {
            let at = at % one.len();
            one[at] = escape;
            let naive = one[from..].iter().position(|b| super::needs_escape(*b)).map(|i| from + i);
            prop_assert_eq!(super::next_escape(&one, from), naive);
            prop_assert_eq!(naive, (at >= from).then_some(at));
        }
    }

    /// On any bytes (above 0x7f, several escapes, escapes side by side, where a
    /// borrow in the eight-byte search could mark a byte that needs none), every
    /// escape is found in order from any start, exactly where a byte-by-byte search
    /// finds it.
    #[test]
    fn every_escape_is_found_in_order_on_any_bytes(
        text in proptest::collection::vec(prop_oneof![
            any::<u8>(),
            Just(b' '),
            Just(b'!'),
            Just(b'"'),
            Just(b'#'),
            Just(b'\\'),
            Just(b']'),
            Just(0x1fu8),
            Just(0x21u8),
        ], 0..200),
        from in 0usize..200,
    ) {
        let mut at = from.min(text.len());
        let naive = |from: usize| text[from..].iter().position(|b| super::needs_escape(*b)).map(|i| from + i);
        loop {
            let found = super::next_escape(&text, at);
            prop_assert_eq!(found, naive(at));
            match found {
                Some(i) => at = i + 1,
                None => break,
            }
        }
    }
}
