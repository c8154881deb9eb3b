//! Small JSON and JSON Schema helpers: canonical output and reading a schema at a path.

use serde_json::{Map, Value};

/// `value` with every object's keys in sorted order, so output is deterministic even
/// when another crate in the build turns on `serde_json/preserve_order`.
pub(crate) fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Joins the wrapped lines of every `description` (doc comments wrap at 100 columns)
/// into paragraphs: a single newline becomes a space, a blank line stays.
///
/// Also describes the properties serde adds for enum variants, which have no doc
/// comment of their own: a variant's tag (`"type": {"const": "basic"}`) and the single
/// key of a newtype variant (`{"move_to": …}`) take the variant's description.
pub(crate) fn unwrap_descriptions(value: &mut Value) {
    polish(value, false);
}

/// `variant`: `value` is a branch of a `oneOf`/`anyOf`, that is an enum variant.
fn polish(value: &mut Value, variant: bool) {
    match value {
        Value::Object(map) => {
            let owner = map
                .get("description")
                .and_then(Value::as_str)
                .map(unwrap_paragraphs);
            if variant
                && let (Some(owner), Some(Value::Object(props))) =
                    (owner, map.get_mut("properties"))
            {
                let lone = props.len() == 1;
                for prop in props.values_mut() {
                    if let Value::Object(p) = prop
                        && !p.contains_key("description")
                    {
                        if let Some(c) = p.get("const") {
                            p.insert(
                                "description".into(),
                                Value::String(format!("`{c}`: {owner}")),
                            );
                        } else if lone {
                            p.insert("description".into(), Value::String(owner.clone()));
                        }
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(s) if k == "description" => *s = unwrap_paragraphs(s),
                    Value::Array(items) if k == "oneOf" || k == "anyOf" => {
                        items.iter_mut().for_each(|i| polish(i, true));
                    }
                    other => polish(other, false),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| polish(i, false)),
        _ => {}
    }
}

/// `"a\nb\n\nc"` becomes `"a b\n\nc"`.
pub(crate) fn unwrap_paragraphs(text: &str) -> String {
    let text = for_readers(text);
    text.split("\n\n")
        .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A doc comment as a schema description, for people who read JSON, not Rust: fenced
/// code blocks (doctests) and rustdoc's sections (`# Examples`, `# Errors`, `# Panics`,
/// `# Safety`) are left out, and intra-doc links (``[`Foo`]``, `[text](crate::path)`)
/// keep only their text.
pub(crate) fn for_readers(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if [
            "# Examples",
            "# Example",
            "# Errors",
            "# Panics",
            "# Safety",
        ]
        .iter()
        .any(|h| trimmed.trim_end() == *h)
        {
            break;
        }
        out.push(line);
    }
    let joined = out.join("\n");
    let mut text = unlink(joined.trim());
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text
}

/// ``[`Foo`]`` to `` `Foo` ``, `[text](path)` to `text`; other brackets stay.
fn unlink(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if !after[..close].contains('[') => {
                let inner = &after[..close];
                let tail = &after[close + 1..];
                let code_link = inner.starts_with('`') && inner.ends_with('`') && inner.len() > 1;
                if let Some(target) = tail
                    .strip_prefix('(')
                    .and_then(|t| t.find(')').map(|e| (t, e)))
                {
                    out.push_str(inner);
                    rest = &target.0[target.1 + 1..];
                } else if code_link {
                    out.push_str(inner);
                    rest = tail;
                } else {
                    out.push('[');
                    rest = after;
                }
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value at a JSON pointer (`""` is the whole document).
pub(crate) fn pointer<'a>(value: &'a Value, pointer: &str) -> Option<&'a Value> {
    value.pointer(pointer)
}

/// Follows `$ref` to `#/$defs/…` within `root`.
pub(crate) fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                Some(target) => schema = target,
                None => return schema,
            },
            None => return schema,
        }
    }
    schema
}

/// How many `anyOf`/`oneOf`/`allOf` levels the helpers below go down. A schema's own
/// nesting is far less (an `Option` of an enum is two); only a type that is a branch
/// of itself (an untagged enum with a variant holding the enum) would go on for ever,
/// and the stack with it. Kept small because such a type may have several branches
/// that are itself, and each level multiplies the work by their number.
const BRANCH_DEPTH: u32 = 8;

fn branches(schema: &Value) -> impl Iterator<Item = &Value> {
    ["anyOf", "oneOf", "allOf"]
        .into_iter()
        .filter_map(|k| schema.get(k).and_then(Value::as_array))
        .flatten()
}

/// The sub-schema that describes the value at `pointer`.
pub(crate) fn schema_at<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let segments: Vec<String> = if pointer.is_empty() {
        Vec::new()
    } else {
        pointer
            .trim_start_matches('/')
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect()
    };
    walk(root, root, &segments, 0)
}

fn walk<'a>(
    root: &'a Value,
    schema: &'a Value,
    segments: &[String],
    depth: u32,
) -> Option<&'a Value> {
    if depth > BRANCH_DEPTH {
        return None;
    }
    let schema = resolve(root, schema);
    let Some((first, rest)) = segments.split_first() else {
        return Some(schema);
    };
    if let Some(p) = schema.get("properties").and_then(|p| p.get(first))
        && let Some(found) = walk(root, p, rest, 0)
    {
        return Some(found);
    }
    if first.parse::<usize>().is_ok()
        && let Some(items) = schema.get("items").filter(|i| i.is_object())
        && let Some(found) = walk(root, items, rest, 0)
    {
        return Some(found);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object())
        && let Some(found) = walk(root, extra, rest, 0)
    {
        return Some(found);
    }
    branches(schema).find_map(|b| walk(root, b, segments, depth + 1))
}

/// Whether the schema is marked secret (`"x-secret": true`), directly or in a branch.
pub(crate) fn is_secret(root: &Value, schema: &Value) -> bool {
    fn within(root: &Value, schema: &Value, depth: u32) -> bool {
        let schema = resolve(root, schema);
        schema.get("x-secret") == Some(&Value::Bool(true))
            || (depth < BRANCH_DEPTH && branches(schema).any(|b| within(root, b, depth + 1)))
    }
    within(root, schema, 0)
}

/// Whether a value described by `schema` may be or contain a secret: the schema or
/// anything below it (properties, items, branches) is marked `x-secret`. Bounded by
/// the schema's own depth (ours, not the input's): a reference already being visited
/// further up (a recursive type, such as a tree) adds nothing new and is not entered
/// again; and by a visit limit.
pub(crate) fn may_hold_secret(root: &Value, schema: &Value) -> bool {
    fn visit<'a>(
        root: &'a Value,
        schema: &'a Value,
        above: &mut Vec<&'a str>,
        budget: &mut u32,
    ) -> bool {
        if *budget == 0 {
            return true; // too much to tell: assume the worst
        }
        *budget -= 1;
        let reference = schema.get("$ref").and_then(Value::as_str);
        if let Some(r) = reference {
            if above.contains(&r) {
                return false;
            }
            above.push(r);
        }
        let found = holds(root, resolve(root, schema), above, budget);
        if reference.is_some() {
            above.pop();
        }
        found
    }
    fn holds<'a>(
        root: &'a Value,
        schema: &'a Value,
        above: &mut Vec<&'a str>,
        budget: &mut u32,
    ) -> bool {
        if schema.get("x-secret") == Some(&Value::Bool(true)) {
            return true;
        }
        let children = schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|p| p.values())
            .chain(
                ["items", "additionalProperties"]
                    .iter()
                    .filter_map(|k| schema.get(*k)),
            )
            .chain(branches(schema));
        for child in children {
            if child.is_object() && visit(root, child, above, budget) {
                return true;
            }
        }
        false
    }
    visit(root, schema, &mut Vec::new(), &mut 10_000)
}

/// The property names an object schema allows, sorted.
pub(crate) fn property_names(root: &Value, schema: &Value) -> Vec<String> {
    fn gather(root: &Value, schema: &Value, depth: u32, names: &mut Vec<String>) {
        let schema = resolve(root, schema);
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for n in props.keys() {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        if depth < BRANCH_DEPTH {
            for b in branches(schema) {
                gather(root, b, depth + 1, names);
            }
        }
    }
    let mut names = Vec::new();
    gather(root, schema, 0, &mut names);
    names.sort();
    names
}

/// What a schema expects, in words: `an integer from 1 to 65535`, `one of "tls", "none"`.
pub(crate) fn describe(root: &Value, schema: &Value) -> String {
    describe_within(root, schema, 0)
}

fn describe_within(root: &Value, schema: &Value, depth: u32) -> String {
    if depth > BRANCH_DEPTH {
        return "any JSON value".to_owned();
    }
    let schema = resolve(root, schema);
    // `false` or `{"not": {}}`: a place that takes no value at all.
    let nothing = |s: &Value| s == &Value::Bool(false);
    if nothing(schema)
        || schema
            .get("not")
            .is_some_and(|n| n == &Value::Bool(true) || n.as_object().is_some_and(|o| o.is_empty()))
    {
        return "nothing (leave it out)".to_owned();
    }
    if schema.get("x-secret") == Some(&Value::Bool(true)) {
        return r#"a secret: a string, {"env": "NAME"} or {"file": "PATH"}"#.to_owned();
    }
    if let Some(c) = schema.get("const") {
        return c.to_string();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return one_of(values.iter().map(Value::to_string).collect());
    }
    let alts: Vec<&Value> = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if !alts.is_empty() {
        let consts: Option<Vec<String>> = alts
            .iter()
            .map(|a| resolve(root, a).get("const").map(Value::to_string))
            .collect();
        if let Some(consts) = consts {
            return one_of(consts);
        }
        let mut parts: Vec<String> = Vec::new();
        for a in alts {
            let d = describe_within(root, a, depth + 1);
            if !parts.contains(&d) {
                parts.push(d);
            }
        }
        return parts.join(" or ");
    }
    match schema.get("type") {
        Some(Value::String(t)) => describe_type(root, schema, t, depth),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .map(|t| describe_type(root, schema, t, depth))
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any JSON value".to_owned(),
    }
}

fn one_of(mut items: Vec<String>) -> String {
    if items.len() == 1 {
        return items.remove(0);
    }
    format!("one of {}", items.join(", "))
}

fn describe_type(root: &Value, schema: &Value, t: &str, depth: u32) -> String {
    let min = schema
        .get("minimum")
        .or_else(|| schema.get("exclusiveMinimum"));
    let max = schema
        .get("maximum")
        .or_else(|| schema.get("exclusiveMaximum"));
    match t {
        "integer" | "number" => {
            let noun = if t == "integer" {
                "an integer"
            } else {
                "a number"
            };
            match (min, max) {
                (Some(a), Some(b)) => format!("{noun} from {a} to {b}"),
                (Some(a), None) => format!("{noun} of at least {a}"),
                (None, Some(b)) => format!("{noun} of at most {b}"),
                (None, None) => noun.to_owned(),
            }
        }
        "string" => {
            let mut out = match schema.get("format").and_then(Value::as_str) {
                Some(f) => format!("a string ({f})"),
                None => "a string".to_owned(),
            };
            out.push_str(&count(schema, "minLength", "maxLength", "character"));
            if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                out.push_str(&format!(" matching {p}"));
            }
            out
        }
        "boolean" => "true or false".to_owned(),
        "null" => "null".to_owned(),
        "array" => {
            let items = match schema.get("items").filter(|i| i.is_object()) {
                Some(items) => format!(
                    "an array of {}",
                    plural(&describe_within(root, items, depth + 1))
                ),
                None => "an array".to_owned(),
            };
            format!("{items}{}", count(schema, "minItems", "maxItems", "item"))
        }
        "object" => "an object".to_owned(),
        other => other.to_owned(),
    }
}

/// ` of 2 to 8 characters`, ` with at most 3 items`: the bounds `min`/`max` put on a
/// count, or nothing.
fn count(schema: &Value, min: &str, max: &str, unit: &str) -> String {
    let n = |k: &str| schema.get(k).and_then(Value::as_u64);
    let units = |n: u64| {
        if n == 1 {
            unit.to_owned()
        } else {
            format!("{unit}s")
        }
    };
    let of = if unit == "item" { "with" } else { "of" };
    match (n(min), n(max)) {
        (Some(a), Some(b)) if a == b => format!(" {of} exactly {a} {}", units(a)),
        (Some(a), Some(b)) => format!(" {of} {a} to {b} {}", units(b)),
        (Some(a), None) if a > 0 => format!(" {of} at least {a} {}", units(a)),
        (_, Some(b)) => format!(" {of} at most {b} {}", units(b)),
        _ => String::new(),
    }
}

fn plural(desc: &str) -> String {
    for (one, many) in [
        ("a string", "strings"),
        ("an integer", "integers"),
        ("a number", "numbers"),
        ("an object", "objects"),
        ("an array", "arrays"),
    ] {
        if let Some(rest) = desc.strip_prefix(one) {
            return format!("{many}{rest}");
        }
    }
    desc.to_owned()
}

/// A short rendering of a value for an error message.
pub(crate) fn brief(value: &Value) -> String {
    let mut s = value.to_string();
    if s.chars().count() > 60 {
        s = s.chars().take(57).collect::<String>() + "...";
    }
    s
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
