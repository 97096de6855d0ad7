use std::fmt;
use std::path::PathBuf;

/// One problem in an inventory, at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--limit names host {name:?}, which is not in {}", file.display())]
    UnknownHost { name: String, file: PathBuf },
    #[error("{}", render(file, problems))]
    Invalid { file: PathBuf, problems: Vec<Problem> },
}

fn render(file: &std::path::Path, problems: &[Problem]) -> String {
    let lines: Vec<String> =
        problems.iter().map(|p| format!("{}:{}:{}: {}", file.display(), p.line, p.column, p.message)).collect();
    lines.join("\n")
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}
