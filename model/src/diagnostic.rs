//! Diagnostics: what loading and validation found, with severity, the element concerned, a
//! message, a hint how to fix it, and where (file and line) when known.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable short code, e.g. `unresolved-reference`, `duplicate-id`.
    pub code: &'static str,
    /// The element concerned: a template id, or a type's `{ns}name`.
    pub element: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, when known (YAML diagnostics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Diagnostic {
    pub fn error(
        code: &'static str,
        element: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            element: element.into(),
            message: message.into(),
            hint: None,
            file: None,
            line: None,
            column: None,
        }
    }

    pub fn warning(
        code: &'static str,
        element: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, element, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets file and line (a line of 0 means unknown).
    pub fn at(mut self, file: Option<PathBuf>, line: u32) -> Self {
        self.file = file;
        self.line = (line > 0).then_some(line);
        self
    }

    /// Sets file, line and column (0 means unknown).
    pub fn at_col(mut self, file: Option<PathBuf>, line: u32, column: u32) -> Self {
        self = self.at(file, line);
        self.column = (line > 0 && column > 0).then_some(column);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(col) = self.column {
                    write!(f, ":{col}")?;
                }
            }
            f.write_str(": ")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{sev}[{}]: {}: {}",
            self.code, self.element, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}
