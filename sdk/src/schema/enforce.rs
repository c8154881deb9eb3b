//! Every constraint a derived schema shows is enforced: a value is checked against its
//! type's JSON Schema (2020-12, with the `jsonschema` crate) before serde reads it, so
//! bounds, lengths, patterns, formats, enums, required fields and unknown fields are
//! refused with the JSON path and the expected form, the same in `validate` and `run`.
//!
//! What the manifest promises is what is checked: the schema is the one `spec` prints.
//! The first problem is reported; inside `oneOf`/`anyOf` (enums, secrets, addresses)
//! the branch the value was meant for is found and its problem reported, rather than
//! "matches no branch". An error never quotes an object, an array, or a value where a
//! secret may be.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::json::{describe, may_hold_secret, property_names, resolve, schema_at};

/// A type's schema and its compiled validator.
pub(crate) struct Compiled {
    pub(crate) schema: Value,
    validator: Option<Validator>,
}

static CACHE: LazyLock<Mutex<HashMap<TypeId, Arc<Compiled>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The compiled schema of `T`, built once per process.
pub(crate) fn compiled<T: schemars::JsonSchema + 'static>() -> Arc<Compiled> {
    let id = TypeId::of::<T>();
    if let Some(c) = CACHE.lock().ok().and_then(|m| m.get(&id).cloned()) {
        return c;
    }
    let schema = super::schema_of::<T>();
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| {
            // A schema the validator cannot compile is a bug in a hand-written
            // `JsonSchema` impl; serde still checks the value, so say it and go on.
            tracing::warn!(target: "connector_sdk::schema", "the schema of {} cannot be compiled, so only serde checks it: {e}", std::any::type_name::<T>());
        })
        .ok();
    let compiled = Arc::new(Compiled { schema, validator });
    if let Ok(mut m) = CACHE.lock() {
        m.insert(id, Arc::clone(&compiled));
    }
    compiled
}

impl Compiled {
    /// Checks `value` against the schema.
    ///
    /// # Errors
    /// A config error at the path of the first problem.
    pub(crate) fn check(&self, value: &Value) -> Result<()> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        match validator.iter_errors(value).next() {
            None => Ok(()),
            Some(first) => Err(self.explain(value, &first)),
        }
    }

    /// One validation error in the user's terms.
    fn explain(&self, value: &Value, error: &ValidationError<'_>) -> Error {
        let root = &self.schema;
        let path = error.instance_path().to_string();
        // The schema that owns the failed keyword, when its location resolves here;
        // otherwise the schema for the value's path.
        let owner = keyword_owner(root, &error.schema_path().to_string())
            .or_else(|| schema_at(root, &path))
            .unwrap_or(root);
        match error.kind() {
            ValidationErrorKind::OneOfNotValid { context }
            | ValidationErrorKind::AnyOf { context } => self.branch(value, &path, owner, context),
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let at = format!("{path}/{}", escape(name));
                let expected = resolve(root, owner)
                    .get("properties")
                    .and_then(|p| p.get(name))
                    .map(|s| format!(", expected {}", describe(root, s)))
                    .unwrap_or_default();
                Error::config(at, format!("missing required field{expected}"))
            }
            // `additionalProperties: false` with no `properties` (an empty struct such
            // as `NoConfig`) is reported as a false schema on the object itself: name
            // the field.
            ValidationErrorKind::FalseSchema
                if error
                    .schema_path()
                    .to_string()
                    .ends_with("/additionalProperties") =>
            {
                let name = value
                    .pointer(&path)
                    .and_then(Value::as_object)
                    .and_then(|o| o.keys().next().cloned())
                    .unwrap_or_default();
                Error::config(
                    format!("{path}/{}", escape(&name)),
                    "unknown field: this object takes no fields",
                )
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let name = unexpected.first().map(String::as_str).unwrap_or_default();
                let known = property_names(root, owner);
                let expected = if known.is_empty() {
                    String::new()
                } else {
                    format!(", expected one of: {}", known.join(", "))
                };
                Error::config(
                    format!("{path}/{}", escape(name)),
                    format!("unknown field{expected}"),
                )
            }
            _ => {
                let got = value.pointer(&path).map_or_else(String::new, |v| {
                    format!(", got {}", shown(v, may_hold_secret(root, owner)))
                });
                Error::config(path, format!("expected {}{got}", describe(root, owner)))
            }
        }
    }

    /// A value that matched no branch of a `oneOf`/`anyOf`: the problem in the branch it
    /// was meant for, or, when it fits none, what the branches accept.
    fn branch(
        &self,
        value: &Value,
        path: &str,
        owner: &Value,
        context: &[Vec<ValidationError<'static>>],
    ) -> Error {
        let root = &self.schema;
        // A branch "fits" when the value has its type and its tag (a `const` or `enum`
        // on a direct property); its errors are then the value's real problems.
        let fits = |errors: &Vec<ValidationError<'static>>| {
            !errors.iter().any(|e| {
                let at = e.instance_path().to_string();
                let on_tag = at.len() > path.len()
                    && at.starts_with(path)
                    && !at[path.len() + 1..].contains('/')
                    && matches!(
                        e.kind(),
                        ValidationErrorKind::Constant { .. } | ValidationErrorKind::Enum { .. }
                    );
                let wrong_value = at == path
                    && matches!(
                        e.kind(),
                        ValidationErrorKind::Type { .. }
                            | ValidationErrorKind::Constant { .. }
                            | ValidationErrorKind::Enum { .. }
                    );
                on_tag || wrong_value
            })
        };
        let best = context
            .iter()
            .filter(|errors| !errors.is_empty() && fits(errors))
            .min_by_key(|errors| errors.len());
        if let Some(first) = best.and_then(|errors| errors.first()) {
            return self.explain(value, first);
        }
        // No branch fits. When every branch failed on the same tag, name the tag.
        let tags: Vec<&ValidationError<'static>> = context
            .iter()
            .filter_map(|errors| {
                errors.iter().find(|e| {
                    matches!(e.kind(), ValidationErrorKind::Constant { .. })
                        && e.instance_path().to_string().len() > path.len()
                })
            })
            .collect();
        let tag_path = tags.first().map(|e| e.instance_path().to_string());
        if tags.len() == context.len()
            && let Some(tag_path) = tag_path
            && tags
                .iter()
                .all(|e| e.instance_path().to_string() == tag_path)
        {
            let mut consts: Vec<String> = Vec::new();
            for e in &tags {
                if let ValidationErrorKind::Constant { expected_value } = e.kind() {
                    let c = expected_value.to_string();
                    if !consts.contains(&c) {
                        consts.push(c);
                    }
                }
            }
            let got = value
                .pointer(&tag_path)
                .map_or_else(String::new, |v| format!(", got {}", shown(v, false)));
            let expected = if consts.len() == 1 {
                consts.remove(0)
            } else {
                format!("one of {}", consts.join(", "))
            };
            return Error::config(tag_path, format!("expected {expected}{got}"));
        }
        let got = value.pointer(path).map_or_else(String::new, |v| {
            format!(", got {}", shown(v, may_hold_secret(root, owner)))
        });
        Error::config(path, format!("expected {}{got}", describe(root, owner)))
    }
}

/// The schema holding the keyword at `location` (a JSON pointer into the schema, the
/// last segment being the keyword), if it resolves in `root`.
fn keyword_owner<'a>(root: &'a Value, location: &str) -> Option<&'a Value> {
    let (owner, _keyword) = location.rsplit_once('/')?;
    root.pointer(owner)
}

/// A value as an error may show it: scalars quoted (at most 60 characters) unless the
/// place may hold a secret, then only their type; objects and arrays by type only.
pub(crate) fn shown(value: &Value, secret: bool) -> String {
    match value {
        Value::Object(_) => "an object".to_owned(),
        Value::Array(a) => format!(
            "an array of {} item{}",
            a.len(),
            if a.len() == 1 { "" } else { "s" }
        ),
        Value::String(_) if secret => "a string".to_owned(),
        Value::Number(_) if secret => "a number".to_owned(),
        Value::Bool(_) if secret => "true or false".to_owned(),
        other => crate::json::brief(other),
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
