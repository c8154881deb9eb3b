/*
 * SPDX-FileCopyrightText: 2020 Stalwart Labs LLC <hello@stalw.art>
 *
 * SPDX-License-Identifier: Apache-2.0 OR MIT
 */

use crate::{HeaderValue, parsers::MessageStream};

impl<'x> MessageStream<'x> {
    pub fn parse_raw(&mut self) -> HeaderValue<'x> {
        // From line break to line break (memchr) instead of byte by byte: the value
        // runs from its first byte that is not white space to its last one, over
        // folded lines, and ends at a line break not followed by a space or a tab.
        let data = self.data;
        let start = self.offset();
        let is_token = |b: &u8| !matches!(b, b' ' | b'\t' | b'\r');
        let (mut first, mut last) = (None, 0);
        let mut line = start;
        let end = loop {
            let line_end = memchr::memchr(b'\n', &data[line..]).map_or(data.len(), |n| line + n);
            let text = &data[line..line_end];
            if first.is_none() {
                first = text.iter().position(is_token).map(|i| line + i);
            }
            if let Some(i) = text.iter().rposition(is_token) {
                last = line + i + 1;
            }
            match data.get(line_end + 1) {
                _ if line_end == data.len() => break data.len(),
                Some(b' ' | b'\t') => line = line_end + 2,
                _ => break line_end + 1,
            }
        };
        self.skip_bytes(end - start);
        match first {
            Some(first) => HeaderValue::Text(crate::parsers::message::utf8_lossy(
                self.bytes(first..last),
            )),
            None => HeaderValue::Empty,
        }
    }

    pub fn parse_and_ignore(&mut self) {
        while let Some(&ch) = self.next() {
            if ch == b'\n' && !self.try_next_is_space() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{MessageParser, parsers::MessageStream};

    #[test]
    fn parse_raw_text() {
        let inputs = [
            ("Saying Hello\nMessage-Id", "Saying Hello"),
            ("Re: Saying Hello\r\n \r\nFrom:", "Re: Saying Hello"),
            (
                concat!(
                    " from x.y.test\n      by example.net\n      via TCP\n",
                    "      with ESMTP\n      id ABC12345\n      ",
                    "for <mary@example.net>;  21 Nov 1997 10:05:43 -0600\n"
                ),
                concat!(
                    "from x.y.test\n      by example.net\n      via TCP\n",
                    "      with ESMTP\n      id ABC12345\n      ",
                    "for <mary@example.net>;  21 Nov 1997 10:05:43 -0600"
                ),
            ),
            ("Re: Saying Hello", "Re: Saying Hello"), // No newline test
        ];

        for (input, expected) in inputs {
            assert_eq!(
                MessageStream::new(input.as_bytes())
                    .parse_raw()
                    .unwrap_text(),
                expected,
                "Failed for '{:?}'",
                input
            );
        }
    }

    #[test]
    fn ordered_raw_headers() {
        let input = br#"From: Art Vandelay <art@vandelay.com>
To: jane@example.com
Date: Sat, 20 Nov 2021 14:22:01 -0800
Subject: Why not both importing AND exporting? =?utf-8?b?4pi6?=
Content-Type: multipart/mixed; boundary="festivus";

Here's a message body.
"#;
        let message = MessageParser::default().parse(input).unwrap();
        let mut iter = message.headers_raw();
        assert_eq!(
            iter.next().unwrap(),
            ("From", " Art Vandelay <art@vandelay.com>\n")
        );
        assert_eq!(iter.next().unwrap(), ("To", " jane@example.com\n"));
        assert_eq!(
            iter.next().unwrap(),
            ("Date", " Sat, 20 Nov 2021 14:22:01 -0800\n")
        );
        assert_eq!(
            iter.next().unwrap(),
            (
                "Subject",
                " Why not both importing AND exporting? =?utf-8?b?4pi6?=\n"
            )
        );
        assert_eq!(
            iter.next().unwrap(),
            ("Content-Type", " multipart/mixed; boundary=\"festivus\";\n")
        );
    }
}
