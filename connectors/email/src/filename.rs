//! File names that came from someone else (a request, a message from a stranger),
//! made safe to show and to save: no directory parts (`../../etc/passwd` is
//! `.._.._etc_passwd`), no control characters, never `.`, `..` or empty, at most 255
//! bytes.

/// `name` with path separators and control characters replaced by `_`, trimmed of
/// spaces, cut to at most 255 bytes at a character boundary; `attachment` when nothing
/// usable is left. A name that needs none of it (nearly every one) is returned as it
/// stands, trimmed, not copied.
pub(crate) fn safe(name: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = name.trim();
    let usable = |c: char| !matches!(c, '/' | '\\') && !c.is_control();
    // Checked before trimming: a tab or line break is a control, replaced, not trimmed.
    if trimmed.len() <= 255 && name.chars().all(usable) && !trimmed.chars().all(|c| c == '.') {
        return std::borrow::Cow::Borrowed(trimmed);
    }
    std::borrow::Cow::Owned(replaced(name))
}

/// [`safe`] by replacing each character and trimming and cutting the result.
fn replaced(name: &str) -> String {
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
    use super::{replaced, safe};
    use proptest::prelude::*;

    #[test]
    fn directory_parts_and_control_characters_are_replaced() {
        assert_eq!(safe("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(safe("C:\\Windows\\evil.exe"), "C:_Windows_evil.exe");
        assert_eq!(safe("invoice\r\n.pdf"), "invoice__.pdf");
        assert_eq!(safe(".."), "attachment");
        assert_eq!(safe("  "), "attachment");
        assert_eq!(safe("résumé été.pdf"), "résumé été.pdf");
        assert_eq!(safe(&"é".repeat(200)).len(), 254);
        assert_eq!(safe(" a.pdf "), "a.pdf");
        assert_eq!(safe(""), "attachment");
        assert!(matches!(
            safe("  a b.pdf"),
            std::borrow::Cow::Borrowed("a b.pdf")
        ));
    }

    proptest! {
        /// A name taken as it stands is what replacing, trimming and cutting make of it.
        #[test]
        fn a_name_taken_as_it_stands_is_what_replacing_gives(
            name in "[a. \\t/\\\\\\x00é\\u{a0}]{0,12}|[a-z.]{250,260}"
        ) {
            let (taken, made) = (safe(&name), replaced(&name));
            prop_assert_eq!(taken.as_ref(), made.as_str());
        }
    }
}
