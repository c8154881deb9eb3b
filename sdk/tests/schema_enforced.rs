//! Every constraint a derived schema shows is enforced by `from_value` (which
//! `validate` and `run` use), with the JSON path and the expected form; an error never
//! quotes a secret, an object or an array.

use connector_sdk::{Error, Secret, from_value};
use serde_json::{Value, json};

#[connector_sdk::settings]
/// Settings with every kind of constraint.
struct Limits {
    /// Between 1 and 300.
    #[schemars(range(min = 1, max = 300))]
    #[serde(default = "ten")]
    page_size: u32,
    /// 2 to 8 characters.
    #[schemars(length(min = 2, max = 8))]
    #[serde(default)]
    code: Option<String>,
    /// Lower-case words.
    #[schemars(regex(pattern = r"^[a-z]+$"))]
    #[serde(default)]
    word: Option<String>,
    /// An address.
    #[schemars(email)]
    #[serde(default)]
    email: Option<String>,
    /// At most 3 tags.
    #[schemars(length(max = 3))]
    #[serde(default)]
    tags: Vec<String>,
    /// How to log in.
    #[serde(default)]
    login: Option<Login>,
    /// How fast.
    #[serde(default)]
    pace: Option<Pace>,
}

#[connector_sdk::settings]
#[serde(rename_all = "snake_case")]
/// A pace.
enum Pace {
    /// Slowly.
    Slow,
    /// Quickly.
    Fast,
}

fn ten() -> u32 {
    10
}

#[connector_sdk::settings]
#[serde(tag = "type", rename_all = "snake_case")]
/// A login.
enum Login {
    /// With a password.
    Basic {
        /// Who.
        username: String,
        /// The password.
        password: Secret,
    },
    /// With a token.
    Token {
        /// The token.
        token: Secret,
        /// Seconds it lasts.
        #[schemars(range(min = 60))]
        lifetime: u32,
    },
}

fn err(value: Value) -> Error {
    from_value::<Limits>(&value).expect_err("must be refused")
}

fn at(value: Value) -> (String, String) {
    let e = err(value);
    (
        e.path().unwrap_or_default().to_owned(),
        e.message().to_owned(),
    )
}

#[test]
fn values_inside_the_constraints_are_accepted() {
    let ok: Limits = from_value(&json!({
        "page_size": 300, "code": "ab", "word": "abc", "email": "a@example.com",
        "tags": ["a", "b", "c"], "login": {"type": "token", "token": "t", "lifetime": 60}
    }))
    .expect("valid");
    assert_eq!(ok.page_size, 300);
    assert_eq!(
        from_value::<Limits>(&json!({}))
            .expect("defaults")
            .page_size,
        10
    );
}

#[test]
fn a_wrong_scalar_is_quoted_unless_its_place_may_hold_a_secret() {
    // Where no secret goes, the value is shown; where one may, only its kind.
    assert_eq!(
        at(json!({"page_size": true})).1,
        "expected an integer from 1 to 300, got true"
    );
    let (path, message) =
        at(json!({"login": {"type": "basic", "username": "u", "password": true}}));
    assert_eq!(path, "/login/password");
    assert!(message.ends_with("got true or false"), "{message}");
    let (_, message) = at(json!({"login": {"type": "basic", "username": "u", "password": 12345}}));
    assert!(message.ends_with("got a number"), "{message}");
}

#[test]
fn bounds_lengths_patterns_and_formats_are_enforced_with_their_path() {
    assert_eq!(
        at(json!({"page_size": 0})),
        (
            "/page_size".into(),
            "expected an integer from 1 to 300, got 0".into()
        )
    );
    assert_eq!(
        at(json!({"page_size": 10_000})),
        (
            "/page_size".into(),
            "expected an integer from 1 to 300, got 10000".into()
        )
    );
    assert_eq!(
        at(json!({"code": "a"})),
        (
            "/code".into(),
            r#"expected a string of 2 to 8 characters or null, got "a""#.into()
        )
    );
    assert_eq!(at(json!({"code": "abcdefghi"})).0, "/code");
    assert_eq!(
        at(json!({"word": "Abc"})),
        (
            "/word".into(),
            r#"expected a string matching ^[a-z]+$ or null, got "Abc""#.into()
        )
    );
    assert_eq!(
        at(json!({"email": "not an address"})),
        (
            "/email".into(),
            r#"expected a string (email) or null, got "not an address""#.into()
        )
    );
    assert_eq!(
        at(json!({"tags": ["a", "b", "c", "d"]})),
        (
            "/tags".into(),
            "expected an array of strings with at most 3 items, got an array of 4 items".into()
        )
    );
    assert_eq!(
        at(json!({"login": {"type": "token", "token": "t", "lifetime": 59}})),
        (
            "/login/lifetime".into(),
            "expected an integer of at least 60, got 59".into()
        )
    );
}

#[test]
fn required_unknown_and_enum_problems_name_the_exact_place() {
    assert_eq!(
        at(json!({"login": {"type": "basic", "password": "p"}})),
        (
            "/login/username".into(),
            "missing required field, expected a string".into()
        )
    );
    let (path, message) =
        at(json!({"login": {"type": "basic", "username": "u", "password": "p", "x": 1}}));
    assert_eq!(path, "/login/x");
    assert!(
        message.starts_with("unknown field, expected one of: "),
        "{message}"
    );
    assert!(message.contains("password, type, username"), "{message}");
    assert_eq!(
        at(json!({"login": {"type": "magic"}})),
        (
            "/login/type".into(),
            r#"expected one of "basic", "token", got "magic""#.into()
        )
    );
    // An enum of documented unit variants (a `oneOf` of constants): the values it takes.
    assert_eq!(
        at(json!({"pace": "warp"})),
        (
            "/pace".into(),
            r#"expected one of "slow", "fast", got "warp""#.into()
        )
    );
    // A wrong tag among other wrong fields: the tag is what to fix first.
    for extra in [
        json!({"lifetime": "x"}),
        json!({"username": 5, "lifetime": -1}),
    ] {
        let mut login = json!({"type": "magic"});
        login
            .as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        assert_eq!(
            at(json!({ "login": login })),
            (
                "/login/type".into(),
                r#"expected one of "basic", "token", got "magic""#.into()
            ),
            "{login}"
        );
    }
}

#[test]
fn errors_never_quote_secrets_objects_or_arrays() {
    let secret = "hunter2-do-not-print";
    let cases = [
        // A wrong-typed object holding a password.
        json!({"login": [{"type": "basic", "username": "u", "password": secret}]}),
        // A string where an object holding secrets goes.
        json!({"login": format!("basic:u:{secret}")}),
        // A secret of the wrong type.
        json!({"login": {"type": "basic", "username": "u", "password": {"literal": secret}}}),
        // A whole document of the wrong type.
        json!([{"login": {"type": "token", "token": secret, "lifetime": 1}}]),
        // A wrong value next to a secret.
        json!({"login": {"type": "token", "token": secret, "lifetime": "long"}}),
    ];
    for case in cases {
        let e = err(case.clone());
        let text = format!("{e} {}", serde_json::to_string(&e.body()).expect("json"));
        assert!(!text.contains(secret), "{case}: {text}");
        assert!(
            !e.message().contains('{'),
            "an object was quoted for {case}: {text}"
        );
    }
    assert_eq!(
        at(json!([{"login": 1}])),
        (
            "".into(),
            "expected an object, got an array of 1 item".into()
        )
    );
}
