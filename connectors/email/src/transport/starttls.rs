//! STARTTLS: the plaintext exchange before the TLS handshake, for SMTP (RFC 3207) and
//! IMAP (RFC 3501 section 6.2.1). Replies are read a byte at a time, so nothing the
//! server sends after its go-ahead is consumed before TLS starts; a server that does
//! not offer STARTTLS is an error, never a silent plaintext session.

use connector_sdk::{Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::error::io_error;
use super::{Proto, Stream};

/// The longest line a server may send before TLS.
const MAX_LINE: usize = 8192;
/// The longest reply (all its lines) a server may send before TLS.
const MAX_REPLY: usize = 65_536;

/// Runs the protocol's STARTTLS exchange on a fresh plaintext connection. `hello` is
/// the SMTP EHLO name. Afterwards the caller starts the TLS handshake; the greeting
/// has been read.
pub(crate) async fn negotiate(
    stream: &mut Stream,
    proto: Proto,
    what: &str,
    hello: &str,
) -> Result<()> {
    match proto {
        Proto::Smtp => smtp(stream, what, hello).await,
        Proto::Imap => imap(stream, what).await,
    }
}

fn not_offered(what: &str) -> Error {
    Error::connect(format!(
        "{what}: the server does not offer STARTTLS, which `security: starttls` requires; refusing to continue in plaintext"
    ))
    .retryable(false)
}

async fn smtp(stream: &mut Stream, what: &str, hello: &str) -> Result<()> {
    expect(stream, what, "220", "").await?;
    let ehlo = expect(stream, what, "250", &format!("EHLO {hello}")).await?;
    let offered = ehlo.lines().any(|l| {
        l.get(4..)
            .is_some_and(|ext| ext.trim().eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        return Err(not_offered(what));
    }
    expect(stream, what, "220", "STARTTLS").await.map(drop)
}

async fn imap(stream: &mut Stream, what: &str) -> Result<()> {
    let greeting = read_line(stream, what).await?;
    if !greeting.starts_with("* OK") {
        return Err(Error::protocol(format!(
            "{what}: unexpected greeting: {}",
            greeting.trim_end()
        )));
    }
    let caps = command(stream, what, "s1", "CAPABILITY").await?;
    if !caps
        .split_whitespace()
        .any(|w| w.eq_ignore_ascii_case("STARTTLS"))
    {
        return Err(not_offered(what));
    }
    command(stream, what, "s2", "STARTTLS").await.map(drop)
}

/// SMTP: sends `command` (if any) and reads one reply, which must start with `code`.
async fn expect(stream: &mut Stream, what: &str, code: &str, command: &str) -> Result<String> {
    if !command.is_empty() {
        send(stream, what, command).await?;
    }
    let reply = read_reply(stream, what).await?;
    if reply.starts_with(code) {
        return Ok(reply);
    }
    let shown = if command.is_empty() {
        "the greeting"
    } else {
        command
    };
    Err(Error::protocol(format!(
        "{what}: unexpected reply to {shown}: {}",
        reply.trim_end()
    )))
}

/// SMTP: a reply of one or more lines (`250-…` continues, `250 …` ends it).
async fn read_reply(stream: &mut Stream, what: &str) -> Result<String> {
    let mut reply = String::new();
    loop {
        let line = read_line(stream, what).await?;
        let last = line.len() < 4 || line.as_bytes()[3] != b'-';
        reply.push_str(&line);
        if last {
            return Ok(reply);
        }
        if reply.len() > MAX_REPLY {
            return Err(Error::protocol(format!("{what}: reply too long")));
        }
    }
}

/// IMAP: sends a tagged command and reads up to its tagged reply, which must be OK.
async fn command(stream: &mut Stream, what: &str, tag: &str, cmd: &str) -> Result<String> {
    send(stream, what, &format!("{tag} {cmd}")).await?;
    let mut all = String::new();
    loop {
        let line = read_line(stream, what).await?;
        all.push_str(&line);
        if let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
            return if rest.starts_with("OK") {
                Ok(all)
            } else {
                Err(Error::protocol(format!(
                    "{what}: {cmd} failed: {}",
                    rest.trim_end()
                )))
            };
        }
        if all.len() > MAX_REPLY {
            return Err(Error::protocol(format!("{what}: reply to {cmd} too long")));
        }
    }
}

async fn send(stream: &mut Stream, what: &str, line: &str) -> Result<()> {
    stream
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(|e| io_error(what, &e))
}

/// One line, a byte at a time, at most [`MAX_LINE`] bytes.
async fn read_line(stream: &mut Stream, what: &str) -> Result<String> {
    let mut line = Vec::new();
    loop {
        let b = stream.read_u8().await.map_err(|e| io_error(what, &e))?;
        line.push(b);
        if b == b'\n' {
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        if line.len() > MAX_LINE {
            return Err(Error::protocol(format!("{what}: line too long")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::stream::Inner;
    use std::io::Write as _;
    use std::time::Duration;

    /// A stream to a loopback peer that has already sent `said`.
    async fn peer_saying(said: Vec<u8>) -> Stream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        std::thread::spawn(move || {
            let _ = server.write_all(&said);
            std::thread::sleep(Duration::from_secs(2));
        });
        Stream::new(
            Inner::Plain(client),
            Proto::Imap,
            Duration::from_secs(5),
            addr,
        )
    }

    /// Untagged lines of `total` bytes in all, each at most 1,000.
    fn untagged(total: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < total {
            let len = (total - out.len()).min(1_000);
            let mut line = vec![b'x'; len];
            line[..2].copy_from_slice(b"* ");
            line[len - 2..].copy_from_slice(b"\r\n");
            out.extend_from_slice(&line);
        }
        out
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_reply_before_starttls_may_be_64_kib_and_no_more() {
        for (untagged_bytes, refused) in [(MAX_REPLY, false), (MAX_REPLY + 1, true)] {
            let mut said = untagged(untagged_bytes);
            said.extend_from_slice(b"a1 OK Begin TLS negotiation now\r\n");
            let mut stream = peer_saying(said).await;
            let reply = command(&mut stream, "IMAP test", "a1", "STARTTLS").await;
            match reply {
                Err(e) => assert!(
                    refused && e.to_string().contains("reply to STARTTLS too long"),
                    "{untagged_bytes}: {e}"
                ),
                Ok(all) => assert!(
                    !refused && all.ends_with("a1 OK Begin TLS negotiation now\r\n"),
                    "{untagged_bytes}"
                ),
            }
        }
    }
}
