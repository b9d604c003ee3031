//! Checks a parsed filter against the registry's catalogue of attribute names and types,
//! and turns it into [`Cond`], the typed condition that is compiled to SQL (and, in tests,
//! evaluated in memory).

use std::collections::HashMap;

use rusqlite::Connection;

use super::ast::{Col, ColVal, Node, Raw, Scope, StatusSel, Term};
use super::lex::{Op, error_at};
use super::parse::{AGE_NEEDS_ORDER, TIME_EXPECTED};
use super::value::{
    DAY_MICROS, SqlVal, TimeVal, parse_bool, parse_number, parse_time, search_pattern,
};
use crate::attr::AttrType;
use crate::error::{Error, Result};
use crate::status::Status;

/// A comparison of one stored value. Every test on NULL is false.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    /// `value OP x`, with OP one of = != < <= > >=.
    Cmp(Op, SqlVal),
    /// `lo <= value < hi`
    Between(SqlVal, SqlVal),
    /// `value < lo or value >= hi`
    Outside(SqlVal, SqlVal),
    /// `value LIKE pattern ESCAPE '\'`
    Like(String),
    /// `value NOT LIKE pattern ESCAPE '\'`
    NotLike(String),
}

/// An attribute (or param) predicate: some row of that name, with one of `types`, whose
/// value passes every one of `tests` (or any row, when there are none: `has:`). An item
/// has at most one row per name, so conjunctions on one name merge into one predicate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttrCond {
    pub scope: Scope,
    pub name: String,
    pub types: Vec<AttrType>,
    pub tests: Vec<Test>,
    /// Few items match: the SQL looks the matching ids up once (`id IN (…)`) rather than
    /// probing per item (`EXISTS`). Chosen by the planner; no effect on the answer.
    pub drive: bool,
}

impl AttrCond {
    /// Whether every test is `=` (and there is one): values read from the index in id
    /// order, usually few.
    pub(crate) fn eq_only(&self) -> bool {
        !self.tests.is_empty() && (self.tests.iter()).all(|t| matches!(t, Test::Cmp(Op::Eq, _)))
    }
}

/// A typed condition on items, with two-valued logic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    True,
    False,
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Status(Status),
    /// A WRITE whose lease expired before this time (UTC ms).
    Stale(i64),
    Col(Col, Test),
    NotNull(Col),
    Attr(AttrCond),
    Latest,
    /// LIKE pattern over uri, label and filename.
    Search(String),
}

/// The types each name has in the catalogue, looked up once per name.
pub(crate) struct Catalogue<'c> {
    conn: &'c Connection,
    cache: HashMap<(Scope, String), Vec<AttrType>>,
}

impl<'c> Catalogue<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Catalogue {
            conn,
            cache: HashMap::new(),
        }
    }

    pub(crate) fn types(&mut self, scope: Scope, name: &str) -> Result<Vec<AttrType>> {
        let k = (scope, name.to_string());
        if let Some(t) = self.cache.get(&k) {
            return Ok(t.clone());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT type FROM attr_names WHERE scope = ?1 AND name = ?2 ORDER BY type",
            )
            .map_err(db_err(self.conn, "reading the attribute catalogue"))?;
        let codes = stmt
            .query_map((scope.code(), name), |r| r.get::<_, i64>(0))
            .map_err(db_err(self.conn, "reading the attribute catalogue"))?
            .collect::<rusqlite::Result<Vec<i64>>>()
            .map_err(db_err(self.conn, "reading the attribute catalogue"))?;
        let types: Vec<AttrType> = codes.into_iter().filter_map(AttrType::from_code).collect();
        self.cache.insert(k, types.clone());
        Ok(types)
    }

    /// Every name in `scope`.
    pub(crate) fn names(&self, scope: Scope) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.held(scope)?.into_iter().map(|(n, _)| n).collect();
        names.dedup();
        Ok(names)
    }

    /// The names and types of `scope` some item still holds, by name then type. (The
    /// catalogue keeps every name ever written: one whose last holder went is left out
    /// here, so that nothing offers or suggests it.)
    pub(crate) fn held(&self, scope: Scope) -> Result<Vec<(String, i64)>> {
        // The table's name is ours, not input.
        let sql = format!(
            "SELECT n.name, n.type FROM attr_names n WHERE n.scope = ?1 AND EXISTS \
             (SELECT 1 FROM {} a WHERE a.name = n.name AND a.type = n.type) \
             ORDER BY n.name, n.type",
            scope.table()
        );
        let err = || db_err(self.conn, "reading the attribute catalogue");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err())?;
        let held = stmt
            .query_map([scope.code()], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err())?
            .collect::<rusqlite::Result<Vec<(String, i64)>>>()
            .map_err(err())?;
        Ok(held)
    }
}

/// Wraps a SQLite error with the registry's path and what we were doing.
pub(crate) fn db_err(
    conn: &Connection,
    context: &'static str,
) -> impl Fn(rusqlite::Error) -> Error {
    let path = std::path::PathBuf::from(conn.path().unwrap_or(":memory:"));
    move |source| Error::Sqlite {
        path: path.clone(),
        context,
        source,
    }
}

/// Resolves `node` (parsed from `input`) at time `now_us` (UTC microseconds).
pub(crate) struct Resolver<'a, 'c> {
    pub input: &'a str,
    pub cat: Catalogue<'c>,
    pub now_us: i64,
    /// Names compared but absent from the catalogue, with where they were written.
    pub unknown: Vec<(Scope, String, usize)>,
}

impl Resolver<'_, '_> {
    pub(crate) fn resolve(&mut self, node: &Node) -> Result<Cond> {
        Ok(match node {
            Node::And(v) => Cond::And(v.iter().map(|n| self.resolve(n)).collect::<Result<_>>()?),
            Node::Or(v) => Cond::Or(v.iter().map(|n| self.resolve(n)).collect::<Result<_>>()?),
            Node::Not(n) => Cond::Not(Box::new(self.resolve(n)?)),
            Node::Term(t) => self.term(t)?,
        })
    }

    fn term(&mut self, t: &Term) -> Result<Cond> {
        Ok(match t {
            Term::Status(StatusSel::Is(s)) => Cond::Status(*s),
            Term::Status(StatusSel::Stale) => Cond::Stale(self.now_us.div_euclid(1000)),
            Term::Col { col, op, val } => Cond::Col(*col, self.col_test(*op, val)),
            Term::NotNull(col) => Cond::NotNull(*col),
            Term::Latest => Cond::Latest,
            Term::Search(p) => Cond::Search(p.clone()),
            Term::Has {
                scope,
                name,
                name_at,
            } => {
                let types = self.cat.types(*scope, name)?;
                if types.is_empty() {
                    self.unknown.push((*scope, name.clone(), *name_at));
                    return Ok(Cond::False);
                }
                Cond::Attr(AttrCond {
                    scope: *scope,
                    name: name.clone(),
                    types,
                    tests: Vec::new(),
                    drive: false,
                })
            }
            Term::Attr {
                scope,
                name,
                name_at,
                op,
                raw,
            } => self.attr(*scope, name, *name_at, *op, raw)?,
        })
    }

    fn col_test(&self, op: Op, val: &ColVal) -> Test {
        match val {
            ColVal::Int(i) => Test::Cmp(op, SqlVal::Int(*i)),
            ColVal::Text(s) => Test::Cmp(op, SqlVal::Text(s.clone())),
            ColVal::Like(p) if op == Op::NotMatch => Test::NotLike(p.clone()),
            ColVal::Like(p) => Test::Like(p.clone()),
            ColVal::Prefix(p) => {
                // Hex keys: every key starting with p sorts in [p, p + "g").
                let lo = SqlVal::Text(p.clone());
                let hi = SqlVal::Text(format!("{p}g"));
                if op == Op::Ne {
                    Test::Outside(lo, hi)
                } else {
                    Test::Between(lo, hi)
                }
            }
            // Ages with = were refused by the parser; 1000 µs per stored ms.
            ColVal::Time(t) => time_test(op, *t, self.now_us, 1000)
                .unwrap_or(Test::Cmp(Op::Eq, SqlVal::Int(i64::MIN))),
        }
    }

    fn attr(
        &mut self,
        scope: Scope,
        name: &str,
        name_at: usize,
        op: Op,
        raw: &Raw,
    ) -> Result<Cond> {
        let types = self.cat.types(scope, name)?;
        if types.is_empty() {
            self.unknown.push((scope, name.to_string(), name_at));
            return Ok(Cond::False);
        }
        let leaf = |types: Vec<AttrType>, test: Test| {
            Cond::Attr(AttrCond {
                scope,
                name: name.to_string(),
                types,
                tests: vec![test],
                drive: false,
            })
        };
        let text = raw.text.as_str();
        if matches!(op, Op::Match | Op::NotMatch) {
            if !types.contains(&AttrType::Text) {
                return Err(self.error(
                    raw,
                    format!(
                        "{name} is {}; '~' matches text (use = < > for other types)",
                        list(&types)
                    ),
                ));
            }
            let p = search_pattern(text).map_err(|m| self.error(raw, m))?;
            let test = if op == Op::Match {
                Test::Like(p)
            } else {
                Test::NotLike(p)
            };
            return Ok(leaf(vec![AttrType::Text], test));
        }
        let mut alts = Vec::new();
        let numeric: Vec<AttrType> = types.iter().copied().filter(|t| t.is_numeric()).collect();
        if !numeric.is_empty()
            && let Some(n) = parse_number(text)
        {
            alts.push(leaf(numeric, Test::Cmp(op, n)));
        }
        if types.contains(&AttrType::Text) {
            alts.push(leaf(
                vec![AttrType::Text],
                Test::Cmp(op, SqlVal::Text(text.to_string())),
            ));
        }
        if types.contains(&AttrType::Bool)
            && let Some(b) = parse_bool(text)
        {
            alts.push(leaf(
                vec![AttrType::Bool],
                Test::Cmp(op, SqlVal::Int(i64::from(b))),
            ));
        }
        if types.contains(&AttrType::Datetime)
            && let Some(t) = parse_time(text)
        {
            match time_test(op, t, self.now_us, 1) {
                Some(test) => alts.push(leaf(vec![AttrType::Datetime], test)),
                None if alts.is_empty() => {
                    return Err(self.error(raw, AGE_NEEDS_ORDER.to_string()));
                }
                None => {}
            }
        }
        match alts.len() {
            0 => Err(self.error(
                raw,
                format!(
                    "{name} is {}, got '{text}' (expected {})",
                    list(&types),
                    expected(&types)
                ),
            )),
            1 => Ok(alts.remove(0)),
            _ => Ok(if op == Op::Ne {
                Cond::And(alts)
            } else {
                Cond::Or(alts)
            }),
        }
    }

    fn error(&self, raw: &Raw, message: String) -> Error {
        error_at(self.input, raw.span.start, message)
    }
}

/// A time comparison on a column stored in units of `unit_us` microseconds, or `None` for
/// an age with = or !=.
fn time_test(op: Op, t: TimeVal, now_us: i64, unit_us: i64) -> Option<Test> {
    let v = |us: i64| SqlVal::Int(us.div_euclid(unit_us));
    Some(match t {
        TimeVal::At(at) => Test::Cmp(op, v(at)),
        TimeVal::Day(d) => {
            let (lo, hi) = (v(d), v(d.saturating_add(DAY_MICROS)));
            match op {
                Op::Ne => Test::Outside(lo, hi),
                Op::Lt => Test::Cmp(Op::Lt, lo),
                Op::Le => Test::Cmp(Op::Lt, hi),
                Op::Gt => Test::Cmp(Op::Ge, hi),
                Op::Ge => Test::Cmp(Op::Ge, lo),
                _ => Test::Between(lo, hi),
            }
        }
        TimeVal::Age(age) => {
            // created<7d: less than 7 days old, i.e. created after now − 7 days.
            let cutoff = v(now_us.saturating_sub(age));
            match op {
                Op::Lt => Test::Cmp(Op::Gt, cutoff),
                Op::Le => Test::Cmp(Op::Ge, cutoff),
                Op::Gt => Test::Cmp(Op::Lt, cutoff),
                Op::Ge => Test::Cmp(Op::Le, cutoff),
                _ => return None,
            }
        }
    })
}

pub(super) fn list(types: &[AttrType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    names.join(" or ")
}

fn expected(types: &[AttrType]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for t in types {
        let e = match t {
            AttrType::Int | AttrType::Float => "a number",
            AttrType::Text => "text",
            AttrType::Bool => "true or false",
            AttrType::Datetime => TIME_EXPECTED,
        };
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out.join(", or ")
}

/// Folds constants: unknown names become `False`, which often empties a branch.
pub(crate) fn simplify(c: Cond) -> Cond {
    match c {
        Cond::And(v) => {
            let mut out = Vec::new();
            for c in v.into_iter().map(simplify) {
                match c {
                    Cond::True => {}
                    Cond::False => return Cond::False,
                    Cond::And(inner) => out.extend(inner),
                    c => out.push(c),
                }
            }
            // The same predicate twice (a status tab of a filter on that status) is once.
            let mut once: Vec<Cond> = Vec::with_capacity(out.len());
            for c in out {
                if !once.contains(&c) {
                    once.push(c);
                }
            }
            let out = once;
            let out = merge_same_name(out);
            if out.contains(&Cond::False) || two_statuses(&out) {
                return Cond::False;
            }
            match out.len() {
                0 => Cond::True,
                1 => out.into_iter().next().unwrap_or(Cond::True),
                _ => Cond::And(out),
            }
        }
        Cond::Or(v) => {
            let mut out = Vec::new();
            for c in v.into_iter().map(simplify) {
                match c {
                    Cond::False => {}
                    Cond::True => return Cond::True,
                    Cond::Or(inner) => out.extend(inner),
                    c => out.push(c),
                }
            }
            match out.len() {
                0 => Cond::False,
                1 => out.remove(0),
                _ => Cond::Or(out),
            }
        }
        Cond::Not(c) => match simplify(*c) {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Not(inner) => *inner,
            c => Cond::Not(Box::new(c)),
        },
        c => c,
    }
}

/// Whether a conjunction asks for two different statuses (an item has one): `status:ready
/// status:failed`, or a stale item that is not a WRITE.
fn two_statuses(conds: &[Cond]) -> bool {
    let mut seen: Option<Status> = None;
    for c in conds {
        let s = match c {
            Cond::Status(s) => *s,
            Cond::Stale(_) => Status::Write,
            _ => continue,
        };
        if seen.is_some_and(|t| t != s) {
            return true;
        }
        seen = Some(s);
    }
    false
}

/// In a conjunction, tests on the same attribute name apply to the same row (an item has
/// one value per name): `score>0.2 score<0.25` becomes one index range.
fn merge_same_name(conds: Vec<Cond>) -> Vec<Cond> {
    let mut out: Vec<Cond> = Vec::with_capacity(conds.len());
    for c in conds {
        if let Cond::Attr(b) = &c
            && !b.tests.is_empty()
        {
            let same = out.iter_mut().find_map(|o| match o {
                Cond::Attr(a) if a.scope == b.scope && a.name == b.name && !a.tests.is_empty() => {
                    Some(a)
                }
                _ => None,
            });
            if let Some(a) = same {
                a.types.retain(|t| b.types.contains(t));
                a.tests.extend(b.tests.iter().cloned());
                a.drive = false;
                if a.types.is_empty() {
                    return vec![Cond::False];
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}
