//! Backward compatibility between two manifests, by JSON Schema semantics: every value
//! the old schema of an *input* (connection settings, activity settings, requests,
//! state) accepted must still be accepted, since a platform stores them; every value
//! the new schema of an *output* (records, results) allows must have been allowed
//! before, since consumers parse them. Each rule is decided conservatively: when a
//! change cannot be shown safe (a new `pattern`), it is reported.
//!
//! | rule | inputs break when | outputs break when |
//! | --- | --- | --- |
//! | `type` | a type is no longer accepted | a new type may appear |
//! | `enum` | a value is no longer accepted | a new value may appear |
//! | `required` | a field becomes required | a field is no longer always there |
//! | `property` | a field is removed | a field is removed |
//! | `bounds` | `minimum`/`maximum` (or exclusive ones) tighten | they loosen |
//! | `length` | `minLength`/`maxLength`/`minItems`/`maxItems` tighten | they loosen |
//! | `pattern` | a pattern is added or changed | a pattern is removed or changed |
//! | `format` | a format is added or changed | a format is removed or changed |
//! | `additional` | `additionalProperties` becomes `false` | - |
//! | `branch` | a `oneOf`/`anyOf` branch is removed | a branch is added |
//! | `default` | a default changes (settings that omit it change meaning) | - |
//! | `activity` | an activity is removed or changes role | the same |

use serde_json::Value;

use super::schema::resolve;

/// How deep the comparison follows nested schemas (recursive types end here).
const MAX_DEPTH: usize = 32;

/// One incompatible change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where, in the manifest (`activities/send/request/to`).
    pub path: String,
    /// The rule it breaks (`bounds`, `branch` …).
    pub rule: &'static str,
    /// What changed, and whom it breaks.
    pub detail: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} [{}]", self.path, self.detail, self.rule)
    }
}

/// Every change from `old` to `new` that breaks users of `old`.
pub fn breaking_changes(old: &Value, new: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    let old_acts = activity_map(old);
    let new_acts = activity_map(new);
    for (name, oa) in &old_acts {
        let at = format!("activities/{name}");
        match new_acts.iter().find(|(n, _)| n == name) {
            None => out.push(change(&at, "activity", "the activity was removed".into())),
            Some((_, na)) => {
                if oa.get("role") != na.get("role") {
                    out.push(change(
                        &at,
                        "activity",
                        format!("role changed from {} to {}", oa["role"], na["role"]),
                    ));
                }
                for key in ["config", "request", "state"] {
                    if let (Some(o), Some(n)) = (oa.get(key), na.get(key)) {
                        Cmp::new(o, n, Dir::Input, &mut out).walk(o, n, &format!("{at}/{key}"), 0);
                    }
                }
                for key in ["response", "record"] {
                    if let (Some(o), Some(n)) = (oa.get(key), na.get(key)) {
                        Cmp::new(o, n, Dir::Output, &mut out).walk(o, n, &format!("{at}/{key}"), 0);
                    }
                }
            }
        }
    }
    if let (Some(o), Some(n)) = (old.get("connection"), new.get("connection")) {
        Cmp::new(o, n, Dir::Input, &mut out).walk(o, n, "connection", 0);
    }
    out
}

fn change(path: &str, rule: &'static str, detail: String) -> Change {
    Change {
        path: path.to_owned(),
        rule,
        detail,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Values the platform stores: the new schema must accept all the old accepted.
    Input,
    /// Values consumers parse: the new schema must allow nothing the old did not.
    Output,
}

struct Cmp<'a> {
    oroot: &'a Value,
    nroot: &'a Value,
    dir: Dir,
    out: &'a mut Vec<Change>,
}

impl<'a> Cmp<'a> {
    fn new(oroot: &'a Value, nroot: &'a Value, dir: Dir, out: &'a mut Vec<Change>) -> Self {
        Self {
            oroot,
            nroot,
            dir,
            out,
        }
    }

    fn push(&mut self, at: &str, rule: &'static str, detail: String) {
        self.out.push(change(at, rule, detail));
    }

    fn walk(&mut self, o: &Value, n: &Value, at: &str, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let (o, n) = (resolve(self.oroot, o), resolve(self.nroot, n));
        self.types(o, n, at);
        self.enums(o, n, at);
        self.bounds(o, n, at);
        self.text(o, n, at, "pattern");
        self.text(o, n, at, "format");
        self.branches(o, n, at, depth);
        self.object(o, n, at, depth);
        if let (Some(oi), Some(ni)) = (
            o.get("items").filter(|i| i.is_object()),
            n.get("items").filter(|i| i.is_object()),
        ) {
            self.walk(oi, ni, &format!("{at}/items"), depth + 1);
        }
    }

    fn types(&mut self, o: &Value, n: &Value, at: &str) {
        let (ot, nt) = (types(self.oroot, o), types(self.nroot, n));
        if ot.is_empty() || nt.is_empty() {
            return;
        }
        let (from, to) = self.ordered(&ot, &nt);
        for t in from {
            if !to.contains(t) {
                let detail = match self.dir {
                    Dir::Input => format!("no longer accepts {t} (types {ot:?} → {nt:?})"),
                    Dir::Output => format!(
                        "may now be {t}, which consumers do not expect (types {ot:?} → {nt:?})"
                    ),
                };
                self.push(at, "type", detail);
            }
        }
    }

    fn enums(&mut self, o: &Value, n: &Value, at: &str) {
        let (Some(ov), Some(nv)) = (enum_values(self.oroot, o), enum_values(self.nroot, n)) else {
            return;
        };
        let (from, to) = self.ordered(&ov, &nv);
        for v in from {
            if !to.contains(v) {
                let detail = match self.dir {
                    Dir::Input => format!("value {v} is no longer accepted"),
                    Dir::Output => {
                        format!("value {v} may now appear, which consumers do not expect")
                    }
                };
                self.push(at, "enum", detail);
            }
        }
    }

    /// `(from, to)`: for inputs every old value must be in the new set; for outputs
    /// every new value must have been in the old.
    fn ordered<'v, T>(&self, old: &'v [T], new: &'v [T]) -> (&'v [T], &'v [T]) {
        match self.dir {
            Dir::Input => (old, new),
            Dir::Output => (new, old),
        }
    }

    fn bounds(&mut self, o: &Value, n: &Value, at: &str) {
        // (keyword, rule, larger is tighter)
        for (key, rule, tighter_up) in [
            ("minimum", "bounds", true),
            ("exclusiveMinimum", "bounds", true),
            ("maximum", "bounds", false),
            ("exclusiveMaximum", "bounds", false),
            ("minLength", "length", true),
            ("maxLength", "length", false),
            ("minItems", "length", true),
            ("maxItems", "length", false),
            ("minProperties", "length", true),
            ("maxProperties", "length", false),
        ] {
            let (ov, nv) = (
                o.get(key).and_then(Value::as_f64),
                n.get(key).and_then(Value::as_f64),
            );
            let tighter = match (ov, nv) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(a), Some(b)) => {
                    if tighter_up {
                        b > a
                    } else {
                        b < a
                    }
                }
            };
            let looser = match (ov, nv) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(a), Some(b)) => {
                    if tighter_up {
                        b < a
                    } else {
                        b > a
                    }
                }
            };
            let show = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
            match self.dir {
                Dir::Input if tighter => self.push(
                    at,
                    rule,
                    format!("{key} tightened from {} to {}: values the old schema accepted are refused", show(ov), show(nv)),
                ),
                Dir::Output if looser => self.push(
                    at,
                    rule,
                    format!("{key} loosened from {} to {}: consumers may see values outside the old range", show(ov), show(nv)),
                ),
                _ => {}
            }
        }
    }

    fn text(&mut self, o: &Value, n: &Value, at: &str, key: &'static str) {
        let (ov, nv) = (o.get(key), n.get(key));
        if ov == nv {
            return;
        }
        let breaks = match self.dir {
            Dir::Input => nv.is_some(),  // added or changed
            Dir::Output => ov.is_some(), // removed or changed
        };
        if breaks {
            let show = |v: Option<&Value>| v.map_or_else(|| "none".to_owned(), Value::to_string);
            self.push(
                at,
                key,
                format!("{key} changed from {} to {}", show(ov), show(nv)),
            );
        }
    }

    fn branches(&mut self, o: &Value, n: &Value, at: &str, depth: usize) {
        let (ob, nb) = (branch_list(o), branch_list(n));
        if ob.is_empty() || nb.is_empty() {
            return;
        }
        // Enum-like branches (consts) are compared by the enum rule.
        if enum_values(self.oroot, o).is_some() && enum_values(self.nroot, n).is_some() {
            return;
        }
        let (from, from_root, to, to_root) = match self.dir {
            Dir::Input => (&ob, self.oroot, &nb, self.nroot),
            Dir::Output => (&nb, self.nroot, &ob, self.oroot),
        };
        for (i, b) in from.iter().enumerate() {
            let key = shape(from_root, b);
            match to.iter().find(|c| shape(to_root, c) == key) {
                Some(c) => {
                    let (ob, nb) = match self.dir {
                        Dir::Input => (*b, *c),
                        Dir::Output => (*c, *b),
                    };
                    self.walk(ob, nb, &format!("{at}/{i}"), depth + 1);
                }
                None => {
                    let detail = match self.dir {
                        Dir::Input => {
                            format!("the branch {key} is gone: values of that form are refused")
                        }
                        Dir::Output => {
                            format!("a new branch {key} may appear, which consumers do not expect")
                        }
                    };
                    self.push(at, "branch", detail);
                }
            }
        }
    }

    fn object(&mut self, o: &Value, n: &Value, at: &str, depth: usize) {
        let (oreq, nreq) = (required(o), required(n));
        match self.dir {
            Dir::Input => {
                for r in &nreq {
                    if !oreq.contains(r) {
                        self.push(
                            &format!("{at}/{r}"),
                            "required",
                            "new required field; stored settings without it are refused (give it a default)".into(),
                        );
                    }
                }
            }
            Dir::Output => {
                for r in &oreq {
                    if !nreq.contains(r) && props(n).iter().any(|(k, _)| k == r) {
                        self.push(
                            &format!("{at}/{r}"),
                            "required",
                            "no longer always present; consumers reading it may break".into(),
                        );
                    }
                }
            }
        }
        if self.dir == Dir::Input
            && o.get("additionalProperties") != Some(&Value::Bool(false))
            && n.get("additionalProperties") == Some(&Value::Bool(false))
            && (o.get("properties").is_some() || o.get("type") == Some(&Value::from("object")))
        {
            self.push(
                at,
                "additional",
                "additionalProperties became false: fields the old schema let through are refused"
                    .into(),
            );
        }
        let nprops = props(n);
        for (name, os) in props(o) {
            let here = format!("{at}/{name}");
            match nprops.iter().find(|(k, _)| *k == name) {
                None => {
                    let detail = match self.dir {
                        Dir::Input => "property removed; stored settings that set it are refused",
                        Dir::Output => "field removed; consumers reading it break",
                    };
                    self.push(&here, "property", detail.into());
                }
                Some((_, ns)) => {
                    if self.dir == Dir::Input {
                        let (od, nd) = (
                            resolve(self.oroot, os).get("default").or(os.get("default")),
                            resolve(self.nroot, ns).get("default").or(ns.get("default")),
                        );
                        if od.is_some() && od != nd {
                            let show = |v: Option<&Value>| {
                                v.map_or_else(|| "none".to_owned(), Value::to_string)
                            };
                            self.push(
                                &here,
                                "default",
                                format!("default changed from {} to {}: stored settings that leave it out change meaning", show(od), show(nd)),
                            );
                        }
                    }
                    self.walk(os, ns, &here, depth + 1);
                }
            }
        }
    }
}

/// The branches of a `oneOf` and an `anyOf`.
fn branch_list(s: &Value) -> Vec<&Value> {
    ["oneOf", "anyOf"]
        .iter()
        .filter_map(|k| s.get(*k).and_then(Value::as_array))
        .flatten()
        .collect()
}

/// What identifies a branch across versions: its `const`, or its type with the names of
/// its required properties (`object{file}`): a variant is known by what it must have,
/// so adding an optional field compares the branch rather than replacing it.
fn shape(root: &Value, b: &Value) -> String {
    let b = resolve(root, b);
    if let Some(c) = b.get("const") {
        return c.to_string();
    }
    let mut names = required(b);
    names.sort_unstable();
    format!("{}{{{}}}", types(root, b).join("|"), names.join(","))
}

fn activity_map(m: &Value) -> Vec<(String, &Value)> {
    m.get("activities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                a,
            )
        })
        .collect()
}

fn types(root: &Value, s: &Value) -> Vec<String> {
    fn collect(root: &Value, s: &Value, depth: usize, t: &mut Vec<String>) {
        if depth > MAX_DEPTH {
            return;
        }
        let s = resolve(root, s);
        match s.get("type") {
            Some(Value::String(x)) => t.push(x.clone()),
            Some(Value::Array(xs)) => {
                t.extend(xs.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
        for k in ["anyOf", "oneOf"] {
            for b in s.get(k).and_then(Value::as_array).into_iter().flatten() {
                collect(root, b, depth + 1, t);
            }
        }
    }
    let mut t = Vec::new();
    collect(root, s, 0, &mut t);
    if t.contains(&"number".to_owned()) && !t.contains(&"integer".to_owned()) {
        t.push("integer".into());
    }
    t.sort();
    t.dedup();
    t
}

fn enum_values(root: &Value, s: &Value) -> Option<Vec<Value>> {
    let s = resolve(root, s);
    if let Some(Value::Array(v)) = s.get("enum") {
        return Some(v.clone());
    }
    let alts = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array)?;
    alts.iter()
        .map(|a| resolve(root, a).get("const").cloned())
        .collect()
}

fn required(s: &Value) -> Vec<String> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn props(s: &Value) -> Vec<(String, &Value)> {
    s.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default()
}

/// The part of a semantic version that says which versions are compatible, as Cargo
/// reads it: the major version, or for `0.y.z` the minor one (`0.1` and `0.2` are
/// incompatible, `1.2` and `1.3` are not).
pub(crate) fn compat_level(version: &str) -> (u64, u64) {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    if major == 0 { (0, minor) } else { (major, 0) }
}

#[cfg(test)]
mod tests;
