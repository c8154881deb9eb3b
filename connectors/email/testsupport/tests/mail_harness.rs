//! The harness starts real Postfix and Dovecot, delivers through them, and reports
//! what is stored.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use email_testsupport::mail::MailServers;

fn servers() -> &'static MailServers {
    MailServers::shared().unwrap_or_else(|e| panic!("the mail servers must start: {e}"))
}

fn smtp(stream: &mut BufReader<TcpStream>, line: &str) -> String {
    if !line.is_empty() {
        stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write");
    }
    let mut reply = String::new();
    loop {
        let mut l = String::new();
        stream.read_line(&mut l).expect("read");
        reply.push_str(&l);
        if l.len() < 4 || l.as_bytes()[3] == b' ' {
            return reply;
        }
    }
}

#[test]
fn plain_relay_port_delivers_to_imap_storage() {
    let s = servers();
    let user = s.new_user();
    let tcp = TcpStream::connect(("127.0.0.1", s.ports.smtp_plain)).expect("connect");
    let mut c = BufReader::new(tcp);
    assert!(smtp(&mut c, "").starts_with("220"));
    assert!(smtp(&mut c, "EHLO test").starts_with("250"));
    assert!(smtp(&mut c, "MAIL FROM:<sender@example.test>").starts_with("250"));
    assert!(smtp(&mut c, &format!("RCPT TO:<{}>", user.address)).starts_with("250"));
    assert!(
        smtp(&mut c, "RCPT TO:<nobody@example.test>").starts_with("550"),
        "unknown users are refused at RCPT"
    );
    assert!(smtp(&mut c, "DATA").starts_with("354"));
    assert!(
        smtp(
            &mut c,
            "Message-ID: <harness-1@example.test>\r\nSubject: hi\r\n\r\nbody\r\n."
        )
        .starts_with("250")
    );
    smtp(&mut c, "QUIT");
    let stored = s
        .wait_for(&user, "INBOX", 1, Duration::from_secs(10))
        .expect("delivered");
    assert_eq!(stored[0].message_id, "<harness-1@example.test>");
    assert!(!stored[0].seen());
    let raw = s.raw_message(&user, "INBOX", stored[0].uid).expect("raw");
    assert!(String::from_utf8_lossy(&raw).contains("Subject: hi"));
}

#[test]
fn deliver_stores_raw_bytes_and_folders_can_be_created() {
    let s = servers();
    let user = s.new_user();
    s.create_folder(&user, "Processed").expect("create");
    s.deliver(
        &user,
        "Processed",
        b"Subject: raw\r\nMessage-ID: <raw@x>\r\n\r\nnot even MIME\r\n",
    )
    .expect("save");
    let stored = s.messages(&user, "Processed").expect("list");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message_id, "<raw@x>");
    assert!(s.messages(&user, "INBOX").expect("list").is_empty());
}

/// One IMAP command on a fresh plaintext connection; returns the tagged reply line.
fn imap_authenticate(port: u16, mechanism: &str, initial: &str) -> String {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut c = BufReader::new(tcp);
    let mut line = String::new();
    c.read_line(&mut line).expect("greeting");
    c.get_mut()
        .write_all(format!("a1 AUTHENTICATE {mechanism} {initial}\r\n").as_bytes())
        .expect("write");
    loop {
        line.clear();
        c.read_line(&mut line).expect("read");
        if line.starts_with('+') {
            // A failure first comes as a challenge with the error; answer it empty.
            c.get_mut().write_all(b"\r\n").expect("write");
        } else if line.starts_with("a1 ") {
            return line;
        }
    }
}

fn xoauth2(user: &str, token: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"))
}

#[test]
fn dovecot_accepts_signed_oauth2_tokens_and_refuses_bad_ones() {
    let s = servers();
    let user = s.new_user();
    let token = s
        .access_token(&user, Duration::from_secs(300))
        .expect("token");
    let ok = imap_authenticate(s.ports.imap, "XOAUTH2", &xoauth2(&user.address, &token));
    assert!(ok.starts_with("a1 OK"), "a valid token logs in: {ok}");

    let other = s.new_user();
    let wrong_user = imap_authenticate(s.ports.imap, "XOAUTH2", &xoauth2(&other.address, &token));
    assert!(
        wrong_user.starts_with("a1 NO"),
        "a token for someone else is refused: {wrong_user}"
    );

    let expired = s.access_token(&user, Duration::ZERO).expect("token");
    std::thread::sleep(Duration::from_millis(1100));
    let late = imap_authenticate(s.ports.imap, "XOAUTH2", &xoauth2(&user.address, &expired));
    assert!(
        late.starts_with("a1 NO"),
        "an expired token is refused: {late}"
    );

    // Change the signature's first character: every bit of it counts. (The last one
    // carries padding bits a decoder may ignore, which made this test pass a forged
    // token about one run in sixteen.)
    let at = token.rfind('.').expect("a JWT") + 1;
    let mut forged = token.clone();
    let first = &token[at..=at];
    forged.replace_range(at..=at, if first == "A" { "B" } else { "A" });
    let bad = imap_authenticate(s.ports.imap, "XOAUTH2", &xoauth2(&user.address, &forged));
    assert!(
        bad.starts_with("a1 NO"),
        "a bad signature is refused: {bad}"
    );

    // Passwords still work beside tokens.
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD
        .encode(format!("\0{}\0{}", user.address, user.password));
    assert!(imap_authenticate(s.ports.imap, "PLAIN", &plain).starts_with("a1 OK"));
}
