//! Maps a value's path (`hosts[1].address`, the same form serde_yaml uses in its messages) to the line and
//! column where it stands in the source, so checks made after deserializing can still point at file:line:col.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
}

#[derive(Debug, Default)]
pub struct Locator {
    positions: HashMap<String, Position>,
}

enum Frame {
    Mapping { path: String, pending_key: Option<String> },
    Sequence { path: String, next_index: usize },
}

impl Locator {
    /// Index every node of the first document. A source that does not parse yields an empty index (serde_yaml
    /// will have reported the syntax error already).
    pub fn new(src: &str) -> Self {
        let mut positions = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(src) {
            let Ok((event, span)) = item else { break };
            let pos = Position { line: span.start.line(), column: span.start.col() + 1 };
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Mapping { pending_key, .. }) = stack.last_mut() {
                        if pending_key.is_none() {
                            *pending_key = Some(value.to_string());
                            continue;
                        }
                    }
                    if let Some(path) = child_path(&mut stack) {
                        positions.entry(path).or_insert(pos);
                    }
                }
                Event::Alias(_) => {
                    child_path(&mut stack).map(|p| positions.entry(p).or_insert(pos));
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = child_path(&mut stack).unwrap_or_default();
                    positions.entry(path.clone()).or_insert(pos);
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Mapping { path, pending_key: None }
                    } else {
                        Frame::Sequence { path, next_index: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::DocumentEnd => break,
                _ => {}
            }
        }
        Locator { positions }
    }

    /// The position of the value at `path`, or of its nearest ancestor that is in the source.
    pub fn find(&self, path: &str) -> Position {
        let mut path = path.to_string();
        loop {
            if let Some(pos) = self.positions.get(&path) {
                return *pos;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path.truncate(cut),
                None => return self.positions.get("").copied().unwrap_or(Position { line: 1, column: 1 }),
            }
        }
    }
}

/// The path of the next child of the innermost collection, consuming the pending key or index.
fn child_path(stack: &mut [Frame]) -> Option<String> {
    match stack.last_mut()? {
        Frame::Mapping { path, pending_key } => {
            let key = pending_key.take()?;
            Some(if path.is_empty() { key } else { format!("{path}.{key}") })
        }
        Frame::Sequence { path, next_index } => {
            let p = format!("{path}[{next_index}]");
            *next_index += 1;
            Some(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_block_and_flow_values() {
        let src =
            "cluster:\n  name: demo\nhosts:\n  - { name: a, address: 10.0.0.1 }\n  - name: b\n    address: 10.0.0.2\n";
        let loc = Locator::new(src);
        assert_eq!(loc.find("cluster.name"), Position { line: 2, column: 9 });
        assert_eq!(loc.find("hosts[0].address"), Position { line: 4, column: 25 });
        assert_eq!(loc.find("hosts[1].address"), Position { line: 6, column: 14 });
        assert_eq!(loc.find("hosts[1]"), Position { line: 5, column: 5 });
        // Missing keys fall back to the nearest ancestor.
        assert_eq!(loc.find("hosts[1].ssh.port"), Position { line: 5, column: 5 });
    }
}
