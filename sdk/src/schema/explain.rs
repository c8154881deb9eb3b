//! Serde's errors in the user's terms: the JSON path of the bad value and the form the
//! schema expects there. Values are quoted only when they cannot hold a secret, and
//! objects and arrays never are.

use serde_json::Value;

use crate::error::Error;

pub(super) fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&escape_pointer(key));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

pub(super) fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Turns serde's message into one that names the path and the expected form.
pub(super) fn explain(schema: &Value, value: &Value, pointer: &str, serde_msg: &str) -> Error {
    let here = crate::json::schema_at(schema, pointer);
    if let Some(field) = between(serde_msg, "missing field `", "`") {
        let path = format!("{pointer}/{}", escape_pointer(field));
        let expected = crate::json::schema_at(schema, &path)
            .map(|s| format!(", expected {}", crate::json::describe(schema, s)))
            .unwrap_or_default();
        return Error::config(path, format!("missing required field{expected}"));
    }
    if let Some(field) = between(serde_msg, "unknown field `", "`") {
        // serde_path_to_error already names the unknown key in some positions.
        let leaf = format!("/{}", escape_pointer(field));
        let parent = pointer.strip_suffix(leaf.as_str()).unwrap_or(pointer);
        let path = format!("{parent}{leaf}");
        let known = crate::json::schema_at(schema, parent)
            .map(|s| crate::json::property_names(schema, s))
            .filter(|names| !names.is_empty())
            .map(|names| format!(", expected one of: {}", names.join(", ")))
            .unwrap_or_default();
        return Error::config(path, format!("unknown field{known}"));
    }
    let structural = [
        "invalid type",
        "invalid value",
        "unknown variant",
        "invalid length",
    ]
    .iter()
    .any(|p| serde_msg.starts_with(p));
    match here {
        Some(s) if structural => {
            let mut msg = format!("expected {}", crate::json::describe(schema, s));
            if let Some(got) = crate::json::pointer(value, pointer) {
                msg.push_str(", got ");
                msg.push_str(&super::enforce::shown(
                    got,
                    crate::json::may_hold_secret(schema, s),
                ));
            }
            Error::config(pointer, msg)
        }
        _ => {
            // Serde buffers internally tagged enums, so the path stops at the enum. A
            // custom message usually quotes the bad value (an env var name, a file
            // path, an address): follow the one child it names.
            let mut pointer = pointer.to_owned();
            let is_secret = |p: &str| {
                crate::json::schema_at(schema, p).is_some_and(|s| crate::json::is_secret(schema, s))
            };
            while !is_secret(&pointer)
                && let Some((key, leaf)) =
                    crate::json::pointer(value, &pointer).and_then(|v| child_named_in(v, serde_msg))
            {
                pointer = format!("{pointer}/{}", escape_pointer(&key));
                if leaf {
                    break;
                }
            }
            if structural {
                // serde's own wording quotes the value ("invalid type: string \"…\""),
                // which may be a secret: say only what it is.
                let got = crate::json::pointer(value, &pointer).map_or_else(String::new, |v| {
                    format!(", got {}", super::enforce::shown(v, true))
                });
                let expected = serde_msg
                    .split(", expected ")
                    .nth(1)
                    .unwrap_or("another form");
                return Error::config(pointer, format!("expected {expected}{got}"));
            }
            Error::config(pointer, serde_msg.to_owned())
        }
    }
}

/// The one key of `value` whose value `message` quotes, if exactly one, and whether
/// that value is a leaf (a string, or a one-key reference like `{"env": "NAME"}`).
fn child_named_in(value: &Value, message: &str) -> Option<(String, bool)> {
    let names = |s: &str| s.len() >= 2 && message.contains(s);
    let Value::Object(map) = value else {
        return None;
    };
    let mut hits = map.iter().filter_map(|(k, v)| match v {
        Value::String(s) if names(s) => Some((k.clone(), true)),
        Value::Object(m) if m.len() == 1 && m.values().all(|i| i.as_str().is_some_and(names)) => {
            Some((k.clone(), true))
        }
        Value::Object(m) if m.values().any(|i| i.as_str().is_some_and(names)) => {
            Some((k.clone(), false))
        }
        _ => None,
    });
    let first = hits.next()?;
    hits.next().is_none().then_some(first)
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(start)?;
    rest.find(end).map(|i| &rest[..i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "auth": {
                    "type": "object",
                    "properties": {
                        "user": {"type": "string"},
                        "password": {"type": "string", "x-secret": true},
                        "realm": {"type": "string"}
                    }
                },
                "count": {"type": "integer", "minimum": 1}
            }
        })
    }

    fn at(e: &Error) -> (Option<&str>, &str) {
        (e.path(), e.message())
    }

    #[test]
    fn missing_and_unknown_fields_name_their_path_and_what_fits() {
        let value = json!({"auth": {}});
        let e = explain(&schema(), &value, "/auth", "missing field `user`");
        assert_eq!(
            at(&e),
            (
                Some("/auth/user"),
                "missing required field, expected a string"
            )
        );
        // serde names the unknown key in the path or not: the same error either way.
        let value = json!({"auth": {"usr": "a"}});
        for pointer in ["/auth", "/auth/usr"] {
            let e = explain(
                &schema(),
                &value,
                pointer,
                "unknown field `usr`, expected one of `user`",
            );
            assert_eq!(
                at(&e),
                (
                    Some("/auth/usr"),
                    "unknown field, expected one of: password, realm, user"
                ),
                "{pointer}"
            );
        }
        // Where the schema knows no names, none are listed.
        let e = explain(&json!({}), &value, "/auth", "unknown field `usr`");
        assert_eq!(at(&e), (Some("/auth/usr"), "unknown field"));
    }

    #[test]
    fn a_wrong_form_is_described_by_the_schema_and_shown_unless_secret() {
        let value = json!({"count": "many", "auth": {"password": 12}});
        let e = explain(
            &schema(),
            &value,
            "/count",
            "invalid type: string \"many\", expected u32",
        );
        assert_eq!(
            at(&e),
            (
                Some("/count"),
                "expected an integer of at least 1, got \"many\""
            )
        );
        let e = explain(
            &schema(),
            &value,
            "/auth/password",
            "invalid type: integer `12`, expected a string",
        );
        assert_eq!(
            at(&e),
            (
                Some("/auth/password"),
                "expected a secret: a string, {\"env\": \"NAME\"} or {\"file\": \"PATH\"}, got a number"
            )
        );
        // Not a structural message: serde's (or the type's own) words are kept.
        let e = explain(&schema(), &value, "/count", "too many for this server");
        assert_eq!(at(&e), (Some("/count"), "too many for this server"));
    }

    #[test]
    fn a_message_that_quotes_one_child_points_at_it() {
        // Serde stops at an internally tagged enum; the message quotes the bad value.
        let value = json!({
            "auth": {"user": "ops", "realm": "corp", "password": {"env": "NO_SUCH"}, "ca": {"file": "/etc/ca.pem"}},
            "meta": {"k": "unrelated"}
        });
        // It is followed down through an object that holds it.
        let e = explain(&schema(), &value, "", "no user `ops` in this directory");
        assert_eq!(e.path(), Some("/auth/user"));
        // A one-key reference is a leaf: the path stops at it.
        let e = explain(
            &schema(),
            &value,
            "/auth",
            "environment variable `NO_SUCH` is not set",
        );
        assert_eq!(e.path(), Some("/auth/password"));
        let e = explain(&schema(), &value, "/auth", "cannot read `/etc/ca.pem`");
        assert_eq!(e.path(), Some("/auth/ca"));
        // A place the schema marks secret is never walked into.
        let e = explain(&schema(), &value, "/auth/password", "`NO_SUCH` is not set");
        assert_eq!(e.path(), Some("/auth/password"));
        // Two children quoted, or a one-letter value: no guess.
        let e = explain(
            &schema(),
            &value,
            "/auth",
            "neither `ops` nor `corp` will do",
        );
        assert_eq!(e.path(), Some("/auth"));
        let value = json!({"auth": {"user": "o"}});
        let e = explain(&schema(), &value, "/auth", "no user `o`");
        assert_eq!(e.path(), Some("/auth"));
        // A structural message with no schema for the place: serde's expectation, the
        // value by its type only.
        let value = json!({"other": {"x": "secretish"}});
        let e = explain(
            &schema(),
            &value,
            "/other",
            "invalid type: string \"secretish\", expected a number",
        );
        assert_eq!(
            at(&e),
            (Some("/other/x"), "expected a number, got a string")
        );
    }

    #[test]
    fn pointers_escape_their_keys() {
        assert_eq!(escape_pointer("a/b~c"), "a~1b~0c");
        assert_eq!(
            between("missing field `x` here", "missing field `", "`"),
            Some("x")
        );
        assert_eq!(between("other", "missing field `", "`"), None);
    }
}
