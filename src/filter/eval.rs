//! A plain in-memory evaluation of typed conditions and sort orders, the reference the
//! SQL answers are checked against.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::ast::{Col, Scope};
use super::lex::Op;
use super::sort::{SortKey, SortSpec};
use super::typecheck::{AttrCond, Cond, Test};
use super::value::SqlVal;
use crate::attr::AttrType;
use crate::status::Status;

#[derive(Debug, Clone)]
pub(crate) struct MemItem {
    pub id: i64,
    pub key: String,
    pub version: i64,
    pub uri: String,
    pub label: Option<String>,
    pub filename: Option<String>,
    pub note: Option<String>,
    pub status: Status,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub created: i64,
    pub updated: i64,
    pub accessed: Option<i64>,
    pub lease_expires: Option<i64>,
    pub pinned: bool,
    pub attrs: BTreeMap<String, (AttrType, SqlVal)>,
    pub params: BTreeMap<String, (AttrType, SqlVal)>,
}

impl MemItem {
    pub(crate) fn col(&self, col: Col) -> Option<SqlVal> {
        let int = |i: i64| Some(SqlVal::Int(i));
        let text = |s: &Option<String>| s.clone().map(SqlVal::Text);
        match col {
            Col::Id => int(self.id),
            Col::Key => Some(SqlVal::Text(self.key.clone())),
            Col::Version => int(self.version),
            Col::Uri => Some(SqlVal::Text(self.uri.clone())),
            Col::Label => text(&self.label),
            Col::Filename => text(&self.filename),
            Col::Note => text(&self.note),
            Col::Status => Some(SqlVal::Text(self.status.as_str().into())),
            Col::Size => self.size.map(SqlVal::Int),
            Col::Sha256 => text(&self.sha256),
            Col::Created => int(self.created),
            Col::Updated => int(self.updated),
            Col::Accessed => self.accessed.map(SqlVal::Int),
            Col::Pinned => int(i64::from(self.pinned)),
        }
    }

    fn named(&self, scope: Scope) -> &BTreeMap<String, (AttrType, SqlVal)> {
        match scope {
            Scope::Attr => &self.attrs,
            Scope::Param => &self.params,
        }
    }
}

/// SQLite's ordering of values: numbers (int and real compared as numbers) before text;
/// text by bytes (BINARY collation).
pub(crate) fn sql_cmp(a: &SqlVal, b: &SqlVal) -> Ordering {
    use SqlVal::*;
    match (a, b) {
        (Int(x), Int(y)) => x.cmp(y),
        (Int(x), Real(y)) => (*x as f64).total_cmp(y),
        (Real(x), Int(y)) => x.total_cmp(&(*y as f64)),
        (Real(x), Real(y)) => x.total_cmp(y),
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Text(_), _) => Ordering::Greater,
        (_, Text(_)) => Ordering::Less,
    }
}

/// SQL LIKE with `\` as escape, ASCII case-insensitive.
pub(crate) fn like(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|k| go(&p[1..], &t[k..])),
            Some('_') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some(c) => {
                let (c, rest) = if *c == '\\' && p.len() > 1 {
                    (p[1], &p[2..])
                } else {
                    (*c, &p[1..])
                };
                !t.is_empty() && t[0].eq_ignore_ascii_case(&c) && go(rest, &t[1..])
            }
        }
    }
    go(&p, &t)
}

fn test(v: &SqlVal, t: &Test) -> bool {
    match t {
        Test::Cmp(op, x) => {
            let o = sql_cmp(v, x);
            match op {
                Op::Ne => o != Ordering::Equal,
                Op::Lt => o == Ordering::Less,
                Op::Le => o != Ordering::Greater,
                Op::Gt => o == Ordering::Greater,
                Op::Ge => o != Ordering::Less,
                _ => o == Ordering::Equal,
            }
        }
        Test::Between(lo, hi) => {
            sql_cmp(v, lo) != Ordering::Less && sql_cmp(v, hi) == Ordering::Less
        }
        Test::Outside(lo, hi) => {
            sql_cmp(v, lo) == Ordering::Less || sql_cmp(v, hi) != Ordering::Less
        }
        Test::Like(p) => matches!(v, SqlVal::Text(s) if like(p, s)),
        Test::NotLike(p) => matches!(v, SqlVal::Text(s) if !like(p, s)),
    }
}

fn attr(a: &AttrCond, item: &MemItem) -> bool {
    match item.named(a.scope).get(&a.name) {
        None => false,
        Some((ty, v)) => {
            a.tests.is_empty() || (a.types.contains(ty) && a.tests.iter().all(|t| test(v, t)))
        }
    }
}

/// Whether `item` (of `all`) satisfies `c`.
pub(crate) fn eval(c: &Cond, item: &MemItem, all: &[MemItem]) -> bool {
    match c {
        Cond::True => true,
        Cond::False => false,
        Cond::And(v) => v.iter().all(|c| eval(c, item, all)),
        Cond::Or(v) => v.iter().any(|c| eval(c, item, all)),
        Cond::Not(c) => !eval(c, item, all),
        Cond::Status(s) => item.status == *s,
        Cond::Stale(now) => {
            item.status == Status::Write && item.lease_expires.is_some_and(|l| l < *now)
        }
        Cond::Col(col, t) => item.col(*col).is_some_and(|v| test(&v, t)),
        Cond::NotNull(col) => item.col(*col).is_some(),
        Cond::Attr(a) => attr(a, item),
        Cond::Latest => {
            item.status != Status::Trash
                && !all.iter().any(|j| {
                    j.key == item.key && j.version > item.version && j.status != Status::Trash
                })
        }
        Cond::Search(p) => [
            Some(item.uri.clone()),
            item.label.clone(),
            item.filename.clone(),
        ]
        .iter()
        .flatten()
        .any(|s| like(p, s)),
    }
}

/// The ids matching `c`, in the order of `spec`: items with a sort value by (value, id),
/// then items without one by id, both in the direction of `spec`.
pub(crate) fn ordered(
    c: &Cond,
    spec: &SortSpec,
    sort_types: &[AttrType],
    all: &[MemItem],
) -> Vec<i64> {
    let mut with = Vec::new();
    let mut without = Vec::new();
    for item in all.iter().filter(|i| eval(c, i, all)) {
        let v = match &spec.key {
            SortKey::Col(col) => item.col(*col),
            SortKey::Attr(scope, name) => match item.named(*scope).get(name) {
                Some((ty, v)) if sort_types.contains(ty) => Some(v.clone()),
                _ => None,
            },
        };
        match v {
            Some(v) => with.push((v, item.id)),
            None => without.push(item.id),
        }
    }
    with.sort_by(|a, b| sql_cmp(&a.0, &b.0).then(a.1.cmp(&b.1)));
    without.sort();
    if spec.desc {
        with.reverse();
        without.reverse();
    }
    // Sorting by id: every item "has" the value, phase two is the whole answer.
    if spec.key == SortKey::Col(Col::Id) {
        return with.into_iter().map(|(_, id)| id).collect();
    }
    with.into_iter().map(|(_, id)| id).chain(without).collect()
}
