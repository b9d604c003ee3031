//! The dialog's settings: the policies to choose from, values typed in their place,
//! and the policy they make (or that a configured one is shown as).

use std::time::Duration;

use cachet::gc::GcPolicy;

use super::GcDialog;
use crate::tui::update::Action;

/// One choosable policy and its settings, the first being "off".
pub struct Choice {
    pub name: &'static str,
    pub options: &'static [&'static str],
    /// The words a typed value is shown between, so that it reads as the options do
    /// (`2` as `2 per key`).
    pub around: (&'static str, &'static str),
}

const DAY: u64 = 86_400;

pub const CHOICES: [Choice; 6] = [
    Choice {
        name: "empty the trash",
        options: &["off", "all of it", "trashed over 7d ago"],
        around: ("trashed over ", " ago"),
    },
    Choice {
        name: "stale writes and failures",
        options: &["off", "any age", "older than 1d", "older than 7d"],
        around: ("older than ", ""),
    },
    Choice {
        name: "keep the newest versions",
        options: &["off", "1 per key", "3 per key", "5 per key"],
        around: ("", " per key"),
    },
    Choice {
        name: "not used for",
        options: &["off", "7d", "30d", "90d"],
        around: ("", ""),
    },
    Choice {
        name: "shrink the cache to",
        options: &["off", "100 MiB", "1 GiB", "10 GiB"],
        around: ("", ""),
    },
    Choice {
        name: "orphan blobs and temp files",
        options: &["off", "older than 1h", "any age"],
        around: ("older than ", ""),
    },
];

/// What a value typed for a setting means: `off`, or a value of the setting's kind.
pub(super) enum Typed {
    Off,
    Duration(Duration),
    Count(u32),
    Size(u64),
}

/// Setting `row` of `policy` as it would be typed (`off`, `14d`, `50GiB`, `2`).
pub(super) fn setting(policy: &GcPolicy, row: usize) -> String {
    let age = |d: Option<Duration>| d.map_or("off".to_string(), written_duration);
    match row {
        0 => age(policy.trash),
        1 => age(policy.stale),
        2 => policy.keep_last.map_or("off".into(), |n| n.to_string()),
        3 => age(policy.max_age),
        4 => policy.max_size.map_or("off".into(), written_size),
        _ if policy.orphans => written_duration(policy.grace),
        _ => "off".into(),
    }
}

/// A duration in the largest unit that counts it whole (`90s`, `2h`, `14d`).
fn written_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let unit = [(7 * 86_400, "w"), (86_400, "d"), (3600, "h"), (60, "m")]
        .into_iter()
        .find(|&(n, _)| secs > 0 && secs.is_multiple_of(n));
    match unit {
        Some((n, name)) => format!("{}{name}", secs / n),
        None => format!("{secs}s"),
    }
}

/// A size in the largest unit that counts it whole, binary first (`50GiB`, `50GB`,
/// `1536KiB`, `100`).
fn written_size(bytes: u64) -> String {
    let unit = [
        (1u64 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1_000_000_000_000, "TB"),
        (1_000_000_000, "GB"),
        (1 << 20, "MiB"),
        (1_000_000, "MB"),
        (1 << 10, "KiB"),
        (1000, "KB"),
    ]
    .into_iter()
    .find(|&(n, _)| bytes > 0 && bytes.is_multiple_of(n));
    match unit {
        Some((n, name)) => format!("{}{name}", bytes / n),
        None => bytes.to_string(),
    }
}

/// The value typed for setting `row`, or why it is none ("'x' is not a size like 512,
/// 10MB or 2GiB").
pub(super) fn parse_typed(row: usize, text: &str) -> Result<Typed, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Typed::Off);
    }
    let name = CHOICES.get(row).map_or("setting", |c| c.name);
    match row {
        2 => match text.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Typed::Count(n)),
            _ => Err(format!("'{text}' is no count of 1 or more (or off)")),
        },
        4 => cachet::units::size(name, text)
            .map(Typed::Size)
            .map_err(|e| e.to_string()),
        _ => cachet::units::duration(name, text)
            .map(Typed::Duration)
            .map_err(|e| e.to_string()),
    }
}

impl GcDialog {
    /// The policy the choices make (a typed value in place of its row's choice).
    pub fn policy(&self) -> GcPolicy {
        let mut policy = self.chosen_policy();
        for (row, text) in self.typed.iter().enumerate() {
            let Some(typed) = text.as_deref().and_then(|t| parse_typed(row, t).ok()) else {
                continue;
            };
            let duration = match typed {
                Typed::Duration(d) => Some(d),
                _ => None,
            };
            match (row, typed) {
                (0, _) => policy.trash = duration,
                (1, _) => policy.stale = duration,
                (2, Typed::Count(n)) => policy.keep_last = Some(n),
                (2, _) => policy.keep_last = None,
                (3, _) => policy.max_age = duration,
                (4, Typed::Size(n)) => policy.max_size = Some(n),
                (4, _) => policy.max_size = None,
                (_, Typed::Off) => policy.orphans = false,
                (_, _) => {
                    policy.orphans = true;
                    policy.grace = duration.unwrap_or(policy.grace);
                }
            }
        }
        policy
    }

    /// The dialog set to `policy` (the configured one): each setting on the choice that
    /// means the same, else typed.
    pub fn from_policy(policy: &GcPolicy) -> GcDialog {
        let mut dialog = GcDialog::new();
        for (row, choice) in CHOICES.iter().enumerate() {
            let same = |d: &GcDialog| setting(&d.chosen_policy(), row) == setting(policy, row);
            let preset = (0..choice.options.len()).find(|&k| {
                dialog.chosen[row] = k;
                same(&dialog)
            });
            match preset {
                Some(k) => dialog.chosen[row] = k,
                None => {
                    dialog.chosen[row] = 0;
                    dialog.typed[row] = Some(setting(policy, row));
                }
            }
        }
        dialog
    }

    /// What row `row` shows: the value typed, in the words of the choices, or the choice.
    pub fn shown(&self, row: usize) -> String {
        let choice = &CHOICES[row];
        match &self.typed[row] {
            Some(text) if text.trim().eq_ignore_ascii_case("off") => "off".into(),
            Some(text) => format!("{}{}{}", choice.around.0, text.trim(), choice.around.1),
            None => choice.options[self.chosen[row].min(choice.options.len() - 1)].into(),
        }
    }

    /// The policy of the choices alone.
    pub(super) fn chosen_policy(&self) -> GcPolicy {
        let c = self.chosen;
        let days = |n: u64| Duration::from_secs(n * DAY);
        GcPolicy {
            trash: [None, Some(Duration::ZERO), Some(days(7))][c[0].min(2)],
            stale: [None, Some(Duration::ZERO), Some(days(1)), Some(days(7))][c[1].min(3)],
            keep_last: [None, Some(1), Some(3), Some(5)][c[2].min(3)],
            max_age: [None, Some(days(7)), Some(days(30)), Some(days(90))][c[3].min(3)],
            max_size: [None, Some(100 << 20), Some(1 << 30), Some(10 << 30)][c[4].min(3)],
            orphans: c[5] > 0,
            grace: if c[5] == 2 {
                Duration::ZERO
            } else {
                Duration::from_secs(3600)
            },
        }
    }
}

/// Keys while a setting's value is typed (only ever while choosing): the field's editing
/// keys, `enter` to take the value (a bad one stays, with the reason), `esc` to leave it.
pub(super) fn typing(dialog: &mut GcDialog, action: Action) {
    let Some((input, error)) = &mut dialog.editing else {
        return;
    };
    match action {
        Action::Edit(request) => {
            input.handle(request);
            *error = None;
        }
        Action::Confirm => {
            let text = input.value().trim().to_string();
            match parse_typed(dialog.cursor, &text) {
                Ok(Typed::Off) => {
                    dialog.typed[dialog.cursor] = None;
                    dialog.chosen[dialog.cursor] = 0;
                    dialog.editing = None;
                }
                Ok(_) => {
                    dialog.typed[dialog.cursor] = Some(text);
                    dialog.editing = None;
                }
                Err(why) => *error = Some(why),
            }
        }
        Action::Back | Action::Cancel => dialog.editing = None,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cachet::gc::GcPolicy;

    use super::GcDialog;

    /// A configured policy comes into the dialog as it is: on the choices where they mean
    /// the same, typed where none does.
    #[test]
    fn the_dialog_takes_a_configured_policy_as_it_is() {
        let day = Duration::from_secs(86_400);
        let policies = [
            GcPolicy::default(),
            GcPolicy::none(),
            GcPolicy {
                trash: Some(day * 3),
                stale: Some(Duration::from_secs(90)),
                keep_last: Some(4),
                max_age: Some(day * 14),
                max_size: Some(50 << 30),
                orphans: true,
                grace: Duration::from_secs(1800),
            },
            GcPolicy {
                max_size: Some(1_000_000),
                orphans: false,
                ..GcPolicy::default()
            },
            GcPolicy {
                max_size: Some(50_000_000_000),
                ..GcPolicy::default()
            },
        ];
        for policy in policies {
            let dialog = GcDialog::from_policy(&policy);
            let mut expected = policy.clone();
            if !expected.orphans {
                // Without orphans, the grace says nothing.
                expected.grace = dialog.policy().grace;
            }
            assert_eq!(dialog.policy(), expected, "{dialog:?}");
        }
        let typed = GcDialog::from_policy(&GcPolicy {
            max_size: Some(50 << 30),
            max_age: Some(Duration::from_secs(86_400 * 14)),
            ..GcPolicy::default()
        });
        assert_eq!(typed.typed[4].as_deref(), Some("50GiB"));
        assert_eq!(typed.typed[3].as_deref(), Some("2w"));
        assert_eq!(typed.typed[0], None, "the choice 'all of it'");
        assert_eq!(typed.chosen[0], 1);
        let decimal = GcDialog::from_policy(&GcPolicy {
            max_size: Some(50_000_000_000),
            ..GcPolicy::default()
        });
        assert_eq!(decimal.typed[4].as_deref(), Some("50GB"));
    }

    /// A configured value the dialog cannot plan with (keep none) stops the plan at it,
    /// with why: planned without it, the plan would do what nobody asked.
    #[test]
    fn a_bad_configured_value_is_shown_not_skipped() {
        let mut app = crate::tui::app::App::new("/cache", chrono::Utc::now(), (80, 24));
        let dialog = GcDialog::from_policy(&GcPolicy {
            keep_last: Some(0),
            ..GcPolicy::default()
        });
        let mut fx = Vec::new();
        super::super::key(
            &mut app,
            Box::new(dialog),
            crate::tui::update::Action::Confirm,
            &mut fx,
        );
        assert!(fx.is_empty(), "nothing planned: {fx:?}");
        let Some(crate::tui::app::Popup::Gc(dialog)) = &app.popup else {
            panic!("no dialog");
        };
        assert_eq!(dialog.cursor, 2);
        let (input, why) = dialog.editing.as_ref().expect("the value, to mend");
        assert_eq!(input.value(), "0");
        assert!(
            why.as_deref()
                .unwrap_or("")
                .contains("no count of 1 or more"),
            "{why:?}"
        );
    }
}
