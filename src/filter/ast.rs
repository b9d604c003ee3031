//! The parsed filter: a tree of terms, before names are checked against the registry.

use super::lex::{Op, Span};
use super::value::{TimeVal, parse_time};
use crate::status::Status;

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Term(Term),
}

impl Node {
    /// See [`crate::filter::Filter::depends_on_time`].
    pub(crate) fn depends_on_time(&self) -> bool {
        match self {
            Node::And(nodes) | Node::Or(nodes) => nodes.iter().any(Node::depends_on_time),
            Node::Not(node) => node.depends_on_time(),
            Node::Term(Term::Status(StatusSel::Stale)) => true,
            Node::Term(Term::Col {
                val: ColVal::Time(t),
                ..
            }) => matches!(t, TimeVal::Age(_)),
            // Typed later: an age for a datetime attribute, anything else for others.
            Node::Term(Term::Attr { raw, .. }) => {
                matches!(parse_time(&raw.text), Some(TimeVal::Age(_)))
            }
            Node::Term(_) => false,
        }
    }
}

/// One predicate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Term {
    /// `status:ready`; `Stale` is a WRITE whose lease has expired.
    Status(StatusSel),
    /// A built-in column compared with a value already parsed for its kind.
    Col { col: Col, op: Op, val: ColVal },
    /// An attribute or param; the value is typed later against the catalogue.
    /// `name_at` is where the name starts in the input (for notices about it).
    Attr {
        scope: Scope,
        name: String,
        name_at: usize,
        op: Op,
        raw: Raw,
    },
    /// `has:name`: the attribute or param exists.
    Has {
        scope: Scope,
        name: String,
        name_at: usize,
    },
    /// `has:label`: the built-in column is set.
    NotNull(Col),
    /// `version=latest`: the newest version of its key that is not in the trash.
    Latest,
    /// A bare word: LIKE pattern over uri, label and filename.
    Search(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusSel {
    Is(Status),
    Stale,
}

/// Attributes (scope 0 in `attr_names`) or params (scope 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Attr,
    Param,
}

impl Scope {
    pub(crate) fn code(self) -> i64 {
        match self {
            Scope::Attr => 0,
            Scope::Param => 1,
        }
    }

    pub(crate) fn table(self) -> &'static str {
        match self {
            Scope::Attr => "attrs",
            Scope::Param => "params",
        }
    }

    /// How a name of this scope is written in full: `attr.rows`, `param.epoch`.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Scope::Attr => "attr",
            Scope::Param => "param",
        }
    }

    pub(crate) fn noun(self) -> &'static str {
        match self {
            Scope::Attr => "attribute",
            Scope::Param => "param",
        }
    }
}

/// A value as written, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Raw {
    pub text: String,
    pub span: Span,
}

/// A built-in column's value, parsed for the column's kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ColVal {
    Int(i64),
    Text(String),
    /// A LIKE pattern for `~` / `!~`.
    Like(String),
    /// A lower-case hex prefix for `key:` / `sha256:`.
    Prefix(String),
    Time(TimeVal),
}

/// How a built-in column's values are written and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColKind {
    Int,
    Size,
    Text,
    /// Hex digest, matched by prefix.
    Hex,
    /// UTC milliseconds.
    TimeMs,
    Bool,
    Status,
}

/// The item columns a filter or sort can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Col {
    Id,
    Key,
    Version,
    Uri,
    Label,
    Filename,
    Note,
    Status,
    Size,
    Sha256,
    Created,
    Updated,
    Accessed,
    Pinned,
}

impl Col {
    pub(crate) const ALL: [Col; 14] = [
        Col::Id,
        Col::Key,
        Col::Version,
        Col::Uri,
        Col::Label,
        Col::Filename,
        Col::Note,
        Col::Status,
        Col::Size,
        Col::Sha256,
        Col::Created,
        Col::Updated,
        Col::Accessed,
        Col::Pinned,
    ];

    /// The name users type; also the SQL column.
    pub const fn name(self) -> &'static str {
        match self {
            Col::Id => "id",
            Col::Key => "key",
            Col::Version => "version",
            Col::Uri => "uri",
            Col::Label => "label",
            Col::Filename => "filename",
            Col::Note => "note",
            Col::Status => "status",
            Col::Size => "size",
            Col::Sha256 => "sha256",
            Col::Created => "created",
            Col::Updated => "updated",
            Col::Accessed => "accessed",
            Col::Pinned => "pinned",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Col> {
        let lower = name.to_ascii_lowercase();
        let lower = match lower.as_str() {
            "digest" => "sha256",
            "file" => "filename",
            other => other,
        };
        Col::ALL.into_iter().find(|c| c.name() == lower)
    }

    pub(crate) fn kind(self) -> ColKind {
        match self {
            Col::Id | Col::Version => ColKind::Int,
            Col::Size => ColKind::Size,
            Col::Uri | Col::Label | Col::Filename | Col::Note => ColKind::Text,
            Col::Key | Col::Sha256 => ColKind::Hex,
            Col::Created | Col::Updated | Col::Accessed => ColKind::TimeMs,
            Col::Pinned => ColKind::Bool,
            Col::Status => ColKind::Status,
        }
    }

    /// Whether an index of the registry orders items by this column alone (the status
    /// index only with the id after it).
    pub(crate) fn has_index(self) -> bool {
        matches!(
            self,
            Col::Id
                | Col::Key
                | Col::Version
                | Col::Uri
                | Col::Sha256
                | Col::Size
                | Col::Created
                | Col::Updated
                | Col::Accessed
        )
    }

    /// Whether the column may be NULL (comparisons on NULL are false).
    pub(crate) fn nullable(self) -> bool {
        matches!(
            self,
            Col::Label | Col::Filename | Col::Note | Col::Size | Col::Sha256 | Col::Accessed
        )
    }
}
