//! Backward compatibility between two manifests: what a new version must keep
//! accepting (settings, requests) and keep producing (records, responses).

use serde_json::Value;

use super::schema::resolve;

/// Changes from `old` to `new` that break users of `old`: a removed activity or
/// property, a new required property, a narrowed type or enum, a changed role.
pub(crate) fn breaking_changes(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let old_acts = activity_map(old);
    let new_acts = activity_map(new);
    for (name, oa) in &old_acts {
        match new_acts.iter().find(|(n, _)| n == name) {
            None => out.push(format!("activity `{name}` was removed")),
            Some((_, na)) => {
                if oa.get("role") != na.get("role") {
                    out.push(format!(
                        "activity `{name}`: role changed from {} to {}",
                        oa["role"], na["role"]
                    ));
                }
                for key in ["config", "request"] {
                    if let (Some(o), Some(n)) = (oa.get(key), na.get(key)) {
                        compare_input(o, o, n, n, &format!("activities/{name}/{key}"), &mut out);
                    }
                }
                for key in ["response", "record"] {
                    if let (Some(o), Some(n)) = (oa.get(key), na.get(key)) {
                        compare_output(o, o, n, n, &format!("activities/{name}/{key}"), &mut out);
                    }
                }
            }
        }
    }
    if let (Some(o), Some(n)) = (old.get("connection"), new.get("connection")) {
        compare_input(o, o, n, n, "connection", &mut out);
    }
    out
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
    let s = resolve(root, s);
    let mut t: Vec<String> = match s.get("type") {
        Some(Value::String(x)) => vec![x.clone()],
        Some(Value::Array(xs)) => xs
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    for k in ["anyOf", "oneOf"] {
        for b in s.get(k).and_then(Value::as_array).into_iter().flatten() {
            t.extend(types(root, b));
        }
    }
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

fn required(root: &Value, s: &Value) -> Vec<String> {
    resolve(root, s)
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn props<'a>(root: &'a Value, s: &'a Value) -> Vec<(String, &'a Value)> {
    let s = resolve(root, s);
    s.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default()
}

/// Inputs (settings, requests) must keep accepting what they accepted.
fn compare_input(
    oroot: &Value,
    o: &Value,
    nroot: &Value,
    n: &Value,
    at: &str,
    out: &mut Vec<String>,
) {
    let (ot, nt) = (types(oroot, o), types(nroot, n));
    if !ot.is_empty() && !nt.is_empty() {
        for t in &ot {
            if !nt.contains(t) {
                out.push(format!(
                    "{at}: no longer accepts {t} (type narrowed from {ot:?} to {nt:?})"
                ));
            }
        }
    }
    if let (Some(ov), Some(nv)) = (enum_values(oroot, o), enum_values(nroot, n)) {
        for v in ov {
            if !nv.contains(&v) {
                out.push(format!(
                    "{at}: value {v} is no longer accepted (enum narrowed)"
                ));
            }
        }
    }
    let (oreq, nreq) = (required(oroot, o), required(nroot, n));
    for r in &nreq {
        if !oreq.contains(r) {
            out.push(format!(
                "{at}/{r}: new required field; existing settings do not have it (give it a default)"
            ));
        }
    }
    let nprops = props(nroot, n);
    for (name, os) in props(oroot, o) {
        match nprops.iter().find(|(k, _)| *k == name) {
            None => out.push(format!(
                "{at}/{name}: property removed; settings that set it are now refused"
            )),
            Some((_, ns)) => compare_input(oroot, os, nroot, ns, &format!("{at}/{name}"), out),
        }
    }
}

/// Outputs (responses, records) must keep every field consumers read, with its type.
fn compare_output(
    oroot: &Value,
    o: &Value,
    nroot: &Value,
    n: &Value,
    at: &str,
    out: &mut Vec<String>,
) {
    let (ot, nt) = (types(oroot, o), types(nroot, n));
    if !ot.is_empty() && !nt.is_empty() {
        for t in &nt {
            if !ot.contains(t) {
                out.push(format!("{at}: may now be {t}, which consumers do not expect (type changed from {ot:?} to {nt:?})"));
            }
        }
    }
    let nprops = props(nroot, n);
    for (name, os) in props(oroot, o) {
        match nprops.iter().find(|(k, _)| *k == name) {
            None => out.push(format!(
                "{at}/{name}: field removed; consumers reading it break"
            )),
            Some((_, ns)) => compare_output(oroot, os, nroot, ns, &format!("{at}/{name}"), out),
        }
    }
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
mod tests {
    use super::compat_level;

    #[test]
    fn compatibility_follows_cargo() {
        assert!(compat_level("0.2.0") > compat_level("0.1.9"));
        assert_eq!(compat_level("0.1.0"), compat_level("0.1.7"));
        assert_eq!(compat_level("1.2.0"), compat_level("1.9.3"));
        assert!(compat_level("2.0.0") > compat_level("1.9.3"));
        assert!(compat_level("1.0.0") > compat_level("0.9.0"));
    }
}
