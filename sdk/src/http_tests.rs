//! Tests of `http.rs`.
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::*;
use crate::error::ErrorKind;

/// An HTTP server on loopback that answers each connection with the next of
/// `answers` (a status line and headers; `Connection: close` is added) and keeps
/// each request as text (head and body). `None` takes the connection and never
/// answers.
fn serve(answers: Vec<Option<String>>) -> (Url, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base: Url = format!("http://{}/v1/", listener.local_addr().expect("addr"))
        .parse()
        .expect("url");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for answer in answers {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                let complete = text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(str::to_owned)
                        })
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    body.len() >= length
                });
                if n == 0 || complete {
                    log.lock().expect("log").push(text);
                    break;
                }
            }
            match answer {
                Some(answer) => {
                    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
                    let _ = write!(stream, "{head}\r\nConnection: close\r\n\r\n{body}");
                }
                None => std::thread::sleep(Duration::from_secs(5)),
            }
        }
    });
    (base, seen)
}

fn ok(body: &str) -> Option<String> {
    Some(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

fn status(line: &str, headers: &str, body: &str) -> Option<String> {
    Some(format!(
        "HTTP/1.1 {line}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

fn quick(base: &Url) -> ClientBuilder {
    Client::builder(base).retry(Backoff::new(Duration::from_millis(5)).attempts(3))
}

#[tokio::test]
async fn answers_are_read_up_to_the_limit_and_no_further() {
    let big = format!("\"{}\"", "x".repeat(2 << 20));
    let (base, _) = serve(vec![
        // Content-Length over the limit: refused before reading.
        ok("[1,2,3,456]"),
        // No Content-Length, chunks adding up to more: refused while reading.
        Some("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n[1,2,3\r\n5\r\n,456]\r\n0\r\n\r\n".into()),
        // Exactly the limit: read.
        ok("[1,2,3,45]"),
        // The default limit is 16 MiB: 2 MiB is read.
        ok(&big),
    ]);
    let client = quick(&base).max_body_bytes(10).build().expect("client");
    for _ in 0..2 {
        let e = client
            .get::<Value>("items", &[])
            .await
            .expect_err("too large");
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert!(e.message().contains("larger than 10 bytes"), "{e}");
        assert!(!e.is_retryable());
    }
    let v: Vec<u32> = client.get("items", &[]).await.expect("10 bytes");
    assert_eq!(v, [1, 2, 3, 45]);
    let client = Client::builder(&base).build().expect("client");
    let v: String = client.get("big", &[]).await.expect("2 MiB");
    assert_eq!(v.len(), 2 << 20);
}

#[tokio::test]
async fn statuses_are_classified_with_the_servers_words_made_printable() {
    let (base, _) = serve(vec![
        status("401 Unauthorized", "", "who?"),
        status("429 Too Many Requests", "Retry-After: 7\r\n", ""),
        status("503 Service Unavailable", "", ""),
        status("404 Not Found", "", " no such\u{7}thing\n"),
        ok("not json"),
        ok(""),
    ]);
    let client = Client::builder(&base)
        .build()
        .expect("client")
        .without_retries();
    let e = client.get::<Value>("a", &[]).await.expect_err("401");
    assert_eq!(
        (e.kind(), e.is_retryable()),
        (ErrorKind::Auth, false),
        "{e}"
    );
    let e = client.get::<Value>("a", &[]).await.expect_err("429");
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = client.get::<Value>("a", &[]).await.expect_err("503");
    assert_eq!(
        (e.kind(), e.is_retryable()),
        (ErrorKind::Connect, true),
        "{e}"
    );
    let e = client.get::<Value>("/things", &[]).await.expect_err("404");
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert_eq!(e.message(), "HTTP 404: GET /things: no such thing");
    let e = client.get::<Value>("a", &[]).await.expect_err("not JSON");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(
        e.message().starts_with("GET a: the answer is not JSON"),
        "{e}"
    );
    // An empty answer is JSON's null.
    assert_eq!(
        client.get::<Value>("a", &[]).await.expect("empty"),
        Value::Null
    );
}

#[tokio::test]
async fn a_get_is_retried_and_a_post_only_when_the_server_did_not_act_on_it() {
    let (base, seen) = serve(vec![
        status("503 Service Unavailable", "", ""),
        ok("1"),
        // A POST answered 503 may have been acted on: not sent again.
        status("503 Service Unavailable", "", ""),
        // A POST answered 429 was not: sent again.
        status("429 Too Many Requests", "Retry-After: 0\r\n", ""),
        ok("2"),
    ]);
    let client = quick(&base).build().expect("client");
    assert_eq!(client.get::<u32>("a", &[]).await.expect("retried"), 1);
    let e = client.post::<_, u32>("a", &1).await.expect_err("503");
    assert!(!e.is_retryable(), "the outcome is unknown: {e}");
    assert_eq!(client.post::<_, u32>("a", &1).await.expect("after 429"), 2);
    assert_eq!(seen.lock().expect("log").len(), 5);
    // Once means once.
    let (base, seen) = serve(vec![status("503 Service Unavailable", "", ""), ok("1")]);
    let client = quick(&base).build().expect("client").without_retries();
    assert!(client.get::<u32>("a", &[]).await.is_err());
    assert_eq!(seen.lock().expect("log").len(), 1);
}

#[tokio::test]
async fn requests_carry_the_token_agent_query_and_body_under_the_base() {
    let (base, seen) = serve(vec![ok("{}"), ok("{}")]);
    let client = quick(&base)
        .bearer(Secret::new("tok-123"))
        .user_agent("agent/1")
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let debug = format!("{client:?}");
    assert!(
        debug.contains("/v1") && !debug.contains("tok-123"),
        "{debug}"
    );
    let _: Value = client.get("/items", &[("limit", "5")]).await.expect("get");
    let _: Value = client
        .post("items", &serde_json::json!({"name": "a"}))
        .await
        .expect("post");
    let seen = seen.lock().expect("log").clone();
    let get = seen[0].to_ascii_lowercase();
    assert!(
        get.starts_with("get /v1/items?limit=5 http/1.1\r\n"),
        "{get}"
    );
    assert!(get.contains("authorization: bearer tok-123\r\n"), "{get}");
    assert!(get.contains("user-agent: agent/1\r\n"), "{get}");
    let post = seen[1].to_ascii_lowercase();
    assert!(post.starts_with("post /v1/items http/1.1\r\n"), "{post}");
    assert!(
        post.contains("content-type: application/json\r\n"),
        "{post}"
    );
    assert!(post.ends_with("\r\n\r\n{\"name\":\"a\"}"), "{post}");
}

#[tokio::test]
async fn failures_to_reach_the_server_name_the_path_never_the_query() {
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base: Url = format!("http://{}", closed.local_addr().expect("addr"))
        .parse()
        .expect("url");
    drop(closed);
    let client = quick(&base).build().expect("client");
    let e = client
        .get::<Value>("items", &[("key", "hidden-value")])
        .await
        .expect_err("refused");
    assert_eq!(
        (e.kind(), e.is_retryable()),
        (ErrorKind::Connect, true),
        "{e}"
    );
    assert!(
        e.message().starts_with("GET items: cannot connect: "),
        "{e}"
    );
    assert!(!e.message().contains("hidden-value"), "{e}");
    // The deepest cause, the system's words, not reqwest's wrapping.
    assert!(e.message().to_lowercase().contains("refused"), "{e}");
    // Refused at once, so nothing was sent: a POST stays retryable too.
    let e = client
        .post::<_, Value>("items", &1)
        .await
        .expect_err("refused");
    assert_eq!(
        (e.kind(), e.is_retryable()),
        (ErrorKind::Connect, true),
        "{e}"
    );
    // Taken but never answered: a timeout, after the one attempt asked for.
    let (base, seen) = serve(vec![None]);
    let client = quick(&base)
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client")
        .without_retries();
    let e = client.get::<Value>("slow", &[]).await.expect_err("timeout");
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::Timeout, "GET slow: no answer in time")
    );
    assert_eq!(seen.lock().expect("log").len(), 1);
}

#[tokio::test]
async fn pages_follow_the_cursor_until_it_ends_or_repeats() {
    let (base, seen) = serve(vec![
        ok(r#"{"items":[1],"next":"c2"}"#),
        ok(r#"{"items":[2],"next":7}"#),
        ok(r#"{"items":[3],"next":"7"}"#),
    ]);
    let client = quick(&base).build().expect("client");
    let mut pages = client
        .pages("items")
        .query("limit", 100)
        .cursor("after", "/next")
        .start_at(Some("c1".into()));
    assert_eq!(pages.position(), Some("c1"));
    let mut items = Vec::new();
    while let Some(page) = pages.next::<Value>().await.expect("page") {
        items.push(page["items"][0].as_u64().expect("item"));
    }
    assert_eq!(items, [1, 2, 3]);
    // The same cursor again ended it: it is where the next run starts.
    assert_eq!(pages.position(), Some("7"));
    assert!(pages.next::<Value>().await.expect("done").is_none());
    let seen = seen.lock().expect("log").clone();
    let lines: Vec<&str> = seen.iter().filter_map(|r| r.lines().next()).collect();
    assert_eq!(
        lines,
        [
            "GET /v1/items?limit=100&after=c1 HTTP/1.1",
            "GET /v1/items?limit=100&after=c2 HTTP/1.1",
            "GET /v1/items?limit=100&after=7 HTTP/1.1",
        ]
    );
    // An empty or null cursor ends it; without a cursor there is one page.
    for last in [r#"{"next":""}"#, r#"{"next":null}"#, r#"{"other":1}"#] {
        let (base, _) = serve(vec![ok(last), ok("{}")]);
        let client = quick(&base).build().expect("client");
        let mut pages = client.pages("items").cursor("after", "/next");
        assert!(pages.next::<Value>().await.expect("one").is_some());
        assert!(
            pages.next::<Value>().await.expect("end").is_none(),
            "{last}"
        );
        assert_eq!(pages.position(), None);
    }
    // Without a cursor, not even an answer that is itself a string is taken for one.
    let (base, _) = serve(vec![ok(r#""c2""#), ok("{}")]);
    let client = quick(&base).build().expect("client");
    let mut pages = client.pages("items");
    assert!(pages.next::<Value>().await.expect("one").is_some());
    assert!(pages.next::<Value>().await.expect("end").is_none());
}
