//! Tests of `json.rs`.
use super::*;

#[test]
fn descriptions_leave_out_what_is_for_rust_readers() {
    let doc = "The error body.\n\nSee [`Error`] and [the book](crate::book).\n\n```\nlet x = 1;\nassert!(x > 0);\n```\n\nKept [as is].\n\n# Examples\n\nNot kept.";
    assert_eq!(
        unwrap_paragraphs(doc),
        "The error body.\n\nSee `Error` and the book.\n\nKept [as is]."
    );
}
use serde_json::json;

#[test]
fn canonical_sorts_nested_keys() {
    let v = json!({"b": {"z": 1, "a": 2}, "a": [{"y": 1, "x": 2}]});
    assert_eq!(
        serde_json::to_string(&canonical(&v)).expect("json"),
        r#"{"a":[{"x":2,"y":1}],"b":{"a":2,"z":1}}"#
    );
}

#[test]
fn describes_common_shapes() {
    let root = json!({"$defs": {"P": {"type": "integer", "minimum": 1, "maximum": 65535}}});
    // A place that takes no value is not "any JSON value".
    for nothing in [json!(false), json!({"not": {}}), json!({"not": true})] {
        assert_eq!(
            describe(&root, &nothing),
            "nothing (leave it out)",
            "{nothing}"
        );
    }
    assert_eq!(
        describe(&root, &json!({"not": {"type": "string"}})),
        "any JSON value"
    );
    assert_eq!(
        describe(&root, &json!({"$ref": "#/$defs/P"})),
        "an integer from 1 to 65535"
    );
    assert_eq!(
        describe(&root, &json!({"type": ["string", "null"]})),
        "a string or null"
    );
    assert_eq!(
        describe(
            &root,
            &json!({"type": "array", "items": {"type": "string"}})
        ),
        "an array of strings"
    );
    assert_eq!(
        describe(&root, &json!({"enum": ["a", "b"]})),
        r#"one of "a", "b""#
    );
}

#[test]
fn schema_at_goes_through_refs_options_and_items() {
    let root = json!({
        "properties": {"imap": {"anyOf": [{"$ref": "#/$defs/I"}, {"type": "null"}]},
                       "to": {"type": "array", "items": {"type": "string"}}},
        "$defs": {"I": {"properties": {"port": {"type": "integer"}}}}
    });
    assert_eq!(
        schema_at(&root, "/imap/port"),
        Some(&json!({"type": "integer"}))
    );
    assert_eq!(schema_at(&root, "/to/3"), Some(&json!({"type": "string"})));
    assert_eq!(schema_at(&root, "/nope"), None);
}

#[test]
fn descriptions_are_unwrapped_everywhere_and_variants_describe_their_keys() {
    let mut schema = json!({
        "description": "Line one\nline two.\n\nNext paragraph.",
        "properties": {
            "auth": {"oneOf": [
                {"description": "Log in\nwith a password.", "properties": {
                    "type": {"const": "basic"}, "username": {"type": "string"}
                }},
                {"description": "Move it.", "properties": {"move_to": {"type": "string"}}},
                {"description": "Kept.", "properties": {"x": {"description": "Own\nwords."}}}
            ]},
            "mode": {"anyOf": [{"description": "A\nb.", "properties": {"k": {}}}]},
            "list": {"items": [{"description": "in\nan array"}]},
            // Not a variant: a property without a description stays without.
            "plain": {"description": "Top.", "properties": {"t": {"const": 1}}}
        }
    });
    unwrap_descriptions(&mut schema);
    assert_eq!(
        schema["description"],
        "Line one line two.\n\nNext paragraph."
    );
    let branches = &schema["properties"]["auth"]["oneOf"];
    assert_eq!(branches[0]["description"], "Log in with a password.");
    // The tag takes the variant's description; a second key gets none.
    assert_eq!(
        branches[0]["properties"]["type"]["description"],
        "`\"basic\"`: Log in with a password."
    );
    assert!(
        branches[0]["properties"]["username"]
            .get("description")
            .is_none()
    );
    // A newtype variant's lone key takes it whole.
    assert_eq!(
        branches[1]["properties"]["move_to"]["description"],
        "Move it."
    );
    // A key with words of its own keeps them (unwrapped).
    assert_eq!(branches[2]["properties"]["x"]["description"], "Own words.");
    assert_eq!(
        schema["properties"]["mode"]["anyOf"][0]["properties"]["k"]["description"],
        "A b."
    );
    assert_eq!(
        schema["properties"]["list"]["items"][0]["description"],
        "in an array"
    );
    assert!(
        schema["properties"]["plain"]["properties"]["t"]
            .get("description")
            .is_none()
    );
    // A `description` that is a property name, not a text, is left alone.
    let mut odd = json!({"properties": {"description": {"type": "string"}}});
    unwrap_descriptions(&mut odd);
    assert_eq!(
        odd,
        json!({"properties": {"description": {"type": "string"}}})
    );
}

#[test]
fn links_keep_their_text_and_other_brackets_stay() {
    assert_eq!(unlink("see [`Foo`] and [text](a::b)"), "see `Foo` and text");
    assert_eq!(unlink("[a [`B`]]"), "[a `B`]");
    assert_eq!(unlink("[`]"), "[`]");
    assert_eq!(unlink("[`x`] [plain] [open"), "`x` [plain] [open");
    assert_eq!(unlink("[t](no close"), "[t](no close");
    // A link inside a bracket: the outer bracket stays, the link keeps its text.
    assert_eq!(unlink("[a [b](c)"), "[a b");
}

#[test]
fn only_descriptions_are_polished_and_only_enum_branches_lend_theirs() {
    // A pattern with brackets and a default with line breaks are data, not prose; an
    // `allOf` part is not an enum variant, so its description stays its own.
    let mut schema = json!({
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z](-[a-z])*$", "default": "a\nb"},
            "note": {"type": "string", "default": "line one\nline two", "description": "A\nnote."}
        },
        "allOf": [{"description": "Shared.", "properties": {"x": {"type": "string"}}}],
        "oneOf": [{"description": "Basic.", "properties": {"y": {"type": "string"}}}]
    });
    unwrap_descriptions(&mut schema);
    assert_eq!(schema["properties"]["id"]["pattern"], "^[a-z](-[a-z])*$");
    assert_eq!(
        schema["properties"]["note"]["default"],
        "line one\nline two"
    );
    assert_eq!(schema["properties"]["note"]["description"], "A note.");
    assert!(
        schema["allOf"][0]["properties"]["x"]
            .get("description")
            .is_none()
    );
    assert_eq!(
        schema["oneOf"][0]["properties"]["y"]["description"],
        "Basic."
    );
}

#[test]
fn pointers_secrets_and_property_names() {
    let root = json!({
        "$defs": {"S": {"type": "string", "x-secret": true}},
        "properties": {
            "password": {"$ref": "#/$defs/S"},
            "maybe": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/S"}]},
            "name": {"type": "string", "x-secret": false},
            "nested": {"properties": {"deep": {"items": {"additionalProperties": {"$ref": "#/$defs/S"}}}}},
            "either": {"oneOf": [{"properties": {"b": {}, "a": {}}}, {"properties": {"a": {}, "c": {}}}]}
        }
    });
    assert_eq!(
        pointer(&root, "/properties/name/type"),
        Some(&json!("string"))
    );
    assert_eq!(pointer(&root, ""), Some(&root));
    assert_eq!(pointer(&root, "/nope"), None);
    let at = |p: &str| &root["properties"][p];
    assert!(is_secret(&root, at("password")));
    assert!(is_secret(&root, at("maybe")));
    assert!(!is_secret(&root, at("name")));
    assert!(!is_secret(&root, at("nested")));
    assert!(may_hold_secret(&root, at("nested")));
    assert!(!may_hold_secret(&root, at("either")));
    assert!(may_hold_secret(&root, &root));
    // A recursive type (a tree) is looked through once: it overflowed the stack.
    let tree = json!({"$defs": {"N": {"properties": {
        "name": {"type": "string"},
        "children": {"items": {"$ref": "#/$defs/N"}}
    }}}});
    assert!(!may_hold_secret(&tree, &json!({"$ref": "#/$defs/N"})));
    let secret_tree = json!({"$defs": {"N": {"properties": {
        "children": {"items": {"$ref": "#/$defs/N"}},
        "key": {"type": "string", "x-secret": true}
    }}}});
    assert!(may_hold_secret(&secret_tree, &json!({"$ref": "#/$defs/N"})));
    // The visit limit: past it, assume the worst.
    let wide: serde_json::Map<String, Value> = (0..10_001)
        .map(|i| (format!("p{i}"), json!({"type": "string"})))
        .collect();
    assert!(may_hold_secret(&json!({}), &json!({"properties": wide})));
    let fits: serde_json::Map<String, Value> = (0..9_000)
        .map(|i| (format!("p{i}"), json!({"type": "string"})))
        .collect();
    assert!(!may_hold_secret(&json!({}), &json!({"properties": fits})));
    assert_eq!(property_names(&root, at("either")), ["a", "b", "c"]);
    assert_eq!(property_names(&root, at("name")), Vec::<String>::new());
}

#[test]
fn a_type_that_is_a_branch_or_an_item_of_itself_ends() {
    // `#[serde(untagged)] enum A { Nested(Box<A>), Leaf(u32) }` and `struct L(Vec<L>)`:
    // each helper went round for ever (a stack overflow on the first bad input).
    let root = json!({"$defs": {
        "A": {"anyOf": [{"$ref": "#/$defs/A"}, {"type": "integer"}, {"properties": {"x": {}}}]},
        "L": {"type": "array", "items": {"$ref": "#/$defs/L"}}
    }});
    let a = json!({"$ref": "#/$defs/A"});
    assert!(!is_secret(&root, &a));
    assert_eq!(property_names(&root, &a), ["x"]);
    assert!(describe(&root, &a).contains("an integer"));
    let l = json!({"$ref": "#/$defs/L"});
    assert!(describe(&root, &l).starts_with("an array of arrays of"));
    // Three branches that are the type itself: each level triples the work, so it
    // ends only because the levels are few (3^8 steps; at 32 it would not end).
    let triple = json!({"anyOf": [{"$ref": "#"}, {"$ref": "#"}, {"$ref": "#"}, {"type": "null"}]});
    assert_eq!(schema_at(&triple, "/missing"), None);
    assert!(!is_secret(&triple, &triple));
    assert!(property_names(&triple, &triple).is_empty());
    assert!(describe(&triple, &triple).contains("null"));
    let looped = json!({"anyOf": [{"$ref": "#"}, {"type": "null"}]});
    assert_eq!(schema_at(&looped, "/missing"), None);
    assert!(!is_secret(&looped, &looped));
}

#[test]
fn branches_are_followed_eight_deep_and_no_deeper() {
    // The leaf sits `n` branches down: found at 8, not looked for at 9 (the input
    // never sets this depth: the schema is ours, but a generated one can be deep).
    let nested = |n: usize| {
        let mut s = json!({"x-secret": true, "properties": {"deep": {"type": "string"}}});
        for _ in 0..n {
            s = json!({"anyOf": [s]});
        }
        s
    };
    let (eight, nine) = (nested(8), nested(9));
    assert!(is_secret(&eight, &eight));
    assert!(!is_secret(&nine, &nine));
    assert_eq!(property_names(&eight, &eight), ["deep"]);
    assert!(property_names(&nine, &nine).is_empty());
    assert_eq!(schema_at(&eight, "/deep"), Some(&json!({"type": "string"})));
    assert_eq!(schema_at(&nine, "/deep"), None);
    assert!(describe(&eight, &eight).contains("a secret"));
    assert!(!describe(&nine, &nine).contains("a secret"));
}

#[test]
fn counts_bounds_and_briefs_read_as_english() {
    let string = |extra: Value| {
        let mut s = json!({"type": "string"});
        s.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        describe(&json!({}), &s)
    };
    assert_eq!(
        string(json!({"minLength": 2, "maxLength": 8})),
        "a string of 2 to 8 characters"
    );
    assert_eq!(
        string(json!({"minLength": 3, "maxLength": 3})),
        "a string of exactly 3 characters"
    );
    assert_eq!(
        string(json!({"minLength": 1, "maxLength": 1})),
        "a string of exactly 1 character"
    );
    assert_eq!(
        string(json!({"minLength": 1})),
        "a string of at least 1 character"
    );
    assert_eq!(string(json!({"minLength": 0})), "a string");
    assert_eq!(
        string(json!({"minLength": 0, "maxLength": 1})),
        "a string of 0 to 1 character"
    );
    assert_eq!(
        string(json!({"maxLength": 5})),
        "a string of at most 5 characters"
    );
    assert_eq!(
        string(json!({"format": "email", "pattern": "@"})),
        "a string (email) matching @"
    );
    assert_eq!(
        describe(
            &json!({}),
            &json!({"type": "array", "items": {"type": "integer"}, "maxItems": 3})
        ),
        "an array of integers with at most 3 items"
    );
    assert_eq!(
        describe(
            &json!({}),
            &json!({"anyOf": [{"type": "string"}, {"type": "string"}, {"type": "null"}]})
        ),
        "a string or null"
    );
    assert_eq!(
        describe(&json!({}), &json!({"oneOf": [{"const": "a"}]})),
        "\"a\""
    );
    let sixty = json!("x".repeat(58));
    assert_eq!(brief(&sixty).chars().count(), 60);
    assert_eq!(brief(&sixty), sixty.to_string());
    let long = json!("x".repeat(59));
    assert_eq!(brief(&long), format!("\"{}...", "x".repeat(56)));
}
