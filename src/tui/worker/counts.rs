//! The count thread: tab counts under the filter in force, on a thread of their own so
//! that a slow exact count never holds up a page. Counts asked for while one runs are
//! made once; the clock's recounts only when time can have changed the figures.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use chrono::{DateTime, Utc};

use super::running::Running;
use super::{Queue, open_for, run};
use crate::tui::Msg;
use crate::tui::source::Source;
use crate::tui::update::Effect;

/// Starts the count thread on the cache at `root`: only the newest waiting count runs
/// (each names the filter it counts under, so the newest is the one that matters), and
/// a count for another filter stops the one running.
pub fn spawn_counter(root: PathBuf, out: Sender<Msg>) -> Queue<String> {
    let (tx, rx) = std::sync::mpsc::channel::<Effect>();
    let counting = Running::default();
    let running = counting.clone();
    let closing = Arc::new(AtomicBool::new(false));
    let stop = closing.clone();
    let thread = std::thread::spawn(move || {
        let Some(cache) = open_for(&root, "for counts", &out) else {
            return;
        };
        let source = Source::new(cache);
        running.attach(source.cache().registry().db().conn.get_interrupt_handle());
        while let Ok(first) = rx.recv() {
            let batch: Vec<Effect> = std::iter::once(first).chain(rx.try_iter()).collect();
            let Some(effect) = last_count(batch) else {
                continue;
            };
            if !wanted(&source, &effect) {
                continue;
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let tag = match &effect {
                Effect::Count { filter, .. } => filter.as_str().to_string(),
                _ => String::new(),
            };
            let Some(action) = running.run(tag, || run(&source, effect)) else {
                continue; // stopped: a count for a newer filter is on its way
            };
            if out.send(Msg::Action(action)).is_err() {
                return;
            }
        }
    });
    Queue {
        tx,
        running: counting,
        supersedes: |effect, filter| matches!(effect, Effect::Count { filter: new, .. } if new.as_str() != filter),
        thread,
        closing,
    }
}

/// The one count to make of those asked for meanwhile: the last, for the span of every
/// clock recount among them (from the earliest `since`), or whatever the clock says if
/// one of them was for a change (no `since`).
fn last_count(batch: Vec<Effect>) -> Option<Effect> {
    let mut earliest = None;
    let mut changed = false;
    for effect in &batch {
        if let Effect::Count { since, .. } = effect {
            match since {
                Some(t) => earliest = Some(earliest.map_or(*t, |e: DateTime<Utc>| e.min(*t))),
                None => changed = true,
            }
        }
    }
    let mut last = batch.into_iter().last()?;
    if let Effect::Count { since, .. } = &mut last {
        *since = if changed { None } else { earliest };
    }
    Some(last)
}

/// Whether `effect` has anything to do: a recount as the clock moves on is made only when
/// time can have changed the counts. (Counting a costly filter again every ten seconds,
/// for figures that could not have moved, kept a core busy while the browser sat idle.)
pub fn wanted(source: &Source, effect: &Effect) -> bool {
    match effect {
        Effect::Count {
            filter,
            since: Some(since),
            ..
        } => source.counts_moved(filter, *since, Utc::now()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use cachet::filter::Filter;
    use chrono::{DateTime, TimeZone, Utc};

    use super::{Effect, last_count};

    fn count(filter: &str, since: Option<DateTime<Utc>>) -> Effect {
        Effect::Count {
            filter: Filter::parse(filter).unwrap(),
            exact: false,
            since,
        }
    }

    fn since(effect: Option<Effect>) -> (String, Option<DateTime<Utc>>) {
        match effect {
            Some(Effect::Count { filter, since, .. }) => (filter.to_string(), since),
            other => panic!("{other:?}"),
        }
    }

    /// Counts asked for while one ran are made once, the last's filter, over every span
    /// the clock's recounts among them cover: a lease that ran out in the first tick's
    /// span is not missed for the last tick's.
    #[test]
    fn queued_counts_are_made_once_over_all_their_spans() {
        let t = |s| Utc.timestamp_opt(s, 0).single().unwrap();
        let ticks = vec![
            count("a", Some(t(10))),
            count("a", Some(t(0))),
            count("b", Some(t(20))),
        ];
        assert_eq!(since(last_count(ticks)), ("b".into(), Some(t(0))));
        // One for a change among them: made whatever time did.
        let mixed = vec![
            count("a", Some(t(10))),
            count("a", None),
            count("a", Some(t(20))),
        ];
        assert_eq!(since(last_count(mixed)), ("a".into(), None));
        assert!(last_count(Vec::new()).is_none());
    }
}
