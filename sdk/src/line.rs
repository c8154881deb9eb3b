//! A record as one line of compact JSON, byte for byte what `serde_json::to_writer`
//! writes, with strings scanned eight bytes at a time.
//!
//! serde_json looks up every byte of every string in its escape table, one at a time:
//! a tenth of a mail reader's CPU went there (message bodies and header values are
//! most of a record's bytes, and nearly none of them need escaping). Here a string is
//! copied in runs between the bytes that need an escape, found a 64-bit word at a
//! time. Everything but strings is written as serde_json writes it (numbers by the
//! same formatters); what this serializer does not take on (a `RawValue`, a map key
//! that is not a string or an integer) makes it give up, and the record is written by
//! serde_json instead, so the output and the errors are always serde_json's.
//!
//! One concern, one file: serde's `Serializer` traits ask for a method per kind of
//! value, for values and again for map keys, and splitting them would only scatter
//! one writer; its tests are in `line_tests.rs`.

use serde::Serialize;
use serde::ser::{self, Impossible};

/// Appends `value` to `out` as compact JSON, exactly as `serde_json::to_writer` would;
/// on an error (serde_json's), `out` is left as it was.
pub(crate) fn to_line<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    if value.serialize(Line { out: &mut *out }).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    serde_json::to_writer(&mut *out, value).inspect_err(|_| out.truncate(start))
}

/// Appends `record` to `out` as one line (its JSON and `\n`), the way the host writes
/// records; on an error, `out` is left as it was and the error says a record could
/// not be serialized.
pub(crate) fn record_line<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    record: &T,
) -> crate::error::Result<()> {
    to_line(out, record).map_err(|e| {
        crate::error::Error::internal(format!("a record cannot be serialized: {e}"))
    })?;
    out.push(b'\n');
    Ok(())
}

/// Why this serializer gave up (serde_json then writes the value, or says why not).
#[derive(Debug)]
pub(crate) struct GiveUp;

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("left to serde_json")
    }
}

impl std::error::Error for GiveUp {}

impl ser::Error for GiveUp {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        GiveUp
    }
}

/// serde_json's marker for a `RawValue` (written verbatim: left to serde_json).
const RAW_VALUE: &str = "$serde_json::private::RawValue";

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Bytes looked at together before the one that needs an escape is looked for.
const SPAN: usize = 64;

/// Strings up to this long are checked for escapes whole, a word at a time, before
/// anything is copied (every key and nearly every value of a record but its bodies:
/// addresses, dates, header values).
const SHORT: usize = 64;

/// A one in each byte of a word.
const ONES: u64 = u64::from_le_bytes([1; 8]);

/// The high bit of each byte of a word.
const HIGHS: u64 = ONES * 0x80;

/// The bytes of `word` (eight bytes of text) that need an escape, as the high bit of
/// each: those below 0x20 (`b - 0x20` wraps only for them, and `!b` keeps the high
/// bit only below 0x80) and those equal to `"` or `\` (zero after the xor). A borrow
/// can also mark a byte just above a marked one, never one below: the lowest mark is
/// exact, and only it is used.
fn escape_marks(word: u64) -> u64 {
    let zero_where = |x: u64| x.wrapping_sub(ONES) & !x;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = zero_where(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_where(word ^ (ONES * u64::from(b'\\')));
    (below_space | quote | backslash) & HIGHS
}

/// The position of the first byte at or after `from` that needs an escape.
///
/// Spans of [`SPAN`] bytes are checked whole first: written as a fold without an early
/// exit, the compiler checks a span with vector instructions (about 3.7 times as fast
/// as eight bytes at a time on a 3 KB body without escapes, 1.4 times with a line
/// break every 72 bytes). In the span that has one, and in a short string, the byte is
/// found eight at a time ([`escape_marks`]): one at a time, that search was two thirds
/// of the time spent escaping a read's records (a profile of 50,000 messages).
fn next_escape(bytes: &[u8], mut from: usize) -> Option<usize> {
    while let Some(span) = bytes.get(from..from + SPAN) {
        let any = span.iter().fold(0u8, |acc, &b| {
            acc | u8::from(b < 0x20) | u8::from(b == b'"') | u8::from(b == b'\\')
        });
        if any != 0 {
            break;
        }
        from += SPAN;
    }
    let mut words = bytes[from..].chunks_exact(8);
    for word in &mut words {
        let word: [u8; 8] = word.try_into().expect("chunks of eight");
        let marks = escape_marks(u64::from_le_bytes(word));
        if marks != 0 {
            return Some(from + (marks.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    words
        .remainder()
        .iter()
        .position(|b| needs_escape(*b))
        .map(|at| from + at)
}

/// Whether no byte of `bytes` (at most [`SHORT`] long) needs an escape: its words read
/// straight from the string, the last one overlapping the one before when the length
/// is not a multiple of eight (from four to seven bytes, two half-words make one word;
/// under four, byte by byte). `escape_marks` marks nothing exactly when no byte needs
/// an escape (a borrow only follows a marked byte), and a byte read twice changes
/// nothing. Copying the string into a padded buffer first, as this did, made the word
/// loads wait for the copy's narrower stores (store forwarding fails on a load that
/// spans two stores): half of the time spent in [`string`] while reading 50,000
/// messages. Strings of 17 to 64 bytes (most header values) were looked at a word at a
/// time and their last bytes one at a time by [`next_escape`]: 2% fewer instructions
/// writing the bench's records this way (callgrind, 10,000 records).
fn short_needs_no_escape(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().expect("eight bytes"));
    let half = |w: &[u8]| u64::from(u32::from_le_bytes(w.try_into().expect("four bytes")));
    let marks = match n {
        8.. => {
            bytes
                .chunks_exact(8)
                .fold(0, |marks, w| marks | escape_marks(word(w)))
                | escape_marks(word(&bytes[n - 8..]))
        }
        4.. => escape_marks(half(&bytes[..4]) | half(&bytes[n - 4..]) << 32),
        _ => return !bytes.iter().any(|&b| needs_escape(b)),
    };
    marks == 0
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings of a record are short (every key, most values): checked whole and
    // copied at once.
    if bytes.len() <= SHORT && short_needs_no_escape(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..at]);
        let b = bytes[at];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn integer(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// The ten integer methods of a serializer, each `$body(self, v)`.
macro_rules! integers {
    (|$this:ident, $v:ident| $body:expr, $($method:ident: $ty:ty),*) => {$(
        fn $method(self, $v: $ty) -> Result<(), GiveUp> {
            let $this = self;
            $body
        }
    )*};
}

/// The compound traits of [`Compound`]: those whose items are array elements, and
/// those whose items are named fields.
macro_rules! compound {
    (element: $($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = GiveUp;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
                self.element(value)
            }
            fn end(self) -> Result<(), GiveUp> {
                Compound::end(self);
                Ok(())
            }
        }
    )*};
    (field: $($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = GiveUp;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), GiveUp> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), GiveUp> {
                Compound::end(self);
                Ok(())
            }
        }
    )*};
}

/// The serializer: appends to `out`.
struct Line<'a> {
    out: &'a mut Vec<u8>,
}

/// An array or object being written: whether an element was written yet, and what
/// closes it. Sixteen bytes, so that it (and the `Result` every opening returns) comes
/// back in two registers: at 32 bytes it came back through memory, written a field at
/// a time and read back sixteen bytes at a time, and each such read waited for the
/// writes (store forwarding fails on a load that spans two stores): a profile of a
/// read of 50,000 messages put most of `serialize_field`'s time on that one load.
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    close: Close,
}

const _: () = assert!(size_of::<Result<Compound<'static>, GiveUp>>() == 16);

/// What closes a [`Compound`]: `]`, `}`, or `]}` / `}}` for an enum variant's content.
#[derive(Clone, Copy)]
enum Close {
    Array,
    Object,
    VariantArray,
    VariantObject,
}

impl Close {
    fn bytes(self) -> &'static [u8] {
        match self {
            Self::Array => b"]",
            Self::Object => b"}",
            Self::VariantArray => b"]}",
            Self::VariantObject => b"}}",
        }
    }
}

impl Compound<'_> {
    fn comma(&mut self) {
        if !std::mem::replace(&mut self.first, false) {
            self.out.push(b',');
        }
    }

    fn end(self) {
        self.out.extend_from_slice(self.close.bytes());
    }
}

impl<'a> Line<'a> {
    fn open(self, open: &[u8], close: Close) -> Compound<'a> {
        self.out.extend_from_slice(open);
        Compound {
            out: self.out,
            first: true,
            close,
        }
    }

    /// `{"variant":` before an enum variant's content.
    fn variant(&mut self, variant: &str) {
        self.out.push(b'{');
        string(self.out, variant);
        self.out.push(b':');
    }

    /// A float, written by serde_json itself (its formatter, and `null` when not finite).
    fn float<F: Serialize>(self, v: F) -> Result<(), GiveUp> {
        serde_json::to_writer(self.out, &v).map_err(|_| GiveUp)
    }
}

impl<'a> ser::Serializer for Line<'a> {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), GiveUp> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    integers!(
        |this, v| {
            integer(this.out, v);
            Ok(())
        },
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128
    );
    fn serialize_f32(self, v: f32) -> Result<(), GiveUp> {
        self.float(v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), GiveUp> {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result<(), GiveUp> {
        string(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), GiveUp> {
        string(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), GiveUp> {
        // serde_json writes bytes as an array of numbers.
        let mut seq = self.open(b"[", Close::Array);
        for b in v {
            seq.comma();
            integer(seq.out, *b);
        }
        seq.end();
        Ok(())
    }
    fn serialize_none(self) -> Result<(), GiveUp> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), GiveUp> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), GiveUp> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), GiveUp> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), GiveUp> {
        string(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        self.variant(variant);
        value.serialize(Line {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, GiveUp> {
        Ok(self.open(b"[", Close::Array))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, GiveUp> {
        Ok(self.open(b"[", Close::Array))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, GiveUp> {
        Ok(self.open(b"[", Close::Array))
    }
    fn serialize_tuple_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, GiveUp> {
        self.variant(variant);
        Ok(self.open(b"[", Close::VariantArray))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, GiveUp> {
        Ok(self.open(b"{", Close::Object))
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Compound<'a>, GiveUp> {
        if name == RAW_VALUE {
            return Err(GiveUp);
        }
        Ok(self.open(b"{", Close::Object))
    }
    fn serialize_struct_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, GiveUp> {
        self.variant(variant);
        Ok(self.open(b"{", Close::VariantObject))
    }
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        self.comma();
        value.serialize(Line {
            out: &mut *self.out,
        })
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), GiveUp> {
        self.comma();
        string(self.out, key);
        self.out.push(b':');
        value.serialize(Line {
            out: &mut *self.out,
        })
    }
}

compound!(element: SerializeSeq::serialize_element, SerializeTuple::serialize_element);
compound!(element: SerializeTupleStruct::serialize_field, SerializeTupleVariant::serialize_field);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), GiveUp> {
        self.comma();
        key.serialize(Key {
            out: &mut *self.out,
        })?;
        self.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        value.serialize(Line {
            out: &mut *self.out,
        })
    }
    fn end(self) -> Result<(), GiveUp> {
        Compound::end(self);
        Ok(())
    }
}

compound!(field: SerializeStruct, SerializeStructVariant);

/// A map key: a string, or an integer written as a string, as serde_json writes
/// them; any other key is left to serde_json (which writes some and refuses others).
struct Key<'a> {
    out: &'a mut Vec<u8>,
}

impl Key<'_> {
    fn quoted(self, n: impl itoa::Integer) -> Result<(), GiveUp> {
        self.out.push(b'"');
        integer(self.out, n);
        self.out.push(b'"');
        Ok(())
    }
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = Impossible<(), GiveUp>;
    type SerializeTuple = Impossible<(), GiveUp>;
    type SerializeTupleStruct = Impossible<(), GiveUp>;
    type SerializeTupleVariant = Impossible<(), GiveUp>;
    type SerializeMap = Impossible<(), GiveUp>;
    type SerializeStruct = Impossible<(), GiveUp>;
    type SerializeStructVariant = Impossible<(), GiveUp>;

    fn serialize_str(self, v: &str) -> Result<(), GiveUp> {
        string(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), GiveUp> {
        string(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), GiveUp> {
        string(self.out, variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        value.serialize(self)
    }
    integers!(
        |this, v| this.quoted(v),
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128
    );
    fn serialize_bool(self, _: bool) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_f32(self, _: f32) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_f64(self, _: f64) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_none(self) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_unit(self) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), GiveUp> {
        Err(GiveUp)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, GiveUp> {
        Err(GiveUp)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, GiveUp> {
        Err(GiveUp)
    }
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
