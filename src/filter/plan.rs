//! Picks one way into the registry for each query, rather than leaving SQLite to choose
//! among many indexes without statistics (it would often pick the index of the least
//! selective predicate and sort all its rows).
//!
//! The top-level conjuncts that an index can answer are the candidate ways in. Each is
//! sized by a count that stops at [`DRIVE_MAX`]; among several that reach it, the share
//! of a sample of the newest items that each matches decides. The chosen conjunct (the
//! lead) drives the query; every other one is checked per row, with its columns behind
//! SQLite's unary `+` so that their indexes cannot be chosen instead. A listing whose
//! order an index gives walks that index in order and stops after the page when no
//! candidate is selective (fewer than [`DRIVE_MAX`] rows); a capped count always drives
//! from the best candidate and stops at the cap. A full count, which visits every match,
//! leads from a stale or status conjunct when there is one (indexes in id order), and
//! looks the best attribute predicate up as a sorted id list.

use std::collections::HashMap;

use rusqlite::Connection;

use super::ast::Col;
pub(crate) use super::planned::{Planned, SortAttr};
use super::planned::{TextRows, lead_rows, on_sort_column, ranged};
use super::sort::{SortKey, SortSpec};
use super::sql::{self, Sql, attr_rows, cond};
use super::text::{TextMatch, text_match};
use super::typecheck::{AttrCond, Cond, Test, db_err, simplify};
use super::value::SqlVal;
use crate::error::Result;

/// At most this many matching rows make a predicate selective: it drives the query (a
/// nested attribute predicate has its ids looked up once).
#[cfg(not(test))]
pub(crate) const DRIVE_MAX: i64 = 5000;
/// Small in tests, so that tiny registries exercise every query shape.
#[cfg(test)]
pub(crate) const DRIVE_MAX: i64 = 3;

/// How many of the newest items rank the candidates that all reach [`DRIVE_MAX`].
#[cfg(not(test))]
const SAMPLE: i64 = 500;
#[cfg(test)]
const SAMPLE: i64 = 40;

/// What a query is for.
#[derive(Clone, Copy)]
pub(crate) enum Goal<'a> {
    /// Counting the matches, all of them or (`capped`) up to a cap.
    Count { capped: bool },
    /// Listing them in this order.
    List(&'a SortSpec),
}

/// Whether an index walk gives `sort`'s order.
fn walkable(sort: &SortSpec) -> bool {
    match &sort.key {
        SortKey::Attr(_, _) => true,
        SortKey::Col(c) => *c == Col::Status || c.has_index(),
    }
}

/// The LIKE pattern of `c` when the trigram index covers it: a search, or a `~` on the
/// uri, label or filename.
fn text_pattern(c: &Cond) -> Option<&str> {
    match c {
        Cond::Search(p) | Cond::Col(Col::Uri | Col::Label | Col::Filename, Test::Like(p)) => {
            Some(p)
        }
        _ => None,
    }
}

/// The conjuncts of `c`.
fn conjuncts(c: Cond) -> Vec<Cond> {
    match c {
        Cond::True => Vec::new(),
        Cond::And(v) => v,
        other => vec![other],
    }
}

/// Which candidates to size first: an attribute's single value (usually the rarest),
/// then a status, then ranges.
fn likely_rank(c: &Cond) -> u8 {
    match c {
        Cond::Attr(a) if a.eq_only() => 0,
        Cond::Status(_) | Cond::Stale(_) => 1,
        c if text_pattern(c).is_some() => 1,
        _ => 2,
    }
}

/// Plans queries on one connection, remembering what it counted.
pub(crate) struct Planner<'c> {
    conn: &'c Connection,
    seen: HashMap<String, Vec<i64>>,
    /// What the trigram index says about each LIKE pattern, looked up once.
    texts: HashMap<String, TextMatch>,
}

impl<'c> Planner<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Planner {
            conn,
            seen: HashMap::new(),
            texts: HashMap::new(),
        }
    }

    /// Splits `c` for `goal`.
    pub(crate) fn plan(&mut self, c: &Cond, goal: Goal<'_>) -> Result<Planned> {
        // Top-level attribute predicates are sized below, as candidates, if need be.
        let mut settled = Vec::new();
        for mut c in conjuncts(simplify(c.clone())) {
            if !matches!(c, Cond::Attr(_)) {
                self.settle(&mut c)?;
            }
            settled.push(c);
        }
        let conjuncts = conjuncts(simplify(Cond::And(settled)));
        let mut candidates: Vec<usize> = (0..conjuncts.len())
            .filter(|k| conjuncts.get(*k).is_some_and(|c| self.indexed(c)))
            .collect();
        // The likely smallest first: each is counted only as far as the smallest so far.
        candidates.sort_by_key(|k| conjuncts.get(*k).map_or(2, likely_rank));
        let sort = match goal {
            Goal::List(s) => Some(s),
            Goal::Count { .. } => None,
        };
        // Whether the best candidate leads whatever its size.
        let leads = match goal {
            // Not selective: walk the sort order and stop after the page.
            Goal::List(s) => !walkable(s),
            // Stops after the cap, whichever way in.
            Goal::Count { capped: true } => true,
            // Decided below.
            Goal::Count { capped: false } => false,
        };
        let goal_is_exact = matches!(goal, Goal::Count { capped: false });
        // A full count: a selective search leads (its candidates are few), else a stale
        // or status conjunct (an index in id order, which SQLite pairs with an id list),
        // else the best attribute; the best attribute is a sorted id list, looked up once,
        // the others probed per item.
        let mut best_attr = None;
        let mut exact_lead = None;
        if goal_is_exact {
            let texts: Vec<usize> = (candidates.iter().copied())
                .filter(|k| {
                    conjuncts
                        .get(*k)
                        .is_some_and(|c| self.text_query(c).is_some())
                })
                .collect();
            let best_text = (self.sizes(&conjuncts, &texts)?.into_iter())
                .min_by_key(|(_, n)| *n)
                .filter(|(_, n)| *n < DRIVE_MAX);
            let attrs: Vec<usize> = (candidates.iter().copied())
                .filter(|k| matches!(conjuncts.get(*k), Some(Cond::Attr(_))))
                .collect();
            best_attr = match attrs.as_slice() {
                [] => None,
                [k] => Some(*k),
                many => {
                    let sizes = self.sizes(&conjuncts, many)?;
                    self.best(&conjuncts, &sizes, true)?.map(|(k, _)| k)
                }
            };
            let find = |f: fn(&Cond) -> bool| {
                candidates
                    .iter()
                    .copied()
                    .find(|k| conjuncts.get(*k).is_some_and(f))
            };
            exact_lead = best_text
                .map(|(k, _)| k)
                .or(find(|c| matches!(c, Cond::Stale(_))))
                .or(find(|c| matches!(c, Cond::Status(_))))
                .or(best_attr);
        }
        let lead = match candidates.as_slice() {
            _ if goal_is_exact => exact_lead,
            [] => None,
            // Nothing to compare: sized only when the size decides.
            [k] if leads => Some(*k),
            _ => {
                let sizes = self.sizes(&conjuncts, &candidates)?;
                // Ties among the unselective are ranked only for a goal they may lead.
                self.best(&conjuncts, &sizes, leads)?
                    .and_then(|(k, n)| (n < DRIVE_MAX || leads).then_some(k))
            }
        };
        let all_open = lead.is_none() && (candidates.is_empty() || sort.is_none());
        let mut out = Planned {
            lead: None,
            text: None,
            open: Vec::new(),
            hidden: Vec::new(),
        };
        for (k, mut c) in conjuncts.into_iter().enumerate() {
            let attr = if let Cond::Attr(a) = &mut c {
                // Probed per item, or (the best in a full count) a sorted id list.
                a.drive = goal_is_exact && Some(k) == best_attr;
                true
            } else {
                false
            };
            if Some(k) == lead {
                out.text = self.text_query(&c).cloned();
                out.lead = Some(c);
            } else if all_open
                || (goal_is_exact && attr)
                || (lead.is_none() && sort.is_some_and(|s| on_sort_column(&c, s)))
            {
                out.open.push(c);
            } else {
                out.hidden.push(c);
            }
        }
        Ok(out)
    }

    /// Folds attribute predicates that match nothing into `False`, and marks the rare ones
    /// to have their ids looked up once.
    fn settle(&mut self, c: &mut Cond) -> Result<()> {
        match c {
            Cond::And(v) | Cond::Or(v) => v.iter_mut().try_for_each(|c| self.settle(c)),
            Cond::Not(c) => self.settle(c),
            Cond::Attr(a) => {
                let n = self.size(&Cond::Attr(a.clone()), DRIVE_MAX)?;
                if n == 0 {
                    *c = Cond::False;
                } else {
                    a.drive = n < DRIVE_MAX;
                }
                Ok(())
            }
            c => {
                let Some(p) = text_pattern(c) else {
                    return Ok(());
                };
                if !self.texts.contains_key(p) {
                    let m = text_match(self.conn, p)?;
                    self.texts.insert(p.to_string(), m);
                }
                if self.texts.get(p) == Some(&TextMatch::Nothing) {
                    *c = Cond::False;
                }
                Ok(())
            }
        }
    }

    /// The trigram index's candidates for `c`, when it has them (looked up by
    /// [`Self::settle`]).
    fn text_query(&self, c: &Cond) -> Option<&TextRows> {
        match self.texts.get(text_pattern(c)?)? {
            TextMatch::Candidates(rows) => Some(rows),
            TextMatch::Unindexed | TextMatch::Nothing => None,
        }
    }

    /// Whether an index can find the rows matching `c`.
    fn indexed(&self, c: &Cond) -> bool {
        match c {
            Cond::Attr(_) | Cond::Status(_) | Cond::Stale(_) => true,
            Cond::Col(col, t) if ranged(t) => col.has_index(),
            c => self.text_query(c).is_some(),
        }
    }

    /// How many items match the indexed condition `c`, counting no further than `upto`.
    fn size(&mut self, c: &Cond, upto: i64) -> Result<i64> {
        let mut q = Sql::default();
        q.push("SELECT count(*) FROM (SELECT 1 FROM ");
        match c {
            Cond::Attr(a) => {
                q.push(a.scope.table()).push(" a WHERE ");
                attr_rows(a, "a", &mut q);
            }
            c => {
                lead_rows(c, self.text_query(c), &mut q);
                q.push(" WHERE ");
                cond(c, &mut q);
            }
        }
        q.push(" LIMIT ").param(SqlVal::Int(upto)).push(")");
        Ok(self.ask(&q)?.first().copied().unwrap_or(0))
    }

    /// The sizes of the conjuncts `ks`, each counted only as far as the smallest before
    /// it (past that it cannot be the smallest); once one matches nothing, no further.
    fn sizes(&mut self, conjuncts: &[Cond], ks: &[usize]) -> Result<Vec<(usize, i64)>> {
        let mut sizes = Vec::new();
        let mut upto = DRIVE_MAX;
        for &k in ks {
            if let Some(c) = conjuncts.get(k) {
                let n = self.size(c, upto)?;
                sizes.push((k, n));
                upto = upto.min(n);
                if upto == 0 {
                    break;
                }
            }
        }
        Ok(sizes)
    }

    /// The candidate with the fewest rows; among several that reached [`DRIVE_MAX`], the
    /// one matching the smallest share of the newest items.
    fn best(
        &mut self,
        conjuncts: &[Cond],
        sizes: &[(usize, i64)],
        rank: bool,
    ) -> Result<Option<(usize, i64)>> {
        let Some(&(k, min)) = sizes.iter().min_by_key(|(_, n)| *n) else {
            return Ok(None);
        };
        let tied: Vec<usize> = sizes
            .iter()
            .filter(|(_, n)| *n == min)
            .map(|(k, _)| *k)
            .collect();
        if min < DRIVE_MAX || tied.len() < 2 || !rank {
            return Ok(Some((k, min)));
        }
        let mut q = Sql::default();
        q.push("SELECT ");
        for (n, k) in tied.iter().enumerate() {
            if n > 0 {
                q.push(", ");
            }
            q.push("total(");
            if let Some(Cond::Attr(a)) = conjuncts.get(*k) {
                // Probed per item whatever its size.
                cond(
                    &Cond::Attr(AttrCond {
                        drive: false,
                        ..a.clone()
                    }),
                    &mut q,
                );
            } else if let Some(c) = conjuncts.get(*k) {
                cond(c, &mut q);
            }
            q.push(")");
        }
        q.push(" FROM (SELECT * FROM items i ORDER BY i.id DESC LIMIT ")
            .param(SqlVal::Int(SAMPLE))
            .push(") i");
        let shares = self.ask(&q)?;
        let pick = tied
            .iter()
            .zip(&shares)
            .min_by_key(|(_, n)| **n)
            .map_or(k, |(k, _)| *k);
        Ok(Some((pick, min)))
    }

    /// The first row of `q`, as integers, asked once per planner.
    fn ask(&mut self, q: &Sql) -> Result<Vec<i64>> {
        let key = format!("{}{:?}", q.text, q.params);
        if let Some(v) = self.seen.get(&key) {
            return Ok(v.clone());
        }
        sql::log(q);
        let err = db_err(self.conn, "planning a filter");
        let mut stmt = self.conn.prepare_cached(&q.text).map_err(&err)?;
        let width = stmt.column_count();
        let v = stmt
            .query_row(q.params(), |r| {
                (0..width)
                    .map(|n| Ok(r.get::<_, Option<f64>>(n)?.unwrap_or(0.0) as i64))
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .map_err(&err)?;
        self.seen.insert(key, v.clone());
        Ok(v)
    }
}
