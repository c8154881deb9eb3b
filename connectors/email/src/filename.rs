//! File names that came from someone else (a request, a message from a stranger),
//! made safe to show and to save: no directory parts (`../../etc/passwd` is
//! `.._.._etc_passwd`), no control characters, never `.`, `..` or empty, at most 255
//! bytes.

/// `name` with path separators and control characters replaced by `_`, trimmed of
/// spaces, cut to at most 255 bytes at a character boundary; `attachment` when nothing
/// usable is left.
pub(crate) fn safe(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    out = out.trim().to_owned();
    if out.len() > 255 {
        let mut end = 255;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    if out.is_empty() || out.chars().all(|c| c == '.') {
        return "attachment".to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn directory_parts_and_control_characters_are_replaced() {
        assert_eq!(safe("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(safe("C:\\Windows\\evil.exe"), "C:_Windows_evil.exe");
        assert_eq!(safe("invoice\r\n.pdf"), "invoice__.pdf");
        assert_eq!(safe(".."), "attachment");
        assert_eq!(safe("  "), "attachment");
        assert_eq!(safe("résumé été.pdf"), "résumé été.pdf");
        assert_eq!(safe(&"é".repeat(200)).len(), 254);
    }
}
