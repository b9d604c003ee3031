//! A planned condition — its way in and its checks — and the `FROM … WHERE …` it is
//! written as.

use super::ast::{Col, Scope};
use super::lex::Op;
use super::sort::{SortKey, SortSpec};
use super::sql::{Sql, attr_rows, cond, expr, item_free, join_balanced, types_sql};
use super::typecheck::{AttrCond, Cond, Test};
use super::value::SqlVal;
use crate::attr::AttrType;

/// A condition split into its way in and its checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planned {
    /// The conjunct whose index drives the query.
    pub lead: Option<Cond>,
    /// The candidates when the lead is a search: they drive, and the lead checks each.
    pub text: Option<TextRows>,
    /// Conjuncts left for SQLite to use as it likes: those on the column a listing walks.
    pub open: Vec<Cond>,
    /// Conjuncts checked per row, their indexes hidden.
    pub hidden: Vec<Cond>,
}

/// The attribute a listing is sorted by, joined as `s`.
pub(crate) struct SortAttr<'a> {
    pub scope: Scope,
    pub name: &'a str,
    pub types: &'a [AttrType],
}

impl Planned {
    /// Whether it matches nothing.
    pub(crate) fn is_false(&self) -> bool {
        self.open.contains(&Cond::False) || self.hidden.contains(&Cond::False)
    }

    /// Whether it is one attribute predicate with a value test and nothing else, which a
    /// count answers from the attribute index alone.
    pub(crate) fn only_attr(&self) -> Option<&AttrCond> {
        match (&self.lead, self.open.as_slice(), self.hidden.as_slice()) {
            (Some(Cond::Attr(a)), [], []) if !a.tests.is_empty() => Some(a),
            _ => None,
        }
    }

    /// Whether the listing's order must be written with `+` (sorted after the lead's rows
    /// are found, not walked): there is a lead, and it is not a range of the sort column.
    pub(crate) fn sorts_after(&self, sort: &SortSpec) -> bool {
        match &self.lead {
            None => false,
            Some(c) => !on_sort_column(c, sort),
        }
    }

    /// Whether a walk of a sort attribute's index must join the items: a lead, or a
    /// check on an item column. Without, it reads the attribute indexes alone (every
    /// attribute row has its item: the foreign key cascades).
    pub(crate) fn needs_items(&self) -> bool {
        self.lead.is_some() || !self.open.iter().chain(&self.hidden).all(item_free)
    }

    /// The id to order by and page on, by id: the lead attribute's `item_id` when its
    /// index entries come in id order (one value of one type), so that the page is read
    /// in order and stops; hidden behind `+` under another lead; else the items' own.
    pub(crate) fn id_order(&self) -> &'static str {
        match &self.lead {
            Some(Cond::Attr(a)) if !a.drive && a.types.len() == 1 && a.eq_only() => "d.item_id",
            Some(_) => "+i.id",
            None => "i.id",
        }
    }

    /// Appends `FROM … WHERE …` over `items i` (and the sort attribute `s`, one row per
    /// item, when given): the lead's rows first, then the checks.
    pub(crate) fn write_from(&self, sort: Option<SortAttr<'_>>, out: &mut Sql) {
        let mut first = None;
        match &self.lead {
            // Rows in index order, so that a listing or a capped count stops early. (A
            // lead that `drive`s is an id list instead: sorted, so a full count reads
            // the items in file order.)
            Some(Cond::Attr(a)) if !a.drive => {
                out.push(" FROM ")
                    .push(a.scope.table())
                    .push(" d CROSS JOIN items i ON i.id = d.item_id");
                if let Some(s) = &sort {
                    join_sort(s, out);
                }
                let mut rows = Sql::default();
                attr_rows(a, "d", &mut rows);
                first = Some(rows);
            }
            Some(lead) => {
                out.push(" FROM ");
                lead_rows(lead, self.text.as_ref(), out);
                if let Some(s) = &sort {
                    join_sort(s, out);
                }
                let mut rows = Sql::default();
                cond(lead, &mut rows);
                first = Some(rows);
            }
            None => match &sort {
                Some(s) => {
                    out.push(" FROM ").push(s.scope.table()).push(" s");
                    if self.needs_items() {
                        out.push(" CROSS JOIN items i ON i.id = s.item_id");
                    }
                    let mut rows = Sql::default();
                    sort_rows(s, &mut rows);
                    first = Some(rows);
                }
                None => {
                    out.push(" FROM items i");
                }
            },
        }
        out.push(" WHERE ");
        let mut parts: Vec<Sql> = first.into_iter().collect();
        // Over the sort attribute's rows alone, conditions name its item id (they ask
        // only about attributes); else the item's, the hidden ones behind `+`.
        let attrs_only = self.lead.is_none() && sort.is_some() && !self.needs_items();
        let id = if attrs_only { "s.item_id" } else { "i.id" };
        let open = self.open.iter().map(|c| (c, "i."));
        let hidden = (self.hidden.iter()).map(|c| (c, if attrs_only { "i." } else { "+i." }));
        for (c, col) in open.chain(hidden) {
            let mut part = Sql::default();
            expr(c, col, id, &mut part);
            parts.push(part);
        }
        if parts.is_empty() {
            out.push("1");
        }
        join_balanced(parts, " AND ", out);
    }
}

/// The items `i` a lead other than an attribute's reads: a search's candidates, the WRITE
/// items by lease for staleness, else the items table for SQLite to search by the lead.
pub(crate) fn lead_rows(lead: &Cond, text: Option<&TextRows>, out: &mut Sql) {
    match (lead, text) {
        (_, Some(rows)) => rows.write(out),
        // Without statistics SQLite prefers the status index and reads every WRITE
        // item's row for its lease.
        (Cond::Stale(_), None) => {
            out.push("items i INDEXED BY items_by_lease");
        }
        (_, None) => {
            out.push("items i");
        }
    }
}

/// The candidates of a search: the items whose indexed text matches `fts` (none when
/// `None`), and the items the index does not cover yet (see [`crate::registry::text`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextRows {
    pub fts: Option<String>,
}

impl TextRows {
    /// Appends the candidates `t`, each joined to its item `i`.
    pub(crate) fn write(&self, out: &mut Sql) {
        out.push("(");
        if let Some(query) = &self.fts {
            out.push("SELECT rowid AS id FROM item_text WHERE item_text MATCH ")
                .param(SqlVal::Text(query.clone()))
                .push(" AND rowid <= coalesce((SELECT upto FROM item_text_state), 0) UNION ALL ");
        }
        out.push(crate::registry::text::NOT_INDEXED)
            .push(") t CROSS JOIN items i ON i.id = t.id");
    }
}

/// `s` joined to `i` as the inner side: the item's one row of the sort attribute.
fn join_sort(s: &SortAttr<'_>, out: &mut Sql) {
    out.push(" CROSS JOIN ")
        .push(s.scope.table())
        .push(" s ON s.item_id = i.id AND ");
    sort_rows(s, out);
}

/// The rows `s` of the sort attribute: its name, of one of its types.
fn sort_rows(s: &SortAttr<'_>, out: &mut Sql) {
    out.push("s.name = ")
        .param(SqlVal::Text(s.name.to_string()))
        .push(" AND s.type");
    types_sql(s.types, out);
}

/// Whether `c` is a range (or value) of the built-in column `sort` is by, which a walk of
/// that column's index answers as it goes.
pub(crate) fn on_sort_column(c: &Cond, sort: &SortSpec) -> bool {
    let SortKey::Col(col) = &sort.key else {
        return false;
    };
    match c {
        Cond::Status(_) => *col == Col::Status,
        Cond::Col(c, t) => c == col && ranged(t),
        _ => false,
    }
}

/// Whether an index range answers `t`.
pub(crate) fn ranged(t: &Test) -> bool {
    match t {
        Test::Cmp(op, _) => matches!(op, Op::Eq | Op::Lt | Op::Le | Op::Gt | Op::Ge),
        Test::Between(_, _) => true,
        Test::Outside(_, _) | Test::Like(_) | Test::NotLike(_) => false,
    }
}
