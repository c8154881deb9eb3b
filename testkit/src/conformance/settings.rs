//! Checks of settings: valid ones accepted, invalid ones refused with exit 2 and their
//! path, unknown fields refused, schema defaults that deserialize.

use serde_json::{Value, json};

use super::runner::{Output, Run, Workdir};
use super::{Suite, schema, with_value};

impl Suite {
    pub(super) fn validate(
        &self,
        wd: &Workdir,
        conn: &Value,
        activity: Option<(&str, &Value)>,
    ) -> Output {
        let conn_file = wd.json("validate-conn.json", conn);
        let mut run = Run::new(&self.binary).args(["validate", "--connection", &conn_file]);
        if let Some((name, config)) = activity {
            let cfg = wd.json("validate-config.json", config);
            run = run.args([name, "--config", &cfg]);
        }
        run.output()
    }

    pub(super) fn valid_settings(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        let wd = Workdir::new();
        let mut problems = Vec::new();
        let out = self.validate(&wd, conn, None);
        if out.code != Some(0) {
            problems.push(format!(
                "the valid connection settings were refused: {}",
                out.last_line()
            ));
        }
        for (activity, config) in &self.configs {
            let out = self.validate(&wd, conn, Some((activity, config)));
            if out.code != Some(0) {
                problems.push(format!(
                    "the valid settings of `{activity}` were refused: {}",
                    out.last_line()
                ));
            }
        }
        Ok(problems)
    }

    pub(super) fn expect_config_error(out: &Output, path: &str, what: &str) -> Option<String> {
        let err = out.error();
        if out.code != Some(2) {
            return Some(format!(
                "{what}: expected exit 2, got {:?} ({})",
                out.code,
                out.last_line()
            ));
        }
        match err {
            None => Some(format!(
                "{what}: the last stderr line is not a JSON error: {}",
                out.last_line()
            )),
            Some(e) if e["kind"] != "config" || e["path"] != path => Some(format!(
                "{what}: expected a config error at {path:?}, got kind {} at {}; the error must name the JSON path of the bad value",
                e["kind"], e["path"]
            )),
            Some(_) => None,
        }
    }

    pub(super) fn invalid_settings(&self) -> Vec<String> {
        let wd = Workdir::new();
        self.invalid
            .iter()
            .filter_map(|(settings, path)| {
                let out = self.validate(&wd, settings, None);
                Self::expect_config_error(&out, path, &format!("settings {settings}"))
            })
            .collect()
    }

    pub(super) fn unknown_fields(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        let wd = Workdir::new();
        let key = "zz_conformance_unknown_field";
        let mut problems = Vec::new();
        let mut bad = conn.clone();
        bad[key] = json!(1);
        if let Some(p) = Self::expect_config_error(
            &self.validate(&wd, &bad, None),
            &format!("/{key}"),
            "connection settings with an unknown field",
        ) {
            problems.push(format!("{p}; put #[connector_sdk::settings] (which denies unknown fields) on the settings type"));
        }
        for (activity, config) in &self.configs {
            let mut bad = config.clone();
            bad[key] = json!(1);
            let out = self.validate(&wd, conn, Some((activity, &bad)));
            if let Some(p) = Self::expect_config_error(
                &out,
                &format!("/{key}"),
                &format!("`{activity}` settings with an unknown field"),
            ) {
                problems.push(p);
            }
        }
        Ok(problems)
    }

    pub(super) fn defaults(&self) -> Result<Vec<String>, String> {
        let conn = self.need(&self.connection, "connection")?;
        let spec = self.spec()?;
        let wd = Workdir::new();
        let mut problems = Vec::new();
        for schema::Default {
            pointer: path,
            value: default,
            only_if,
            parent_requires,
        } in schema::defaults(&spec["connection"])
        {
            // A variant's default applies only where the fixture uses that variant.
            if only_if.is_some_and(|(tag, value)| conn.pointer(&tag) != Some(&value)) {
                continue;
            }
            if parent_requires && !has_parent(conn, &path) {
                continue;
            }
            let Some(candidate) = with_value(conn, &path, default.clone()) else {
                continue;
            };
            let out = self.validate(&wd, &candidate, None);
            if out.code != Some(0) {
                problems.push(format!("connection{path}: the schema's default {default} is refused: {}; make the serde default and the schema agree", out.last_line()));
            }
        }
        for (activity, config) in &self.configs {
            let schema = spec["activities"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["name"] == activity.as_str())
                .map(|a| a["config"].clone())
                .unwrap_or(Value::Null);
            for schema::Default {
                pointer: path,
                value: default,
                only_if,
                parent_requires,
            } in schema::defaults(&schema)
            {
                if only_if.is_some_and(|(tag, value)| config.pointer(&tag) != Some(&value)) {
                    continue;
                }
                if parent_requires && !has_parent(config, &path) {
                    continue;
                }
                let Some(candidate) = with_value(config, &path, default.clone()) else {
                    continue;
                };
                let out = self.validate(&wd, conn, Some((activity, &candidate)));
                if out.code != Some(0) {
                    problems.push(format!(
                        "{activity}{path}: the schema's default {default} is refused: {}",
                        out.last_line()
                    ));
                }
            }
        }
        Ok(problems)
    }
}

/// Whether `doc` has the object that holds `pointer` (the top always exists).
fn has_parent(doc: &Value, pointer: &str) -> bool {
    match pointer.rsplit_once('/') {
        Some(("", _)) | None => true,
        Some((parent, _)) => doc.pointer(parent).is_some_and(Value::is_object),
    }
}
