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
