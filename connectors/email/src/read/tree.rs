//! Walks over mail-parser's part tree, each with a stack of its own (a stranger's
//! message sets the depth, so none may recurse): how deep containers nest, each part's
//! number as IMAP names it, which parts a digest holds, and a parsed message dropped
//! without recursion. Used by `mime.rs`, which turns the tree into a record.

use mail_parser::{Message, MimeHeaders, PartType};

/// How deep containers nest in `message`: multiparts inside multiparts and
/// `message/rfc822` parts inside messages, counted with a stack of our own (the input
/// sets the depth, so no recursion may).
pub(super) fn nesting(message: &Message<'_>) -> usize {
    small_nesting(message).unwrap_or_else(|| any_nesting(message))
}

/// Whether a part of `message` is a message of its own (`message/rfc822`, parsed).
fn holds_messages(message: &Message<'_>) -> bool {
    message
        .parts
        .iter()
        .any(|p| matches!(p.body, PartType::Message(_)))
}

/// `nesting` through messages in messages: each message's parts walked with their own
/// flags (a table from message to flags).
pub(super) fn any_nesting(message: &Message<'_>) -> usize {
    let mut deepest = 0;
    // (message, part id, depth); a part is visited once, so a loop of ids cannot spin.
    let mut stack: Vec<(&Message<'_>, usize, usize)> = vec![(message, 0, 0)];
    let mut seen: Vec<Vec<bool>> = Vec::new();
    let mut seen_of = std::collections::HashMap::new();
    while let Some((m, id, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let key = std::ptr::from_ref(m) as usize;
        let slot = *seen_of.entry(key).or_insert_with(|| {
            seen.push(vec![false; m.parts.len()]);
            seen.len() - 1
        });
        let Some(visited) = seen[slot].get_mut(id) else {
            continue;
        };
        if std::mem::replace(visited, true) {
            continue;
        }
        match &m.parts[id].body {
            PartType::Multipart(children) => {
                stack.extend(children.iter().map(|c| (m, *c as usize, depth + 1)));
            }
            PartType::Message(inner) => stack.push((inner, 0, depth + 1)),
            _ => {}
        }
    }
    deepest
}

/// `nesting` of a small message with no `message/rfc822` part (nearly every one): the
/// same walk over its own parts, with its stack and flags on the stack (the general
/// walk's table and allocations were most of its time); `None` for any other message.
pub(super) fn small_nesting(message: &Message<'_>) -> Option<usize> {
    const SMALL: usize = 64;
    let parts = &message.parts;
    let children = |id: usize| match &parts[id].body {
        PartType::Multipart(children) => children.as_slice(),
        _ => &[],
    };
    let pushes = 1 + (0..parts.len()).map(|id| children(id).len()).sum::<usize>();
    if parts.len() > SMALL || pushes > SMALL || holds_messages(message) {
        return None;
    }
    let mut deepest = 0;
    let mut seen = 0u64;
    let mut stack = [(0usize, 0usize); SMALL];
    let mut top = 1;
    while top > 0 {
        top -= 1;
        let (id, depth) = stack[top];
        deepest = deepest.max(depth);
        if id >= parts.len() || seen & (1 << id) != 0 {
            continue;
        }
        seen |= 1 << id;
        for child in children(id) {
            stack[top] = (*child as usize, depth + 1);
            top += 1;
        }
    }
    Some(deepest)
}

/// Each part's number as IMAP names it (RFC 3501 section 6.4.5), by part id: the parts
/// of a multipart are numbered from 1 inside their parent's number; a message that is
/// not multipart has one part, `1`. Walked with a stack (the input sets the depth).
pub(super) fn part_numbers(message: &Message<'_>) -> Vec<Option<String>> {
    let mut numbers: Vec<Option<String>> = vec![None; message.parts.len()];
    match message.parts.first().map(|p| &p.body) {
        Some(PartType::Multipart(_)) => {}
        Some(_) => numbers[0] = Some("1".into()),
        None => return numbers,
    }
    let mut stack = vec![(0usize, String::new())];
    while let Some((id, number)) = stack.pop() {
        let Some(PartType::Multipart(children)) = message.parts.get(id).map(|p| &p.body) else {
            continue;
        };
        for (i, child) in children.iter().enumerate() {
            let child = *child as usize;
            let Some(slot @ None) = numbers.get_mut(child) else {
                continue; // out of range, or seen (the parser's ids do not loop, but)
            };
            let own = if number.is_empty() {
                (i + 1).to_string()
            } else {
                format!("{number}.{}", i + 1)
            };
            *slot = Some(own.clone());
            stack.push((child, own));
        }
    }
    numbers
}

/// Which parts are direct children of a `multipart/digest`, by part id.
pub(super) fn digest_children(message: &Message<'_>) -> Vec<bool> {
    let mut inside = vec![false; message.parts.len()];
    for part in &message.parts {
        let PartType::Multipart(children) = &part.body else {
            continue;
        };
        let digest = part
            .content_type()
            .and_then(|ct| ct.subtype())
            .is_some_and(|sub| sub.eq_ignore_ascii_case("digest"));
        if digest {
            for child in children {
                if let Some(flag) = inside.get_mut(*child as usize) {
                    *flag = true;
                }
            }
        }
    }
    inside
}

/// A parsed message that is dropped without recursion: dropping mail-parser's part
/// tree recurses once per nested `message/rfc822`, so 40,000 levels from a stranger
/// would overflow the stack (issue: a poison message stopped every run).
pub(super) struct Flat<'x>(pub(super) Option<Message<'x>>);

impl<'x> std::ops::Deref for Flat<'x> {
    type Target = Message<'x>;
    fn deref(&self) -> &Message<'x> {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for Flat<'_> {
    fn drop(&mut self) {
        let Some(message) = self.0.take() else {
            return;
        };
        if !holds_messages(&message) {
            return; // nothing nested: dropped as it is, no deeper than its parts
        }
        let mut pending: Vec<Message<'_>> = vec![message];
        while let Some(mut m) = pending.pop() {
            for part in &mut m.parts {
                if let PartType::Message(inner) = std::mem::take(&mut part.body) {
                    pending.push(inner);
                }
            }
        }
    }
}
