//! The harness starts real Postfix and Dovecot, delivers through them, and reports
//! what is stored.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use connector_testkit::mail::MailServers;

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
