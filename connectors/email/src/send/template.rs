//! Mail merge: a request (or the activity settings) carries a template (subject, text,
//! HTML) and each request its variables, rendered with minijinja. HTML is escaped by
//! default (`{{ name }}` in the HTML part cannot inject markup; `|safe` opts out), an
//! undefined variable is an error for that request (named, at `/variables`), and
//! rendering is bounded (templates may come from upstream, like any request).

use std::collections::BTreeMap;

use connector_sdk::{Error, Result};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

use super::request::Template;

/// Instructions a template may run, per part: a loop over a huge range ends here.
const FUEL: u64 = 200_000;

/// The rendered parts.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub(crate) subject: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) html: Option<String>,
}

/// Renders `template` with `variables`. `at` is the template's JSON path (`/template`,
/// or `` for the activity's).
pub(crate) fn render(
    template: &Template,
    variables: &BTreeMap<String, Value>,
    at: &str,
) -> Result<Rendered> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|name| {
        if name == "html" {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    let context = minijinja::Value::from(minijinja::value::Serde(variables));
    let part = |name: &'static str, source: &Option<String>| -> Result<Option<String>> {
        let Some(source) = source else {
            return Ok(None);
        };
        let rendered = env
            .render_named_str(name, source, &context)
            .map_err(|e| explain(at, name, &e))?;
        Ok(Some(rendered))
    };
    Ok(Rendered {
        subject: part("subject", &template.subject)?,
        text: part("text", &template.text)?,
        html: part("html", &template.html)?,
    })
}

/// The request as it will be sent: with its template (or the activity's) rendered into
/// its subject, text and HTML. A part given both by the template and by the request is
/// refused (which one was meant is not ours to guess).
pub(crate) fn merged<'a>(
    config: &super::request::SendConfig,
    req: &'a super::request::SendRequest,
) -> Result<std::borrow::Cow<'a, super::request::SendRequest>> {
    let (template, at) = match (&req.template, &config.template) {
        (Some(t), _) => (t, "/template"),
        (None, Some(t)) => (t, ""),
        (None, None) => return Ok(std::borrow::Cow::Borrowed(req)),
    };
    let rendered = render(template, &req.variables, at)?;
    let mut out = req.clone();
    for (name, from_template, own) in [
        (
            "subject",
            rendered.subject.is_some(),
            !req.subject.is_empty(),
        ),
        ("text", rendered.text.is_some(), req.text.is_some()),
        ("html", rendered.html.is_some(), req.html.is_some()),
    ] {
        if from_template && own {
            return Err(Error::config(
                format!("/{name}"),
                format!("the template gives the {name}: leave it out of the request"),
            ));
        }
    }
    if let Some(subject) = rendered.subject {
        out.subject = subject;
    }
    out.text = rendered.text.or(out.text);
    out.html = rendered.html.or(out.html);
    Ok(std::borrow::Cow::Owned(out))
}

/// A rendering error in the user's terms: an undefined variable is the request's
/// `/variables` missing something; a bad template is the template's part.
fn explain(at: &str, part: &str, e: &minijinja::Error) -> Error {
    use minijinja::ErrorKind as K;
    let detail = e.detail().unwrap_or_default();
    match e.kind() {
        K::UndefinedError => Error::config(
            "/variables",
            format!(
                "the template's {part} uses a variable the request does not give{}",
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            ),
        ),
        K::OutOfFuel => Error::config(
            format!("{at}/{part}"),
            "the template does too much work (a loop too long); refused",
        ),
        _ => Error::config(
            format!("{at}/{part}"),
            format!("the template cannot be rendered: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(subject: &str, text: &str, html: &str) -> Template {
        Template {
            subject: Some(subject.into()),
            text: Some(text.into()),
            html: Some(html.into()),
        }
    }

    fn vars(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).expect("an object")
    }

    #[test]
    fn parts_render_and_html_is_escaped() {
        let t = template(
            "Invoice {{ number }}",
            "Dear {{ name }}, {{ items | length }} items.",
            "<p>Dear {{ name }}</p>",
        );
        let r = render(
            &t,
            &vars(json!({"number": 42, "name": "<b>Jo</b>", "items": [1, 2]})),
            "/template",
        )
        .expect("rendered");
        assert_eq!(r.subject.as_deref(), Some("Invoice 42"));
        assert_eq!(r.text.as_deref(), Some("Dear <b>Jo</b>, 2 items."));
        assert_eq!(
            r.html.as_deref(),
            Some("<p>Dear &lt;b&gt;Jo&lt;&#x2f;b&gt;</p>")
        );
    }

    #[test]
    fn an_undefined_variable_and_endless_work_are_errors_with_paths() {
        let t = template("Hi {{ nmae }}", "", "");
        let e = render(&t, &vars(json!({"name": "Jo"})), "/template").expect_err("undefined");
        assert_eq!(e.path(), Some("/variables"));
        let t = template(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "",
            "",
        );
        let e = render(&t, &vars(json!({})), "/template").expect_err("out of fuel");
        assert_eq!(e.path(), Some("/template/subject"));
        assert!(e.message().contains("does too much work"), "{e}");
        let t = template("{% if %}", "", "");
        let e = render(&t, &vars(json!({})), "").expect_err("syntax");
        assert_eq!(e.path(), Some("/subject"));
        assert!(
            e.message().starts_with("the template cannot be rendered: "),
            "{e}"
        );
    }
}
