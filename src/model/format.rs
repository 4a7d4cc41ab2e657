//! Lays out RON text the way a person writes a scenario file.
//!
//! `ron`'s pretty printer puts every field and every list item on its own line, so a
//! one-line distribution such as `Exp(mean_ms: 2.0)` takes three. [`layout`] reads the
//! compact text `ron` writes and lays it out again: the scenario and its sections
//! (`components`, `endpoints`, `slos`…) one item per line, and anything deeper on one line
//! when it fits in [`WIDTH`] columns, else one item per line, recursively. Only
//! whitespace changes (and what needs no escape loses it: `r#None`, `\'`), so the text
//! reads back to the same value; the tests check that on every bundled scenario and on
//! generated ones.

/// The widest line the layout aims for (a line is wider only when one value is).
pub const WIDTH: usize = 100;

/// One piece of an item: a word (identifier, number, string), the `:` after a field name
/// or map key, or a bracketed group.
#[derive(Debug)]
enum Piece {
    Word(String),
    Colon,
    Group(Group),
}

/// Text between matching brackets, split at its top-level commas.
#[derive(Debug)]
struct Group {
    open: char,
    close: char,
    items: Vec<Vec<Piece>>,
}

/// `compact` (as written by `ron` without a pretty config) laid out for reading, with
/// `name` written before the outermost parenthesis (`Scenario(`), ending in a newline.
///
/// Text that is not what `ron` writes (unbalanced brackets, an unterminated string) is
/// returned unchanged: layout is cosmetic and must never lose a character.
pub fn layout(compact: &str, name: &str) -> String {
    let Some(pieces) = parse(compact) else {
        return format!("{compact}\n");
    };
    let mut out = String::with_capacity(compact.len() * 2);
    if matches!(pieces.first(), Some(Piece::Group(g)) if g.open == '(') {
        out.push_str(name);
    }
    write_item(&mut out, &pieces, 0, 0);
    out.push('\n');
    out
}

/// Splits `text` into pieces; `None` if it is not balanced RON.
fn parse(text: &str) -> Option<Vec<Piece>> {
    let mut chars = text.char_indices().peekable();
    // A stack of open groups, each with its items so far and the item being read.
    let mut stack: Vec<(Group, Vec<Piece>)> = Vec::new();
    let mut top: Vec<Piece> = Vec::new();
    while let Some((start, c)) = chars.next() {
        match c {
            '(' | '[' | '{' => {
                let close = match c {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                stack.push((
                    Group {
                        open: c,
                        close,
                        items: Vec::new(),
                    },
                    Vec::new(),
                ));
            }
            ')' | ']' | '}' => {
                let (mut group, item) = stack.pop()?;
                if group.close != c {
                    return None;
                }
                if !item.is_empty() {
                    group.items.push(item);
                }
                match stack.last_mut() {
                    Some((_, item)) => item.push(Piece::Group(group)),
                    None => top.push(Piece::Group(group)),
                }
            }
            ',' => {
                let (group, item) = stack.last_mut()?;
                group.items.push(std::mem::take(item));
            }
            ':' => match stack.last_mut() {
                Some((_, item)) => item.push(Piece::Colon),
                None => top.push(Piece::Colon),
            },
            c if c.is_whitespace() => {}
            _ => {
                // A word: a string literal, or everything up to the next delimiter.
                let mut end = start + c.len_utf8();
                if c == '"' {
                    let mut escaped = false;
                    loop {
                        let (i, d) = chars.next()?;
                        end = i + d.len_utf8();
                        match d {
                            '\\' if !escaped => escaped = true,
                            '"' if !escaped => break,
                            _ => escaped = false,
                        }
                    }
                } else {
                    while let Some(&(i, d)) = chars.peek() {
                        if "()[]{},:\"".contains(d) || d.is_whitespace() {
                            break;
                        }
                        end = i + d.len_utf8();
                        chars.next();
                    }
                }
                let word = if c == '"' {
                    plain_quotes(&text[start..end])
                } else {
                    plain_identifier(&text[start..end])
                };
                match stack.last_mut() {
                    Some((_, item)) => item.push(Piece::Word(word)),
                    None => top.push(Piece::Word(word)),
                }
            }
        }
    }
    stack.is_empty().then_some(top)
}

/// `r#None` as `None`: `ron` marks some identifiers raw that read back the same without.
fn plain_identifier(word: &str) -> String {
    match word.strip_prefix("r#") {
        Some(rest)
            if rest.starts_with(|c: char| c.is_ascii_alphabetic())
                && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            rest.to_owned()
        }
        _ => word.to_owned(),
    }
}

/// A string literal with `\'` written as `'`: `ron` escapes apostrophes, which a string
/// in double quotes does not need.
fn plain_quotes(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\'') => out.push('\''),
                Some(d) => {
                    out.push(c);
                    out.push(d);
                }
                None => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The width of `item` written on one line.
fn flat_width(item: &[Piece]) -> usize {
    item.iter()
        .map(|p| match p {
            Piece::Word(w) => w.chars().count(),
            Piece::Colon => 2,
            Piece::Group(g) => group_flat_width(g),
        })
        .sum()
}

fn group_flat_width(g: &Group) -> usize {
    2 + g.items.iter().map(|i| flat_width(i)).sum::<usize>() + 2 * g.items.len().saturating_sub(1)
}

fn write_flat(out: &mut String, item: &[Piece]) {
    for p in item {
        match p {
            Piece::Word(w) => out.push_str(w),
            Piece::Colon => out.push_str(": "),
            Piece::Group(g) => write_group_flat(out, g),
        }
    }
}

fn write_group_flat(out: &mut String, g: &Group) {
    out.push(g.open);
    for (i, item) in g.items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_flat(out, item);
    }
    out.push(g.close);
}

/// Writes `item` starting at the end of `out` (at `indent` levels of four spaces); its
/// groups sit `depth` levels deep in the file.
fn write_item(out: &mut String, item: &[Piece], indent: usize, depth: usize) {
    for p in item {
        match p {
            Piece::Word(w) => out.push_str(w),
            Piece::Colon => out.push_str(": "),
            Piece::Group(g) => write_group(out, g, indent, depth),
        }
    }
}

fn write_group(out: &mut String, g: &Group, indent: usize, depth: usize) {
    let column = out.len() - out.rfind('\n').map_or(0, |i| i + 1);
    // Room for the group and the comma after it.
    let fits = column + group_flat_width(g) < WIDTH;
    if g.items.is_empty() || (fits && !must_break(g, depth)) {
        write_group_flat(out, g);
        return;
    }
    out.push(g.open);
    out.push('\n');
    for item in &g.items {
        push_indent(out, indent + 1);
        write_item(out, item, indent + 1, depth + 1);
        out.push_str(",\n");
    }
    push_indent(out, indent);
    out.push(g.close);
}

/// Whether `g` takes one line per item whatever its width: the scenario, its sections
/// that hold many items (`components`, `endpoints`, `slos`…), and whatever holds a group
/// that must break.
fn must_break(g: &Group, depth: usize) -> bool {
    depth == 0
        || (depth == 1 && g.open != '(')
        || g.items.iter().flatten().any(|p| match p {
            Piece::Group(inner) => must_break(inner, depth + 1),
            _ => false,
        })
}

fn push_indent(out: &mut String, levels: usize) {
    for _ in 0..levels {
        out.push_str("    ");
    }
}

/// What a file's author wrote in comments that a save keeps: the header above the
/// scenario, and the comments just above each top-level field (`// What users were
/// promised…` above `slos:`). Comments elsewhere are not kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comments {
    header: Vec<String>,
    /// Comment lines (without indentation) above a top-level field, by its name.
    above: Vec<(String, Vec<String>)>,
}

impl Comments {
    /// The comments of scenario text `text` (as read from a file).
    pub fn of(text: &str) -> Self {
        let mut comments = Self::default();
        let mut pending: Vec<String> = Vec::new();
        let mut depth = 0usize;
        let mut started = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if !started {
                if trimmed.is_empty() || trimmed.starts_with("//") {
                    comments.header.push(line.trim_end().to_owned());
                    continue;
                }
                started = true;
                while comments.header.last().is_some_and(|l| l.is_empty()) {
                    comments.header.pop();
                }
            }
            if trimmed.starts_with("//") {
                pending.push(trimmed.to_owned());
                continue;
            }
            if depth == 1
                && !pending.is_empty()
                && let Some(name) = field_name(trimmed)
            {
                comments
                    .above
                    .push((name.to_owned(), std::mem::take(&mut pending)));
            }
            pending.clear();
            depth = depth_after(line, depth);
        }
        comments
    }

    /// Whether there is nothing to keep.
    pub fn is_empty(&self) -> bool {
        self.header.is_empty() && self.above.is_empty()
    }

    /// `laid_out` (as [`layout`] writes a scenario) with these comments put back.
    pub fn apply(&self, laid_out: &str) -> String {
        let mut out = String::with_capacity(laid_out.len() + 256);
        for line in &self.header {
            out.push_str(line);
            out.push('\n');
        }
        for line in laid_out.split_inclusive('\n') {
            let top_level = line
                .strip_prefix("    ")
                .filter(|rest| !rest.starts_with(' '));
            if let Some(name) = top_level.and_then(field_name)
                && let Some((_, lines)) = self.above.iter().find(|(n, _)| n == name)
            {
                for comment in lines {
                    out.push_str("    ");
                    out.push_str(comment);
                    out.push('\n');
                }
            }
            out.push_str(line);
        }
        out
    }
}

/// The field a line opens (`slos` in `slos: [`), if it opens one.
fn field_name(line: &str) -> Option<&str> {
    let (name, _) = line.split_once(':')?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

/// The bracket depth after `line`, starting at `depth` (strings and comments skipped).
fn depth_after(line: &str, mut depth: usize) -> usize {
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '/' if chars.peek() == Some(&'/') => break,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_levels_break_and_small_values_stay_on_one_line() {
        let text = layout(
            r#"(version:1,components:[Cache(id:"c",op_time:Exp(mean_ms:2.0))],slos:[])"#,
            "Scenario",
        );
        assert_eq!(
            text,
            "Scenario(\n    version: 1,\n    components: [\n        Cache(id: \"c\", \
             op_time: Exp(mean_ms: 2.0)),\n    ],\n    slos: [],\n)\n"
        );
    }

    #[test]
    fn a_value_too_wide_for_a_line_takes_one_line_per_item_and_no_line_is_too_wide() {
        let steps = (0..12)
            .map(|i| format!("Read(db:\"postgres\",query:\"query_number_{i}\")"))
            .collect::<Vec<_>>()
            .join(",");
        let text = layout(
            &format!(r#"(endpoints:{{"GET /x":(steps:[{steps}])}},components:[])"#),
            "Scenario",
        );
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(
            text.contains(
                "\n                Read(db: \"postgres\", query: \"query_number_11\"),\n"
            )
        );
    }

    #[test]
    fn strings_keep_their_brackets_and_lose_needless_escapes() {
        let text = layout(
            r#"(name:"a (b), [c]: {d} \"e\" it\'s \\",kind:r#None,odd:r#a.b)"#,
            "S",
        );
        assert!(
            text.contains(r#"name: "a (b), [c]: {d} \"e\" it's \\","#),
            "{text}"
        );
        assert!(text.contains("kind: None,"), "{text}");
        assert!(text.contains("odd: r#a.b,"), "{text}");
    }

    #[test]
    fn text_that_is_not_balanced_comes_back_unchanged() {
        for broken in ["(a:(b)", "(a:\"b)", "(a:b])"] {
            assert_eq!(layout(broken, "S"), format!("{broken}\n"));
        }
    }

    #[test]
    fn the_header_and_the_comments_above_top_level_fields_are_kept() {
        let file = "// A lesson.\n//   indented\n\nScenario(\n    version: 1,\n    // What \
                    users were promised.\n    slos: [\n        // lost: not above a \
                    top-level field\n        (objective: ErrorRate(below: 0.1)),\n    ],\n)\n";
        let comments = Comments::of(file);
        let saved = comments.apply(&layout(
            "(version:1,slos:[(objective:ErrorRate(below:0.1))])",
            "Scenario",
        ));
        assert_eq!(
            saved,
            "// A lesson.\n//   indented\nScenario(\n    version: 1,\n    // What users were \
             promised.\n    slos: [\n        (objective: ErrorRate(below: 0.1)),\n    ],\n)\n"
        );
        assert!(Comments::of("Scenario(version: 1)").is_empty());
    }
}
