//! Checks on a manifest as data: schema validity, activity shape, descriptions,
//! secrets and defaults, by walking its JSON Schemas (compatibility is in `compat`).

use serde_json::Value;

/// Every JSON Schema in a manifest, with where it is (`connection`,
/// `activities/send/request`).
pub(crate) fn schemas(manifest: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    if let Some(c) = manifest.get("connection") {
        out.push(("connection".to_owned(), c));
    }
    for a in manifest
        .get("activities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = a.get("name").and_then(Value::as_str).unwrap_or("?");
        for key in ["config", "request", "response", "record"] {
            if let Some(s) = a.get(key) {
                out.push((format!("activities/{name}/{key}"), s));
            }
        }
    }
    out
}

/// Problems with the schemas themselves: not valid 2020-12, or not declaring it.
pub(crate) fn invalid_schemas(manifest: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (at, schema) in schemas(manifest) {
        if schema.get("$schema").and_then(Value::as_str)
            != Some("https://json-schema.org/draft/2020-12/schema")
        {
            problems.push(format!(
                "{at}: `$schema` is not \"https://json-schema.org/draft/2020-12/schema\"; derive it with connector_sdk::schema_of"
            ));
        }
        if let Err(e) = jsonschema::meta::validate(schema) {
            problems.push(format!(
                "{at}{}: not a valid JSON Schema 2020-12: {e}; fix the hand-written JsonSchema impl behind it",
                e.instance_path()
            ));
        }
    }
    problems
}

/// Problems with the activity list: names, roles, the schemas each role needs.
pub(crate) fn malformed_activities(manifest: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for key in ["name", "version", "description"] {
        if manifest
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problems.push(format!(
                "/{key}: missing or empty; #[connector] fills it from its arguments and doc comment"
            ));
        }
    }
    let Some(activities) = manifest.get("activities").and_then(Value::as_array) else {
        problems.push("/activities: missing".into());
        return problems;
    };
    let mut seen = Vec::new();
    for (i, a) in activities.iter().enumerate() {
        let name = a.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            problems.push(format!("/activities/{i}/name: missing"));
        }
        if seen.contains(&name) {
            problems.push(format!(
                "/activities/{i}/name: `{name}` is used twice; activity names must be unique"
            ));
        }
        seen.push(name);
        if a.get("description")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problems.push(format!(
                "/activities/{i}/description: empty; add a doc comment to the activity's impl"
            ));
        }
        match a.get("role").and_then(Value::as_str) {
            Some("source") => {
                if a.get("record").is_none() {
                    problems.push(format!("/activities/{i}: a source needs a `record` schema"));
                }
            }
            Some("target") => {
                for k in ["request", "response"] {
                    if a.get(k).is_none() {
                        problems.push(format!("/activities/{i}: a target needs a `{k}` schema"));
                    }
                }
            }
            other => problems.push(format!(
                "/activities/{i}/role: {other:?} is neither \"source\" nor \"target\""
            )),
        }
        if a.get("config").is_none() {
            problems.push(format!("/activities/{i}/config: missing"));
        }
        if !a.get("discovery").is_some_and(Value::is_boolean) {
            problems.push(format!(
                "/activities/{i}/discovery: missing or not a boolean"
            ));
        }
    }
    problems
}

/// Visits every property schema: `(where, name, schema)`.
fn properties<'a>(at: &str, node: &'a Value, out: &mut Vec<(String, String, &'a Value)>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for (name, schema) in props {
                    out.push((format!("{at}/properties/{name}"), name.clone(), schema));
                }
            }
            for (k, v) in map {
                properties(&format!("{at}/{k}"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                properties(&format!("{at}/{i}"), v, out);
            }
        }
        _ => {}
    }
}

fn all_properties(manifest: &Value) -> Vec<(String, String, &Value, &Value)> {
    let mut out = Vec::new();
    for (at, schema) in schemas(manifest) {
        let mut props = Vec::new();
        properties("", schema, &mut props);
        out.extend(
            props
                .into_iter()
                .map(|(path, name, s)| (format!("{at}{path}"), name, s, schema)),
        );
    }
    out
}

pub(crate) fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
    {
        Some(ptr) => root.pointer(ptr).unwrap_or(schema),
        None => schema,
    }
}

/// Properties without a description.
pub(crate) fn undescribed(manifest: &Value) -> Vec<String> {
    all_properties(manifest)
        .into_iter()
        .filter(|(_, _, s, root)| {
            let own = s.get("description").is_some();
            let target = resolve(root, s).get("description").is_some();
            !own && !target
        })
        .map(|(at, name, _, _)| {
            format!("{at}: `{name}` has no description; add a doc comment to the field")
        })
        .collect()
}

/// Whether a property name suggests a secret: it names a password, secret, token,
/// key, credential or private value, and does not end in a word that says it is
/// *about* one (where it is, what kind, how long): `token_url`, `token_cache_file`,
/// `key_id`, `token_type` are not secrets.
///
/// ```
/// use connector_testkit::conformance::looks_secret;
/// assert!(looks_secret("client_secret") && looks_secret("refresh_token") && looks_secret("apiKey"));
/// assert!(!looks_secret("token_url") && !looks_secret("token_cache_file") && !looks_secret("key_id"));
/// assert!(!looks_secret("username"));
/// // Keys that identify rather than unlock.
/// assert!(!looks_secret("idempotency_key") && !looks_secret("sort_key") && !looks_secret("partitionKey"));
/// ```
pub fn looks_secret(name: &str) -> bool {
    const ABOUT: [&str; 14] = [
        "url", "uri", "endpoint", "file", "path", "dir", "type", "id", "name", "mode", "ttl",
        "secs", "expiry", "length",
    ];
    let lower = name.to_ascii_lowercase();
    let last = lower
        .rsplit(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    if lower.contains(|c: char| !c.is_ascii_alphanumeric()) && ABOUT.contains(&last) {
        return false;
    }
    // A key that identifies a record or a request, not one that unlocks anything.
    const IDENTIFYING: [&str; 8] = [
        "idempotency",
        "sort",
        "partition",
        "primary",
        "foreign",
        "dedup",
        "dedupe",
        "routing",
    ];
    if IDENTIFYING.iter().any(|w| {
        lower.starts_with(w) && lower.trim_start_matches(w).trim_start_matches('_') == "key"
    }) {
        return false;
    }
    const WORDS: [&str; 8] = [
        "password",
        "passwd",
        "secret",
        "token",
        "key",
        "credential",
        "credentials",
        "private",
    ];
    let lower = name.to_ascii_lowercase();
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| WORDS.contains(&w))
        || lower.contains("password")
        || lower.contains("secret")
        || lower.ends_with("token")
        || lower.ends_with("apikey")
}

fn marked_secret(root: &Value, schema: &Value) -> bool {
    let s = resolve(root, schema);
    if s.get("x-secret") == Some(&Value::Bool(true))
        && s.get("writeOnly") == Some(&Value::Bool(true))
    {
        return true;
    }
    ["anyOf", "oneOf", "allOf"]
        .iter()
        .filter_map(|k| s.get(*k).and_then(Value::as_array))
        .flatten()
        .any(|b| b.get("type") != Some(&Value::String("null".into())) && marked_secret(root, b))
}

/// Secret-looking input properties that are not marked `x-secret` + `writeOnly`.
/// Records and responses are output: a `token_count` there is data, not a secret.
pub(crate) fn unmarked_secrets(manifest: &Value) -> Vec<String> {
    all_properties(manifest)
        .into_iter()
        .filter(|(at, ..)| !at.contains("/record/") && !at.contains("/response/"))
        .filter(|(_, name, s, root)| looks_secret(name) && !marked_secret(root, s))
        .map(|(at, name, _, _)| {
            format!("{at}: `{name}` looks like a secret but is not marked (writeOnly + x-secret); make its type connector_sdk::Secret")
        })
        .collect()
}

/// A default found in a schema: where it goes in an instance, its value, and, inside
/// an enum variant, the tag the instance must carry there for it to apply.
pub(crate) struct Default {
    pub(crate) pointer: String,
    pub(crate) value: Value,
    pub(crate) only_if: Option<(String, Value)>,
    /// The object holding it has required fields: it can be tried only where the
    /// fixture already has that object.
    pub(crate) parent_requires: bool,
}

/// Every `default` in a schema, for the properties of the top object and of objects
/// reached through properties and variants.
pub(crate) fn defaults(schema: &Value) -> Vec<Default> {
    let mut out = Vec::new();
    collect_defaults(schema, schema, "", None, &mut out, 0);
    out
}

fn collect_defaults(
    root: &Value,
    node: &Value,
    at: &str,
    only_if: Option<&(String, Value)>,
    out: &mut Vec<Default>,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    let node = resolve(root, node);
    let requires = node
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    if let Some(Value::Object(props)) = node.get("properties") {
        for (name, s) in props {
            let path = format!("{at}/{name}");
            if let Some(d) = s.get("default").or_else(|| resolve(root, s).get("default")) {
                out.push(Default {
                    pointer: path.clone(),
                    value: d.clone(),
                    only_if: only_if.cloned(),
                    parent_requires: requires,
                });
            }
            collect_defaults(root, s, &path, only_if, out, depth + 1);
        }
    }
    for k in ["anyOf", "oneOf"] {
        for b in node.get(k).and_then(Value::as_array).into_iter().flatten() {
            let branch = resolve(root, b);
            if branch.get("type") == Some(&Value::String("null".into()))
                || branch.get("const").is_some()
            {
                continue;
            }
            // A tagged variant (`"type": {"const": "oauth2"}`): its defaults apply only
            // where the instance has that tag.
            let tag = branch
                .get("properties")
                .and_then(Value::as_object)
                .and_then(|props| {
                    props.iter().find_map(|(name, p)| {
                        p.get("const").map(|c| (format!("{at}/{name}"), c.clone()))
                    })
                });
            collect_defaults(root, branch, at, tag.as_ref().or(only_if), out, depth + 1);
        }
    }
}
