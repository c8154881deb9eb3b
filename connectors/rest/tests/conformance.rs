//! The conformance suite over the tutorial REST connector, against the local API.

mod common;

use std::time::Duration;

use common::{ItemsApi, TOKEN};
use connector_testkit::conformance::{SourceCase, Suite};
use serde_json::json;

fn suite() -> Suite {
    let api = ItemsApi::start();
    let live = api.settings();
    let target_api = api.settings();
    std::mem::forget(api);
    Suite::new(common::BIN, "rest")
        .snapshots(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"))
        .connection(live.clone())
        .canary(TOKEN)
        .invalid_connection(json!({"base_url": "not a url", "token": "t"}), "/base_url")
        .invalid_connection(json!({"token": "t"}), "/base_url")
        .invalid_connection(
            json!({"base_url": "http://127.0.0.1:1/v1", "token": "t", "timeout": "soon"}),
            "/timeout",
        )
        .config("items", json!({"page_size": 10}))
        .invalid_config("items", json!({"max_items": 0}), "/max_items")
        .wrong_credentials({
            let mut wrong = live.clone();
            wrong["token"] = json!("not-the-token");
            move || wrong.clone()
        })
        .silent(
            |port| json!({"base_url": format!("http://127.0.0.1:{port}/v1"), "token": "t", "timeout": "2s"}),
            Duration::from_secs(2),
        )
        .config("create", json!({}))
        .unreachable(
            json!({"base_url": "http://127.0.0.1:9/v1", "token": "t", "timeout": "2s"}),
            Duration::from_secs(15),
        )
        .live(move || live.clone())
        .source("items", "/id", || {
            let api = ItemsApi::start();
            api.seed(25);
            SourceCase {
                connection: api.settings(),
                config: json!({"page_size": 10}),
                records: 25,
                guard: Box::new(api),
            }
        })
        .target(
            "create",
            json!({}),
            json!([{"name": "a"}, {"name": "b"}]),
            move || target_api.clone(),
        )
        .invalid_request(json!({"nam": "x"}), "/nam")
        .invalid_request(json!([{"name": "a"}, {"name": "  "}]), "/1/name")
}

connector_testkit::conformance_tests!(suite());
