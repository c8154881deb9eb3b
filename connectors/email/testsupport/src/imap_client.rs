//! A small IMAP client for the interop harnesses: enough to log in, create folders,
//! append messages and list flags, with nothing of the connector's code in it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::mail::HarnessError;

pub(crate) struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    next: u32,
}

impl Client {
    /// Connects to 127.0.0.1:`port` and logs in.
    pub(crate) fn login(port: u16, user: &str, password: &str) -> Result<Self, HarnessError> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut c = Self {
            reader: BufReader::new(stream.try_clone()?),
            stream,
            next: 0,
        };
        let mut greeting = String::new();
        c.reader.read_line(&mut greeting)?;
        if !greeting.starts_with("* OK") {
            return Err(HarnessError::Setup(format!(
                "the server greeted with {greeting:?}"
            )));
        }
        c.command(&format!("LOGIN {} {}", quoted(user), quoted(password)))?;
        Ok(c)
    }

    /// Sends `command`; returns the untagged lines before its `OK`.
    pub(crate) fn command(&mut self, command: &str) -> Result<Vec<String>, HarnessError> {
        self.next += 1;
        let tag = format!("t{}", self.next);
        self.stream
            .write_all(format!("{tag} {command}\r\n").as_bytes())?;
        self.until_tagged(&tag)
    }

    /// Stores `raw` in `folder` (a LITERAL+ literal).
    pub(crate) fn append(&mut self, folder: &str, raw: &[u8]) -> Result<(), HarnessError> {
        let mut line = format!("a APPEND {} {{{}+}}\r\n", quoted(folder), raw.len()).into_bytes();
        line.extend_from_slice(raw);
        line.extend_from_slice(b"\r\n");
        self.stream.write_all(&line)?;
        self.until_tagged("a").map(drop)
    }

    /// Each message of `folder`: its UID and flags, in UID order.
    pub(crate) fn flags(&mut self, folder: &str) -> Result<Vec<(u32, String)>, HarnessError> {
        self.command(&format!("SELECT {}", quoted(folder)))?;
        let lines = self.command("UID FETCH 1:* (UID FLAGS)")?;
        let mut out: Vec<(u32, String)> = lines
            .iter()
            .filter(|l| l.contains(" FETCH "))
            .filter_map(|l| {
                let uid = l
                    .split("UID ")
                    .nth(1)?
                    .split([' ', ')'])
                    .next()?
                    .parse()
                    .ok()?;
                let flags = l.split("FLAGS (").nth(1)?.split(')').next()?.to_owned();
                Some((uid, flags))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    fn until_tagged(&mut self, tag: &str) -> Result<Vec<String>, HarnessError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(HarnessError::Setup(
                    "the server closed the connection".into(),
                ));
            }
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return if rest.starts_with("OK") {
                    Ok(lines)
                } else {
                    Err(HarnessError::Setup(format!(
                        "the server refused: {}",
                        line.trim()
                    )))
                };
            }
            lines.push(line.trim_end().to_owned());
        }
    }
}

/// `s` as an IMAP quoted string.
pub(crate) fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A port free on 127.0.0.1 now.
pub(crate) fn free_port() -> Result<u16, HarnessError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
