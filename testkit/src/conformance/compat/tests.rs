//! Each compatibility rule with a before/after pair, for inputs and outputs.

use super::*;
use serde_json::json;

fn manifest(connection: Value, record: Value) -> Value {
    json!({"connection": connection, "activities": [{"name": "a", "role": "source", "config": {"type": "object"}, "record": record}]})
}

/// The rules `new` breaks relative to `old` for a connection setting `x` (an input)
/// and for a record field `x` (an output).
fn rules(old: Value, new: Value) -> (Vec<&'static str>, Vec<&'static str>) {
    let wrap = |s: Value| json!({"type": "object", "properties": {"x": s}});
    let input = breaking_changes(
        &manifest(wrap(old.clone()), json!({"type": "object"})),
        &manifest(wrap(new.clone()), json!({"type": "object"})),
    );
    let output = breaking_changes(
        &manifest(json!({"type": "object"}), wrap(old)),
        &manifest(json!({"type": "object"}), wrap(new)),
    );
    (
        input.iter().map(|c| c.rule).collect(),
        output.iter().map(|c| c.rule).collect(),
    )
}

#[test]
fn bounds_narrowing_breaks_inputs_widening_breaks_outputs() {
    let port = |max: u32| json!({"type": "integer", "minimum": 1, "maximum": max});
    assert_eq!(rules(port(65535), port(1024)), (vec!["bounds"], vec![]));
    assert_eq!(rules(port(1024), port(65535)), (vec![], vec!["bounds"]));
    assert_eq!(rules(port(80), port(80)), (vec![], vec![]));
    let min = |m: u32| json!({"type": "integer", "minimum": m});
    assert_eq!(rules(min(1), min(5)).0, vec!["bounds"]);
    assert_eq!(rules(json!({"type": "integer"}), min(0)).0, vec!["bounds"]);
}

#[test]
fn lengths_patterns_and_formats() {
    let s = |extra: Value| {
        let mut v = json!({"type": "string"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    assert_eq!(
        rules(s(json!({"maxLength": 10})), s(json!({"maxLength": 5}))).0,
        vec!["length"]
    );
    assert_eq!(
        rules(s(json!({})), s(json!({"minLength": 1}))).0,
        vec!["length"]
    );
    assert_eq!(
        rules(s(json!({})), s(json!({"pattern": "^a"}))),
        (vec!["pattern"], vec![])
    );
    assert_eq!(
        rules(s(json!({"pattern": "^a"})), s(json!({}))),
        (vec![], vec!["pattern"])
    );
    assert_eq!(
        rules(s(json!({})), s(json!({"format": "email"}))),
        (vec!["format"], vec![])
    );
    let arr = |max: u32| json!({"type": "array", "items": {"type": "string"}, "maxItems": max});
    assert_eq!(rules(arr(10), arr(3)).0, vec!["length"]);
}

#[test]
fn enums_types_required_properties_and_additional_properties() {
    let e = |vals: Value| json!({"enum": vals});
    assert_eq!(
        rules(e(json!(["a", "b"])), e(json!(["a"]))),
        (vec!["enum"], vec![])
    );
    assert_eq!(
        rules(e(json!(["a"])), e(json!(["a", "b"]))),
        (vec![], vec!["enum"])
    );
    assert_eq!(
        rules(
            json!({"type": ["string", "null"]}),
            json!({"type": "string"})
        ),
        (vec!["type"], vec![])
    );
    let obj = |req: Value, add: bool| json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": req, "additionalProperties": add});
    assert_eq!(
        rules(obj(json!([]), true), obj(json!(["a"]), true)).0,
        vec!["required"]
    );
    assert_eq!(
        rules(obj(json!(["a"]), true), obj(json!([]), true)).1,
        vec!["required"]
    );
    assert_eq!(
        rules(obj(json!([]), true), obj(json!([]), false)).0,
        vec!["additional"]
    );
    assert_eq!(
        rules(
            obj(json!([]), true),
            json!({"type": "object", "properties": {}})
        ),
        (vec!["property"], vec!["property"])
    );
}

#[test]
fn a_removed_branch_of_a_secret_breaks_inputs() {
    let secret = |with_file: bool| {
        let mut branches = vec![
            json!({"type": "string"}),
            json!({"type": "object", "properties": {"env": {"type": "string"}}, "required": ["env"]}),
        ];
        if with_file {
            branches.push(json!({"type": "object", "properties": {"file": {"type": "string"}}, "required": ["file"]}));
        }
        json!({"oneOf": branches, "writeOnly": true})
    };
    assert_eq!(rules(secret(true), secret(false)), (vec!["branch"], vec![]));
    assert_eq!(rules(secret(false), secret(true)), (vec![], vec!["branch"]));
}

#[test]
fn a_changed_default_breaks_stored_settings() {
    let d = |v: u32| json!({"type": "integer", "default": v});
    assert_eq!(rules(d(3), d(4)).0, vec!["default"]);
    assert_eq!(rules(d(3), d(3)).0, Vec::<&str>::new());
}

#[test]
fn recursive_schemas_end() {
    let tree = json!({"$defs": {"T": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/T"}}}}}, "$ref": "#/$defs/T"});
    let m = manifest(tree.clone(), tree);
    assert!(breaking_changes(&m, &m).is_empty());
}

#[test]
fn compatibility_follows_cargo() {
    assert!(compat_level("0.2.0") > compat_level("0.1.9"));
    assert_eq!(compat_level("0.1.0"), compat_level("0.1.7"));
    assert_eq!(compat_level("1.2.0"), compat_level("1.9.3"));
    assert!(compat_level("2.0.0") > compat_level("1.9.3"));
    assert!(compat_level("1.0.0") > compat_level("0.9.0"));
}
