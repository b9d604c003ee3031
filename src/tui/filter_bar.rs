//! `/`: the filter bar. The text is the filter language of `cachet list --filter`; each
//! edit that parses is sent to the worker (latest wins: results carry the sequence
//! number of their request and older ones are dropped), and the list changes when the
//! answer comes, so the last good rows stay on screen while the text is wrong.
//!
//! `f` adds a term for the selected row's value in the sort column (the one marked ▲/▼;
//! `s` moves it), so "more like this row" is two keys.

use cachet::Item;
use cachet::filter::{Col, Filter, Notice, Scope, SortKey, words};
use tui_input::Input;

use super::app::App;
use super::list::PageData;
use super::model::ListQuery;
use super::update::{Action, Effect};

/// Recent filters kept for up/down.
const HISTORY: usize = 50;

/// What is wrong with a filter: a message, and the character it is about when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub pos: Option<usize>,
    pub message: String,
}

impl FilterError {
    pub fn of(e: cachet::Error) -> FilterError {
        match e {
            cachet::Error::Filter { pos, message, .. } => FilterError {
                pos: Some(pos),
                message,
            },
            other => FilterError {
                pos: None,
                message: other.to_string(),
            },
        }
    }
}

/// A filter for the worker to check and read the first page of.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterRequest {
    pub seq: u64,
    pub query: ListQuery,
    /// The item to keep selected, and its screen row, if the new list holds it.
    pub hold: Option<(i64, usize)>,
}

/// A checked filter and its first page.
#[derive(Debug, Clone)]
pub struct Filtered {
    pub query: ListQuery,
    pub notices: Vec<Notice>,
    /// The page holding the item to keep selected, or else the first.
    pub page: PageData,
    pub hold: Option<(i64, usize)>,
}

/// The bar's state. The filter in force is the list's (`app.list.query.filter`).
#[derive(Debug, Clone, Default)]
pub struct FilterBar {
    /// Whether the bar has the keys.
    pub editing: bool,
    pub input: Input,
    /// The filter in force when the bar opened: `esc` goes back to it.
    before: String,
    /// The item selected when the bar opened, and its screen row: `esc` goes back to it.
    held_before: Option<(i64, usize)>,
    /// What is wrong with the text in the bar.
    pub error: Option<FilterError>,
    /// Names in the filter that match nothing, with suggestions.
    pub notices: Vec<Notice>,
    /// Filters used, oldest first.
    pub history: Vec<String>,
    /// The history entry in the bar (up/down), and the text typed before recalling.
    recall: Option<(usize, String)>,
    /// The newest filter request; answers to older ones are dropped.
    pub seq: u64,
}

impl FilterBar {
    /// What the line under the bar says: the error, else the first notice (with how
    /// many more), the character it is about, and whether it is an error.
    pub fn note(&self) -> Option<(Option<usize>, String, bool)> {
        if !self.editing {
            return None;
        }
        if let Some(e) = &self.error {
            return Some((e.pos, e.message.clone(), true));
        }
        let first = self.notices.first()?;
        let text = match self.notices.len() - 1 {
            0 => first.message.clone(),
            more => format!("{} (+{more} more)", first.message),
        };
        Some((Some(first.pos), text, false))
    }
}

/// `/`: opens the bar on the filter in force.
pub fn open(app: &mut App) {
    let text = app.list.query.filter.as_str().to_string();
    let held = app.list.held();
    let bar = &mut app.filter;
    bar.editing = true;
    bar.input = Input::new(text.clone());
    bar.before = text;
    bar.held_before = held;
    bar.recall = None;
    // With one line at the bottom a message would hide the bar's keys.
    app.message = None;
    super::update::fit(app);
}

/// Keys while the bar is open. Returns whether the bar took the action.
pub fn key(app: &mut App, action: &Action, fx: &mut Vec<Effect>) -> bool {
    if !app.filter.editing {
        return false;
    }
    match action {
        Action::Edit(req) => {
            app.filter.input.handle(*req);
            app.filter.recall = None;
            edited(app, fx);
        }
        Action::DeleteTerm => {
            let input = &app.filter.input;
            let chars: Vec<char> = input.value().chars().collect();
            let cursor = input.cursor().min(chars.len());
            let start = term_start(&chars[..cursor].iter().collect::<String>());
            let kept: String = chars
                .iter()
                .take(start)
                .chain(chars.iter().skip(cursor))
                .collect();
            app.filter.input = Input::new(kept).with_cursor(start);
            app.filter.recall = None;
            edited(app, fx);
        }
        Action::Up => recall(app, true, fx),
        Action::Down => recall(app, false, fx),
        // The help, as anywhere (for the bar, the filter language): the bar stays open
        // beneath it.
        Action::Help => return false,
        Action::Confirm => {
            if app.filter.error.is_some() {
                app.warn("the filter has an error (esc goes back to the one before)");
                return true;
            }
            let text = app.filter.input.value().trim().to_string();
            remember(app, &text);
            close(app);
        }
        Action::Cancel => {
            let before = std::mem::take(&mut app.filter.before);
            app.filter.input = Input::new(before.clone());
            app.filter.error = None;
            close(app);
            // Given up: back to the item selected when the bar opened.
            let hold = app.filter.held_before.or_else(|| app.list.held());
            apply_text(app, &before, hold, fx);
        }
        Action::Quit => app.quit = true,
        _ => {}
    }
    true
}

fn close(app: &mut App) {
    app.filter.editing = false;
    app.filter.recall = None;
    super::update::fit(app);
}

/// The text changed: parse it; a good filter goes to the worker, a bad one shows where.
fn edited(app: &mut App, fx: &mut Vec<Effect>) {
    let text = app.filter.input.value().to_string();
    apply_text(app, &text, None, fx);
}

/// Asks for `text` as the filter, unless it is already in force or does not parse; the
/// list to land on `hold` if it holds it (none while typing: the best matches come first).
fn apply_text(app: &mut App, text: &str, hold: Option<(i64, usize)>, fx: &mut Vec<Effect>) {
    match Filter::parse(text.trim_end()) {
        Err(e) => app.filter.error = Some(FilterError::of(e)),
        Ok(filter) => {
            app.filter.error = None;
            request(app, filter, hold, fx);
        }
    }
}

/// Sends `filter` to the worker (also when it is the one in force: a request still
/// on its way may be for another), the list to land on `hold` if it holds it.
fn request(app: &mut App, filter: Filter, hold: Option<(i64, usize)>, fx: &mut Vec<Effect>) {
    app.filter.seq += 1;
    let query = ListQuery {
        filter,
        ..app.list.query.clone()
    };
    fx.push(Effect::Filter(FilterRequest {
        seq: app.filter.seq,
        query,
        hold,
    }));
}

/// The worker's answer: the new list, or what is wrong with the filter.
pub fn loaded(
    app: &mut App,
    seq: u64,
    result: Result<Filtered, FilterError>,
    fx: &mut Vec<Effect>,
) {
    if seq != app.filter.seq {
        return;
    }
    match result {
        Ok(f) => {
            // An error stays: it is about the text in the bar now, typed since.
            app.filter.notices = f.notices;
            if (&f.query.tab, &f.query.sort) != (&app.list.query.tab, &app.list.query.sort) {
                // Another tab or order was chosen while this was on its way: that one is
                // listed, so ask again for this filter in it.
                let hold = f.hold.and_then(|_| app.list.held());
                return request(app, f.query.filter, hold, fx);
            }
            if f.query.filter == app.list.query.filter {
                // The filter in force already (the bar left unedited, or edited back):
                // the list, its selection and counts stay as they are.
                return;
            }
            app.list.reset_to(f.query, f.hold);
            let mut page = f.page;
            page.generation = app.list.generation;
            app.list.loaded(page);
            app.detail = Default::default();
            // The tabs count for the filter before this one: `…` until they are counted
            // again, rather than numbers of another list beside this one's rows.
            app.counts = None;
            fx.push(super::update::count(app, false));
        }
        Err(e) if app.filter.editing => app.filter.error = Some(e),
        Err(e) => app.warn(format!("filter: {}", e.message)),
    }
}

/// Up (`older`) and down through recent filters; below the newest is what was typed.
fn recall(app: &mut App, older: bool, fx: &mut Vec<Effect>) {
    let bar = &mut app.filter;
    let n = bar.history.len();
    if n == 0 {
        return;
    }
    let next = match (&bar.recall, older) {
        // The newest entry is often the text in the bar already: start past it.
        (None, true) if n >= 2 && bar.history[n - 1] == bar.input.value().trim_end() => Some(n - 2),
        (None, true) => Some(n - 1),
        (None, false) => return,
        (Some((i, _)), true) => Some(i.saturating_sub(1)),
        (Some((i, _)), false) if i + 1 < n => Some(i + 1),
        (Some(_), false) => None,
    };
    let typed = match bar.recall.take() {
        Some((_, typed)) => typed,
        None => bar.input.value().to_string(),
    };
    let text = match next {
        Some(i) => {
            bar.recall = Some((i, typed));
            bar.history[i].clone()
        }
        None => typed,
    };
    bar.input = Input::new(text.clone());
    apply_text(app, &text, None, fx);
}

/// Keeps `text` as the newest history entry.
pub fn remember(app: &mut App, text: &str) {
    if text.is_empty() {
        return;
    }
    let h = &mut app.filter.history;
    h.retain(|t| t != text);
    h.push(text.to_string());
    if h.len() > HISTORY {
        h.remove(0);
    }
}

/// `esc` on the list: drops the filter in force. Returns whether there was one.
pub fn clear(app: &mut App, fx: &mut Vec<Effect>) -> bool {
    if app.list.query.filter.is_all() {
        return false;
    }
    app.filter.input = Input::default();
    app.filter.error = None;
    app.filter.notices.clear();
    request(app, Filter::all(), app.list.held(), fx);
    app.say("filter cleared");
    true
}

/// `f`: adds the selected row's value in the sort column to the filter.
pub fn add_cell(app: &mut App, fx: &mut Vec<Effect>) {
    let Some(item) = app.list.selected() else {
        app.warn("nothing selected");
        return;
    };
    let Some(term) = cell_term(item, &app.list.query.sort.key, app.now) else {
        app.warn("f: the list is sorted by a column f cannot filter by");
        return;
    };
    let current = app.list.query.filter.as_str().trim();
    if !has_or(current) && has_term(current, &term) {
        app.say(format!("filter: {current} (has {term} already)"));
        return;
    }
    let text = if current.is_empty() {
        term
    } else if has_or(current) {
        format!("({current}) {term}")
    } else {
        format!("{current} {term}")
    };
    match Filter::parse(&text) {
        Ok(filter) => {
            remember(app, &text);
            app.filter.input = Input::new(text.clone());
            app.say(format!("filter: {text}"));
            request(app, filter, app.list.held(), fx);
        }
        Err(e) => app.warn(format!("f: {e}")),
    }
}

/// Whether the terms of `filter` (one after another, no `or`) include `term` as it is.
fn has_term(filter: &str, term: &str) -> bool {
    let chars: Vec<char> = filter.chars().collect();
    words(filter)
        .iter()
        .any(|w| chars[w.start..w.end].iter().copied().eq(term.chars()))
}

/// Where the last term of `before` (the text before the cursor) starts. Spaces after it
/// go with it.
fn term_start(before: &str) -> usize {
    words(before).last().map_or(0, |w| w.start)
}

/// Whether a filter has an `or` at some level, so that a term added to it needs the
/// rest in parentheses.
fn has_or(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    words(text).iter().any(|w| {
        w.bar || (chars[w.start..w.end].iter().collect::<String>()).eq_ignore_ascii_case("or")
    })
}

/// The term that matches `item`'s value in the column `key` sorts by. Ids are unique,
/// so sorted by id it takes the status instead; ages take the day the item was made
/// (that day or later). `None` for orders the list never offers.
pub fn cell_term(item: &Item, key: &SortKey, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    Some(match key {
        SortKey::Col(Col::Id | Col::Status) => {
            let s = if item.is_stale(now) {
                "stale".to_string()
            } else {
                item.status.as_str().to_ascii_lowercase()
            };
            format!("status:{s}")
        }
        // Sorted by URI, the name column shows URIs (not labels): the term is the URI.
        SortKey::Col(Col::Uri) => format!("uri={}", quote(&item.uri)),
        SortKey::Col(Col::Version) => format!("version={}", item.version),
        SortKey::Col(Col::Size) => match item.size {
            Some(n) => format!("size={n}"),
            None => "!size>=0".to_string(),
        },
        SortKey::Col(Col::Created) => format!("created>={}", item.created.format("%Y-%m-%d")),
        SortKey::Attr(Scope::Attr, name) => {
            // An attribute named as a built-in field (`note`, `size`) is named in full.
            let named = if cachet::filter::is_builtin_name(name) {
                format!("attr.{name}")
            } else {
                name.clone()
            };
            match item.attrs.get(name) {
                Some(v) => format!("{named}={}", quote(&v.to_string())),
                None => format!("!has:{named}"),
            }
        }
        SortKey::Col(_) | SortKey::Attr(Scope::Param, _) => return None,
    })
}

/// A value as the filter language reads it: bare when it can be, else in quotes.
fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || "()|,\"'\\".contains(c));
    if bare {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_inside_quotes_are_the_values_not_the_filters() {
        assert!(has_term("status:ready size>1", "status:ready"));
        assert!(has_term("a  status:ready", "status:ready"));
        assert!(!has_term(r#"label="a status:ready b""#, "status:ready"));
        assert!(!has_term(r#"label='x \' status:ready'"#, "status:ready"));
        assert!(has_term(r#"label="a b" status:ready"#, "status:ready"));
        assert!(has_or("a | b") && has_or("a|b") && has_or("a OR b"));
        assert!(!has_or(r#"label="a | b or c""#));
        // An apostrophe inside a word is no quote: what follows it is the filter's.
        assert!(has_or("uri~it's | id=2"));
        assert!(has_term("label=it's status:ready", "status:ready"));
        assert!(has_or("(a)|'b c'") && !has_term("x ~'a status:ready'", "status:ready"));
        assert_eq!(term_start(r#"x label="a b \"c\"" "#), 2);
        assert_eq!(term_start(""), 0);
    }
}
