//! Tests of `stream.rs`, kept apart so the code reads in one screenful of concerns.
use super::*;
use std::io::{Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A coalesced client stream and the server's end of it.
async fn pair() -> (Stream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = TcpStream::connect(addr).await.expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let stream = Stream::new(
        Inner::Plain(client),
        Proto::Smtp,
        Duration::from_secs(5),
        addr,
    );
    (stream, server)
}

/// Whether anything arrives at `server` within 200 ms.
fn arrived(server: &mut std::net::TcpStream) -> Vec<u8> {
    server
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = vec![0; 4096];
    match server.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn held_writes_go_out_together_when_the_client_reads() {
    runtime().block_on(async {
        let (mut stream, mut server) = pair().await;
        let outbox = stream.coalesced();
        // What a protocol client does: write and flush each piece.
        stream
            .write_all(b"MAIL FROM:<a@b>\r\n")
            .await
            .expect("write");
        stream.flush().await.expect("flush");
        outbox.push(b"RCPT TO:<c@d>\r\n");
        stream.write_all(b"DATA\r\n").await.expect("write");
        stream.flush().await.expect("flush");
        assert!(!outbox.is_empty());
        assert_eq!(arrived(&mut server), b"", "nothing goes out before a read");

        let reader = tokio::spawn(async move {
            let mut reply = [0u8; 8];
            stream.read_exact(&mut reply).await.expect("read");
            (stream, reply)
        });
        let got = tokio::task::spawn_blocking(move || {
            let got = arrived(&mut server);
            server.write_all(b"250 ok\r\n").expect("reply");
            (got, server)
        })
        .await
        .expect("server");
        assert_eq!(got.0, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
        let (stream, reply) = reader.await.expect("reader");
        assert_eq!(&reply, b"250 ok\r\n");
        assert!(outbox.is_empty());
        drop(stream);
    });
}

#[test]
fn large_writes_go_straight_out_after_what_was_held() {
    runtime().block_on(async {
        let (mut stream, server) = pair().await;
        let _outbox = stream.coalesced();
        stream
            .write_all(b"BDAT 70000 LAST\r\n")
            .await
            .expect("write");
        let big = vec![b'x'; 70_000];
        assert!(big.len() >= Outbox::DIRECT);
        let reading = std::thread::spawn(move || {
            let mut server = server;
            let mut got = vec![0; 17 + 70_000];
            server
                .read_exact(&mut got)
                .expect("all of it, without a read by the client");
            got
        });
        stream.write_all(&big).await.expect("write");
        stream.flush().await.expect("flush");
        let got = tokio::task::spawn_blocking(move || reading.join().expect("join"))
            .await
            .expect("server");
        assert!(got.starts_with(b"BDAT 70000 LAST\r\nxxx"));
    });
}

#[test]
fn the_probe_tells_a_closed_or_talking_peer_from_a_quiet_one() {
    runtime().block_on(async {
        let (stream, server) = pair().await;
        let probe = stream.probe().expect("probe");
        assert!(!probe.peer_gone(), "an open, quiet connection");
        drop(server);
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            probe.peer_gone()
        });
        assert!(gone, "a closed connection");

        let (stream, mut server) = pair().await;
        let probe = stream.probe().expect("probe");
        server
            .write_all(b"421 4.4.2 idle too long\r\n")
            .expect("write");
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            probe.peer_gone()
        });
        assert!(gone, "a server that spoke unasked");
        drop(stream);
    });
}

#[test]
fn read_ahead_hands_on_every_byte_in_order_whatever_the_read_sizes() {
    // An IMAP stream reads up to READ_AHEAD bytes at once and serves small reads from
    // them; a large read after a small one must get what was read ahead first (it once
    // went to the socket directly and skipped it, and the IMAP answer came garbled).
    runtime().block_on(async {
        let (stream, mut server) = pair().await;
        let mut stream = stream.watched(Arc::default());
        let sent: Vec<u8> = (0..3 * READ_AHEAD as u32)
            .map(|i| b"abcdefghij\r\n"[(i % 12) as usize])
            .collect();
        let copy = sent.clone();
        let writer = std::thread::spawn(move || server.write_all(&copy).expect("write"));
        let mut got = Vec::new();
        let mut sizes = [7usize, 2 * READ_AHEAD, 100, READ_AHEAD + 1, 3]
            .into_iter()
            .cycle();
        while got.len() < sent.len() {
            let mut piece = vec![0u8; sizes.next().expect("a size")];
            let n = stream.read(&mut piece).await.expect("read");
            assert!(n > 0, "closed after {} bytes", got.len());
            got.extend_from_slice(&piece[..n]);
        }
        writer.join().expect("writer");
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "the bytes came out of order");
    });
}

#[test]
fn a_stream_shows_its_protocol_peer_and_encryption_but_no_data() {
    runtime().block_on(async {
        let (stream, _server) = pair().await;
        let shown = format!("{stream:?}");
        assert!(
            shown.starts_with("Stream { proto: Smtp, peer: 127.0.0.1:"),
            "{shown}"
        );
        assert!(shown.ends_with(", tls: false, .. }"), "{shown}");
    });
}

#[test]
fn an_imap_client_is_served_up_to_the_end_of_a_completion_and_no_further() {
    runtime().block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let watch = Arc::new(Watch::default());
        let mut stream = Stream::new(
            Inner::Plain(client),
            Proto::Imap,
            Duration::from_secs(5),
            addr,
        )
        .watched(Arc::clone(&watch));
        // One segment: an answer, its completion, and what comes after it.
        server
            .write_all(b"* 1 EXISTS\r\na1 OK done\r\n* 2 EXISTS\r\na2 OK next\r\n")
            .expect("write");
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (size, expected) in [
            // Read ahead (a small buffer) and straight from the socket (a large one).
            (16, &b"* 1 EXISTS\r\na1 O"[..]),
            (16, b"K done\r\n"),
            (1 << 20, b"* 2 EXISTS\r\na2 OK next\r\n"),
        ] {
            let mut buf = vec![0; size];
            let n = stream.read(&mut buf).await.expect("read");
            assert_eq!(&buf[..n], expected);
        }
        server
            .write_all(b"a3 OK one\r\n* 3 EXISTS\r\n")
            .expect("write");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut buf = vec![0; 1 << 20];
        let n = stream.read(&mut buf).await.expect("read");
        assert_eq!(&buf[..n], b"a3 OK one\r\n", "cut straight from the socket");
        let n = stream.read(&mut buf).await.expect("read");
        assert_eq!(
            &buf[..n],
            b"* 3 EXISTS\r\n",
            "then served from what was kept"
        );
    });
}
