//! Compiles a [`Cond`] to a parameterised SQL expression over `items i`.
//!
//! User values only ever travel as parameters. What is written into the text is ours:
//! column names, type codes and status names (literal, so that SQLite can use the partial
//! index on WRITE leases).

use super::ast::Col;
use super::lex::Op;
use super::typecheck::{AttrCond, Cond, Test};
use super::value::SqlVal;

/// SQL text and its positional parameters, in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sql {
    pub text: String,
    pub params: Vec<SqlVal>,
}

impl Sql {
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub(crate) fn param(&mut self, v: SqlVal) -> &mut Self {
        self.text.push('?');
        self.params.push(v);
        self
    }

    pub(crate) fn params(&self) -> rusqlite::ParamsFromIter<std::slice::Iter<'_, SqlVal>> {
        rusqlite::params_from_iter(self.params.iter())
    }
}

#[cfg(test)]
thread_local! {
    /// Every query the module ran on this thread, for the query-plan tests.
    pub(crate) static LOG: std::cell::RefCell<Vec<Sql>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records `q` for the query-plan tests (nothing outside tests).
pub(crate) fn log(q: &Sql) {
    #[cfg(test)]
    LOG.with(|l| l.borrow_mut().push(q.clone()));
    let _ = q;
}

/// Appends the SQL for `c` to `out`.
pub(crate) fn cond(c: &Cond, out: &mut Sql) {
    expr(c, "i.", "i.id", out);
}

/// Whether `c` asks only about attributes (and params), never an item column.
pub(crate) fn item_free(c: &Cond) -> bool {
    match c {
        Cond::True | Cond::False | Cond::Attr(_) => true,
        Cond::And(v) | Cond::Or(v) => v.iter().all(item_free),
        Cond::Not(c) => item_free(c),
        _ => false,
    }
}

/// `c` with item columns written as `{col}name`, and the item's id as `id`.
pub(crate) fn expr(c: &Cond, col: &str, id: &str, out: &mut Sql) {
    match c {
        Cond::True => {
            out.push("1");
        }
        Cond::False => {
            out.push("0");
        }
        Cond::And(v) => list(v, " AND ", "1", col, id, out),
        Cond::Or(v) => list(v, " OR ", "0", col, id, out),
        Cond::Not(c) => {
            out.push("NOT (");
            expr(c, col, id, out);
            out.push(")");
        }
        Cond::Status(s) => {
            out.push(col).push("status = '").push(s.as_str()).push("'");
        }
        Cond::Stale(now_ms) => {
            out.push("(")
                .push(col)
                .push("status = 'WRITE' AND ")
                .push(col)
                .push("lease_expires IS NOT NULL AND ")
                .push(col)
                .push("lease_expires < ")
                .param(SqlVal::Int(*now_ms))
                .push(")");
        }
        Cond::Col(c, t) => {
            let e = format!("{col}{}", c.name());
            out.push("(");
            if c.nullable() {
                out.push(&e).push(" IS NOT NULL AND ");
            }
            test(&e, t, out);
            out.push(")");
        }
        Cond::NotNull(c) => {
            out.push(col).push(c.name()).push(" IS NOT NULL");
        }
        Cond::Latest => {
            // The mark narrows the candidates to a few (through its partial index); it may
            // be on more items than are the newest, so the test stays (schema 11).
            out.push("(")
                .push(col)
                .push("latest = 1 AND ")
                .push(col)
                .push(
                    "status <> 'TRASH' AND NOT EXISTS (SELECT 1 FROM items j \
                 WHERE j.key = i.key AND j.version > i.version AND j.status <> 'TRASH'))",
                );
        }
        Cond::Search(p) => {
            out.push("(");
            for (n, c) in [Col::Uri, Col::Label, Col::Filename]
                .into_iter()
                .enumerate()
            {
                if n > 0 {
                    out.push(" OR ");
                }
                out.push("coalesce(")
                    .push(col)
                    .push(c.name())
                    .push(" LIKE ")
                    .param(SqlVal::Text(p.clone()))
                    .push(" ESCAPE '\\', 0)");
            }
            out.push(")");
        }
        Cond::Attr(a) => attr(a, id, out),
    }
}

fn list(v: &[Cond], sep: &str, empty: &str, col: &str, id: &str, out: &mut Sql) {
    if v.is_empty() {
        out.push(empty);
        return;
    }
    let parts: Vec<Sql> = (v.iter())
        .map(|c| {
            let mut part = Sql::default();
            expr(c, col, id, &mut part);
            part
        })
        .collect();
    join_balanced(parts, sep, out);
}

/// `(a sep b sep …)` as a balanced tree of parentheses, the parts in order: SQLite parses
/// a chain of N operators N deep and refuses one past 1000 (`id=1 | id=2 | …`, made by a
/// script); balanced, it is log2(N) deep.
pub(crate) fn join_balanced(parts: Vec<Sql>, sep: &str, out: &mut Sql) {
    fn join(parts: &mut [Option<Sql>], sep: &str, out: &mut Sql) {
        out.push("(");
        match parts {
            [one] => {
                if let Some(part) = one.take() {
                    out.push(&part.text);
                    out.params.extend(part.params);
                }
            }
            _ => {
                let (left, right) = parts.split_at_mut(parts.len() / 2);
                join(left, sep, out);
                out.push(sep);
                join(right, sep, out);
            }
        }
        out.push(")");
    }
    let mut parts: Vec<Option<Sql>> = parts.into_iter().map(Some).collect();
    if !parts.is_empty() {
        join(&mut parts, sep, out);
    }
}

/// `attrs` rows matching `a`, without the item: `name = ? AND type … AND value …` on
/// columns qualified by `alias`.
pub(crate) fn attr_rows(a: &AttrCond, alias: &str, out: &mut Sql) {
    out.push(alias)
        .push(".name = ")
        .param(SqlVal::Text(a.name.clone()));
    if !a.tests.is_empty() {
        out.push(" AND ").push(alias).push(".type");
        types_sql(&a.types, out);
        let value = format!("{alias}.value");
        let tests: Vec<Sql> = (a.tests.iter())
            .map(|t| {
                let mut part = Sql::default();
                test(&value, t, &mut part);
                part
            })
            .collect();
        out.push(" AND ");
        join_balanced(tests, " AND ", out);
    }
}

pub(crate) fn types_sql(types: &[crate::attr::AttrType], out: &mut Sql) {
    match types {
        [one] => {
            out.push(" = ").push(&one.code().to_string());
        }
        many => {
            let codes: Vec<String> = many.iter().map(|t| t.code().to_string()).collect();
            out.push(" IN (").push(&codes.join(", ")).push(")");
        }
    }
}

fn attr(a: &AttrCond, id: &str, out: &mut Sql) {
    let table = a.scope.table();
    if a.drive {
        out.push(id)
            .push(" IN (SELECT a.item_id FROM ")
            .push(table)
            .push(" a WHERE ");
    } else {
        out.push("EXISTS (SELECT 1 FROM ")
            .push(table)
            .push(" a WHERE a.item_id = ")
            .push(id)
            .push(" AND ");
    }
    attr_rows(a, "a", out);
    out.push(")");
}

fn op_sql(op: Op) -> &'static str {
    match op {
        Op::Ne => " <> ",
        Op::Lt => " < ",
        Op::Le => " <= ",
        Op::Gt => " > ",
        Op::Ge => " >= ",
        // Colon was normalised to Eq by the parser; Match ops never reach a Cmp.
        Op::Eq | Op::Colon | Op::Match | Op::NotMatch => " = ",
    }
}

fn test(e: &str, t: &Test, out: &mut Sql) {
    match t {
        Test::Cmp(op, v) => {
            out.push(e).push(op_sql(*op)).param(v.clone());
        }
        Test::Between(lo, hi) => {
            out.push(e)
                .push(" >= ")
                .param(lo.clone())
                .push(" AND ")
                .push(e)
                .push(" < ")
                .param(hi.clone());
        }
        Test::Outside(lo, hi) => {
            out.push("(")
                .push(e)
                .push(" < ")
                .param(lo.clone())
                .push(" OR ")
                .push(e)
                .push(" >= ")
                .param(hi.clone())
                .push(")");
        }
        Test::Like(p) => {
            out.push(e)
                .push(" LIKE ")
                .param(SqlVal::Text(p.clone()))
                .push(" ESCAPE '\\'");
        }
        Test::NotLike(p) => {
            out.push(e)
                .push(" NOT LIKE ")
                .param(SqlVal::Text(p.clone()))
                .push(" ESCAPE '\\'");
        }
    }
}
