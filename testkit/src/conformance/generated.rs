//! Invalid input generated from the schemas: for every constraint the connection,
//! activity-config and request schemas show (bounds, lengths, enums, types, required
//! fields), a value just outside it, put into the valid fixture; each must exit 2
//! with the path of that value, and never print the canary secret.

use serde_json::{Value, json};

use super::Suite;
use super::runner::{Run, Workdir};
use super::schema::resolve;

/// One generated case: what it breaks, the document, and the path it must be named at.
pub(crate) struct Case {
    pub(crate) what: String,
    pub(crate) doc: Value,
    pub(crate) path: String,
}

/// At most this many cases per schema (each is one run of the program).
const MAX_CASES: usize = 80;

/// The cases for `schema` (with `$defs` in `root`) around the valid document `base`.
pub(crate) fn cases(root: &Value, schema: &Value, base: &Value) -> Vec<Case> {
    let mut out = Vec::new();
    walk(root, schema, base, base, "", 0, &mut out);
    out.truncate(MAX_CASES);
    out
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn walk(
    root: &Value,
    schema: &Value,
    doc: &Value,
    here: &Value,
    pointer: &str,
    depth: usize,
    out: &mut Vec<Case>,
) {
    let s = resolve(root, schema);
    if depth > 4 {
        return;
    }
    let Some(props) = s.get("properties").and_then(Value::as_object) else {
        return;
    };
    let Some(object) = here.as_object() else {
        return;
    };
    let required: Vec<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, prop) in props {
        let at = format!("{pointer}/{}", escape(name));
        if required.contains(&name.as_str()) && object.contains_key(name) {
            let mut removed = doc.clone();
            if let Some(parent) = removed.pointer_mut(if pointer.is_empty() { "" } else { pointer })
                && let Some(o) = parent.as_object_mut()
            {
                o.remove(name);
                out.push(Case {
                    what: format!("required `{name}` left out"),
                    doc: removed,
                    path: at.clone(),
                });
            }
        }
        let p = resolve(root, prop);
        if ["oneOf", "anyOf", "allOf", "not"]
            .iter()
            .any(|k| p.get(k).is_some())
        {
            continue; // which branch was meant is a judgement; the enforcement tests cover it
        }
        for (what, value) in outside(p) {
            if let Some(doc) = super::with_value(doc, &at, value) {
                out.push(Case {
                    what: format!("`{name}`: {what}"),
                    doc,
                    path: at.clone(),
                });
            }
        }
        if let Some(child) = object.get(name)
            && child.is_object()
        {
            walk(root, prop, doc, child, &at, depth + 1, out);
        }
    }
}

/// Values just outside what `schema` accepts, each with what it breaks.
fn outside(schema: &Value) -> Vec<(String, Value)> {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let integer = types.contains(&"integer");
    if integer || types.contains(&"number") {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && min.abs() < 9.0e15
        {
            let below = if integer {
                json!(min as i64 - 1)
            } else {
                json!(min - 0.5)
            };
            out.push((format!("{below} is below the minimum {min}"), below));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && max.abs() < 9.0e15
        {
            let above = if integer {
                json!(max as i64 + 1)
            } else {
                json!(max + 0.5)
            };
            out.push((format!("{above} is above the maximum {max}"), above));
        }
        if integer && !types.contains(&"number") {
            out.push(("1.5 is not an integer".into(), json!(1.5)));
        }
    }
    if types.contains(&"string") {
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && min > 0
        {
            out.push((
                format!("shorter than minLength {min}"),
                json!("x".repeat(min as usize - 1)),
            ));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && max < 100_000
        {
            out.push((
                format!("longer than maxLength {max}"),
                json!("x".repeat(max as usize + 1)),
            ));
        }
        if schema.get("enum").is_some() {
            out.push(("not one of the enum".into(), json!("zz-not-an-option")));
        }
    }
    if !types.contains(&"boolean") {
        out.push(("a boolean where none is allowed".into(), json!(true)));
    } else if !types.contains(&"string") {
        out.push(("a string where none is allowed".into(), json!("zz")));
    }
    out
}

impl Suite {
    pub(super) fn generated_invalid(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        let spec = self.spec()?;
        let wd = Workdir::new();
        let mut problems = Vec::new();
        let mut tried = 0;
        let mut judge = |out: &super::runner::Output, case: &Case, what: &str| {
            tried += 1;
            if let Some(p) = Self::expect_config_error(out, &case.path, what) {
                problems.push(p);
            }
            if let Some(canary) = &self.canary
                && (out.stderr.contains(canary.as_str()) || out.stdout.contains(canary.as_str()))
            {
                problems.push(format!("{what}: the canary secret was printed"));
            }
        };
        for case in cases(&spec["connection"], &spec["connection"], conn) {
            let out = self.validate(&wd, &case.doc, None);
            judge(
                &out,
                &case,
                &format!("connection settings with {}", case.what),
            );
        }
        for (activity, config) in &self.configs {
            let Some(schema) = activity_part(&spec, activity, "config") else {
                continue;
            };
            for case in cases(schema, schema, config) {
                let out = self.validate(&wd, conn, Some((activity, &case.doc)));
                judge(
                    &out,
                    &case,
                    &format!("`{activity}` settings with {}", case.what),
                );
            }
        }
        let conn_file = wd.json("conn.json", conn);
        for t in &self.targets {
            let Some(schema) = activity_part(&spec, &t.activity, "request") else {
                continue;
            };
            let base = match &t.request {
                Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
                one => one.clone(),
            };
            let cfg = wd.json("config.json", &t.config);
            for case in cases(schema, schema, &base) {
                let input = wd.json("input.json", &case.doc);
                let out = Run::new(&self.binary)
                    .args(["validate", "--connection", &conn_file, &t.activity])
                    .args(["--config", &cfg, "--input", &input])
                    .output();
                judge(
                    &out,
                    &case,
                    &format!("a `{}` request with {}", t.activity, case.what),
                );
            }
        }
        if tried == 0 {
            problems.push("no constraint found to break in any schema: the check proves nothing; are the fixtures' settings objects?".into());
        }
        Ok(problems)
    }
}

/// The schema `part` (`config`, `request`) of `activity` in the manifest.
fn activity_part<'a>(spec: &'a Value, activity: &str, part: &str) -> Option<&'a Value> {
    spec["activities"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == activity)
        .and_then(|a| a.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_break_each_constraint_once() {
        let schema = json!({
            "type": "object",
            "properties": {
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "name": {"type": "string", "minLength": 1},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "inner": {"$ref": "#/$defs/Inner"}
            },
            "required": ["port"],
            "$defs": {"Inner": {"type": "object", "properties": {"on": {"type": "boolean"}}}}
        });
        let base = json!({"port": 25, "name": "n", "mode": "a", "inner": {"on": true}});
        let found = cases(&schema, &schema, &base);
        let paths: Vec<(&str, &Value)> = found
            .iter()
            .map(|c| {
                (
                    c.path.as_str(),
                    c.doc.pointer(&c.path).unwrap_or(&Value::Null),
                )
            })
            .collect();
        for expected in [
            ("/port", json!(0)),
            ("/port", json!(65536)),
            ("/port", json!(1.5)),
            ("/name", json!("")),
            ("/mode", json!("zz-not-an-option")),
            ("/inner/on", json!("zz")),
        ] {
            assert!(
                paths
                    .iter()
                    .any(|(p, v)| *p == expected.0 && **v == expected.1),
                "{expected:?} not in {paths:?}"
            );
        }
        assert!(
            found
                .iter()
                .any(|c| c.what.contains("required `port`") && c.doc.get("port").is_none())
        );
    }
}
