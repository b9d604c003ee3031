//! The filter lexer. It is modal: after a comparison operator it reads *values*, in which
//! `:`, `=`, `!`, `<` … are plain characters (`when>2026-01-01T10:00:00Z`), and which end
//! at white space, `(`, `)`, `|` or `,`.

use crate::error::{Error, Result};

/// Byte range of a token in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `:` — equality, or prefix/membership for `key:` `has:` `status:`.
    Colon,
    /// `=` (also `==`)
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `~` — substring, or glob when the value has `*` or `?`.
    Match,
    /// `!~`
    NotMatch,
}

impl Op {
    /// The operator as typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Colon => ":",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Match => "~",
            Op::NotMatch => "!~",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare word outside a value: a field name, keyword or search word.
    Word(String),
    /// A quoted string outside a value: a search phrase.
    Str(String),
    /// A value after an operator; `quoted` when it was written in quotes.
    Value {
        text: String,
        quoted: bool,
    },
    Op(Op),
    LParen,
    RParen,
    Pipe,
    Bang,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// The error for `input` at byte offset `at`.
pub(crate) fn error_at(input: &str, at: usize, message: impl Into<String>) -> Error {
    Error::Filter {
        input: input.to_string(),
        pos: char_pos(input, at),
        message: message.into(),
    }
}

/// The character position of byte offset `at` in `input` (where a caret goes).
pub(crate) fn char_pos(input: &str, at: usize) -> usize {
    let at = at.min(input.len());
    input.char_indices().take_while(|(i, _)| *i < at).count()
}

/// Whether `c` ends a word: what follows it starts a token of its own.
pub(super) fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '|' | '!' | '=' | ':' | '~' | '<' | '>' | ',')
}

fn ends_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '|' | ',')
}

/// Splits `input` into tokens.
pub(crate) fn lex(input: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    let mut value_mode = false;
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if value_mode {
            value_mode = false;
            if ends_value(c) {
                // An empty value: the parser says what was expected.
                continue;
            }
            let (text, quoted, end) = if c == '"' || c == '\'' {
                let (text, end) = quoted(input, &mut chars)?;
                (text, true, end)
            } else {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if ends_value(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                (input[start..end].to_string(), false, end)
            };
            out.push(Token {
                tok: Tok::Value { text, quoted },
                span: Span { start, end },
            });
            if let Some(&(i, ',')) = chars.peek() {
                chars.next();
                out.push(Token {
                    tok: Tok::Comma,
                    span: Span {
                        start: i,
                        end: i + 1,
                    },
                });
                value_mode = true;
            }
            continue;
        }
        chars.next();
        let next = chars.peek().map(|&(_, c)| c);
        let mut two = |tok: Tok| {
            chars.next();
            (tok, start + 2)
        };
        let (tok, end) = match c {
            '(' => (Tok::LParen, start + 1),
            ')' => (Tok::RParen, start + 1),
            ',' => (Tok::Comma, start + 1),
            '|' if next == Some('|') => two(Tok::Pipe),
            '|' => (Tok::Pipe, start + 1),
            '!' if next == Some('=') => two(Tok::Op(Op::Ne)),
            '!' if next == Some('~') => two(Tok::Op(Op::NotMatch)),
            '!' => (Tok::Bang, start + 1),
            '=' if next == Some('=') => two(Tok::Op(Op::Eq)),
            '=' => (Tok::Op(Op::Eq), start + 1),
            ':' => (Tok::Op(Op::Colon), start + 1),
            '~' => (Tok::Op(Op::Match), start + 1),
            '<' if next == Some('=') => two(Tok::Op(Op::Le)),
            '<' => (Tok::Op(Op::Lt), start + 1),
            '>' if next == Some('=') => two(Tok::Op(Op::Ge)),
            '>' => (Tok::Op(Op::Gt), start + 1),
            '"' | '\'' => {
                let (text, end) = quoted_from(input, start, c, &mut chars)?;
                (Tok::Str(text), end)
            }
            _ => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if ends_word(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                (Tok::Word(input[start..end].to_string()), end)
            }
        };
        value_mode = matches!(tok, Tok::Op(_));
        out.push(Token {
            tok,
            span: Span { start, end },
        });
    }
    Ok(out)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn quoted(input: &str, chars: &mut Chars<'_>) -> Result<(String, usize)> {
    match chars.next() {
        Some((start, q)) => quoted_from(input, start, q, chars),
        None => Err(error_at(input, input.len(), "expected a value")),
    }
}

/// Reads a quoted string whose opening quote `q` at `start` was consumed. `\` escapes the
/// next character.
fn quoted_from(
    input: &str,
    start: usize,
    q: char,
    chars: &mut Chars<'_>,
) -> Result<(String, usize)> {
    let mut text = String::new();
    while let Some((i, c)) = chars.next() {
        if c == q {
            return Ok((text, i + 1));
        }
        if c == '\\' {
            match chars.next() {
                Some((_, e)) => text.push(e),
                None => break,
            }
        } else {
            text.push(c);
        }
    }
    Err(error_at(
        input,
        start,
        format!("unterminated quote: expected a closing {q}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn val(s: &str) -> Tok {
        Tok::Value {
            text: s.into(),
            quoted: false,
        }
    }

    #[test]
    fn values_keep_operator_characters() {
        assert_eq!(
            toks("when>2026-01-01T10:00:00Z"),
            [
                Tok::Word("when".into()),
                Tok::Op(Op::Gt),
                val("2026-01-01T10:00:00Z")
            ]
        );
        assert_eq!(
            toks("status:ready,write (a!=b)"),
            [
                Tok::Word("status".into()),
                Tok::Op(Op::Colon),
                val("ready"),
                Tok::Comma,
                val("write"),
                Tok::LParen,
                Tok::Word("a".into()),
                Tok::Op(Op::Ne),
                val("b"),
                Tok::RParen
            ]
        );
        assert_eq!(
            toks("label = \"a b\\\"c\" !x"),
            [
                Tok::Word("label".into()),
                Tok::Op(Op::Eq),
                Tok::Value {
                    text: "a b\"c".into(),
                    quoted: true
                },
                Tok::Bang,
                Tok::Word("x".into())
            ]
        );
    }

    #[test]
    fn unterminated_quote_points_at_it() {
        match lex("a 'bc") {
            Err(Error::Filter { pos, .. }) => assert_eq!(pos, 2),
            other => panic!("{other:?}"),
        }
    }
}
