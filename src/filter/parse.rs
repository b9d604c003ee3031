//! The filter parser: tokens to [`Node`]s. Built-in values are checked here; attribute
//! values wait for the registry's catalogue.
//!
//! ```text
//! filter  := or?
//! or      := and (("|" | "or") and)*
//! and     := unary ("and"? unary)*
//! unary   := ("!" | "not") unary | "(" or ")" | term
//! term    := NAME OP value ("," value)* | WORD | "quoted phrase"
//! OP      := ":" | "=" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "!~"
//! ```

use super::ast::{Col, ColKind, ColVal, Node, Raw, Scope, StatusSel, Term};
use super::lex::{Op, Span, Tok, Token, error_at, lex};
use super::value::{TimeVal, parse_bool, parse_size, parse_time, search_pattern};
use crate::attr::validate_name;
use crate::error::{Error, Result};
use crate::status::Status;

/// Parses `input`; the empty filter matches everything.
pub(crate) fn parse(input: &str) -> Result<Node> {
    let tokens = lex(input)?;
    let mut p = Parser {
        input,
        tokens,
        at: 0,
        depth: 0,
    };
    let node = if p.peek().is_none() {
        Node::And(Vec::new())
    } else {
        p.or()?
    };
    match p.tokens.get(p.at) {
        None => Ok(node),
        Some(t) if t.tok == Tok::RParen => Err(p.err(t.span, "unmatched ')'")),
        Some(t) => Err(p.err(
            t.span,
            format!("expected a filter term, found {}", describe(&t.tok)),
        )),
    }
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("'{w}'"),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Value { text, .. } => format!("'{text}'"),
        Tok::Op(op) => format!("'{}'", op.as_str()),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Pipe => "'|'".into(),
        Tok::Bang => "'!'".into(),
        Tok::Comma => "','".into(),
    }
}

fn keyword(tok: &Tok, kw: &str) -> bool {
    matches!(tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|t| &t.tok)
    }

    fn peek2(&self) -> Option<&Tok> {
        self.tokens.get(self.at + 1).map(|t| &t.tok)
    }

    fn span(&self) -> Span {
        match self.tokens.get(self.at) {
            Some(t) => t.span,
            None => Span {
                start: self.input.len(),
                end: self.input.len(),
            },
        }
    }

    fn err(&self, span: Span, message: impl Into<String>) -> Error {
        error_at(self.input, span.start, message)
    }

    /// The LIKE pattern of a search for `text`, or an error where it is.
    fn search(&self, text: &str, span: Span) -> Result<String> {
        search_pattern(text).map_err(|m| self.err(span, m))
    }

    /// Whether the next token is the keyword `kw` (a word not followed by an operator, so
    /// that an attribute called `or` can still be compared).
    fn at_keyword(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| keyword(t, kw)) && !matches!(self.peek2(), Some(Tok::Op(_)))
    }

    fn or(&mut self) -> Result<Node> {
        let mut parts = vec![self.and()?];
        while matches!(self.peek(), Some(Tok::Pipe)) || self.at_keyword("or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Node> {
        let mut parts = vec![self.unary()?];
        loop {
            if self.at_keyword("and") {
                self.at += 1;
                parts.push(self.unary()?);
                continue;
            }
            match self.peek() {
                None | Some(Tok::RParen) | Some(Tok::Pipe) => break,
                Some(_) if self.at_keyword("or") => break,
                Some(_) => parts.push(self.unary()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Node> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(self.span(), "filter is nested too deeply"));
        }
        self.depth += 1;
        let node = self.unary_inner();
        self.depth -= 1;
        node
    }

    fn unary_inner(&mut self) -> Result<Node> {
        let span = self.span();
        if matches!(self.peek(), Some(Tok::Bang)) || self.at_keyword("not") {
            self.at += 1;
            return Ok(Node::Not(Box::new(self.unary()?)));
        }
        let Some(tok) = self.peek().cloned() else {
            return Err(self.err(span, "expected a filter term, found the end"));
        };
        self.at += 1;
        match tok {
            Tok::LParen => {
                let inner = self.or()?;
                if matches!(self.peek(), Some(Tok::RParen)) {
                    self.at += 1;
                    Ok(inner)
                } else {
                    let here = self.span();
                    let col = self.input[..span.start].chars().count() + 1;
                    let found = match self.peek() {
                        Some(t) => describe(t),
                        None => "the end".into(),
                    };
                    Err(self.err(
                        here,
                        format!("expected ')' to close the '(' at column {col}, found {found}"),
                    ))
                }
            }
            Tok::Str(s) => Ok(Node::Term(Term::Search(self.search(&s, span)?))),
            Tok::Word(w) => {
                if let Some(Tok::Op(op)) = self.peek().cloned() {
                    let op_span = self.span();
                    self.at += 1;
                    self.comparison(&w, span, op, op_span)
                } else if w.eq_ignore_ascii_case("pinned") {
                    Ok(Node::Term(Term::Col {
                        col: Col::Pinned,
                        op: Op::Eq,
                        val: ColVal::Int(1),
                    }))
                } else {
                    Ok(Node::Term(Term::Search(self.search(&w, span)?)))
                }
            }
            other => Err(self.err(
                span,
                format!(
                    "expected a filter term (a word, name=value, '!' or '('), found {}",
                    describe(&other)
                ),
            )),
        }
    }

    /// `name OP v1,v2,…`: several values mean any of them for `=` `:` `~`, none of them
    /// for `!=` `!~`.
    fn comparison(&mut self, name: &str, name_span: Span, op: Op, op_span: Span) -> Result<Node> {
        let mut values = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Tok::Value { text, .. }) => {
                    values.push(Raw {
                        text,
                        span: self.span(),
                    });
                    self.at += 1;
                }
                _ => {
                    let at = if values.is_empty() {
                        Span {
                            start: op_span.end,
                            end: op_span.end,
                        }
                    } else {
                        self.span()
                    };
                    let after = if values.is_empty() { op.as_str() } else { "," };
                    return Err(self.err(at, format!("expected a value after '{after}'")));
                }
            }
            if matches!(self.peek(), Some(Tok::Comma)) {
                self.at += 1;
            } else {
                break;
            }
        }
        if values.len() > 1 && !matches!(op, Op::Colon | Op::Eq | Op::Ne | Op::Match | Op::NotMatch)
        {
            return Err(self.err(
                values[1].span,
                format!(
                    "a list of values works with = : != ~ !~, not with {}",
                    op.as_str()
                ),
            ));
        }
        let negative = matches!(op, Op::Ne | Op::NotMatch);
        let mut terms = Vec::with_capacity(values.len());
        for raw in values {
            terms.push(self.term(name, name_span, op, raw)?);
        }
        Ok(match (terms.len(), negative) {
            (1, _) => terms.remove(0),
            (_, false) => Node::Or(terms),
            (_, true) => Node::And(terms),
        })
    }

    fn term(&self, name: &str, name_span: Span, op: Op, raw: Raw) -> Result<Node> {
        let lower = name.to_ascii_lowercase();
        let eq_like = |this: &Self| -> Result<bool> {
            match op {
                Op::Colon | Op::Eq => Ok(false),
                Op::Ne => Ok(true),
                _ => Err(this.err(
                    name_span,
                    format!("{name} takes = : or !=, not {}", op.as_str()),
                )),
            }
        };
        let term = match lower.as_str() {
            "status" | "is" => {
                let neg = eq_like(self)?;
                let sel = match raw.text.to_ascii_lowercase().as_str() {
                    "stale" => StatusSel::Stale,
                    s => StatusSel::Is(s.parse::<Status>().map_err(|_| {
                        self.err(
                            raw.span,
                            format!(
                                "expected a status (ready, write, failed, trash, uninitialized, stale), got '{}'",
                                raw.text
                            ),
                        )
                    })?),
                };
                return Ok(negate(neg, Node::Term(Term::Status(sel))));
            }
            "has" => {
                let neg = eq_like(self)?;
                let t = match Col::from_name(&raw.text) {
                    Some(col) if col.nullable() => Term::NotNull(col),
                    Some(_) => Term::Col {
                        col: Col::Id,
                        op: Op::Ge,
                        val: ColVal::Int(i64::MIN),
                    },
                    None => {
                        let (scope, n) = self.attr_name(&raw.text, raw.span)?;
                        Term::Has {
                            scope,
                            name: n,
                            name_at: raw.span.start,
                        }
                    }
                };
                return Ok(negate(neg, Node::Term(t)));
            }
            "version" if raw.text.eq_ignore_ascii_case("latest") => {
                return Ok(negate(eq_like(self)?, Node::Term(Term::Latest)));
            }
            _ => match Col::from_name(name) {
                Some(col) => self.col_term(col, op, &raw)?,
                None => {
                    let (scope, name) = self.attr_name(name, name_span)?;
                    let op = if op == Op::Colon { Op::Eq } else { op };
                    Term::Attr {
                        scope,
                        name,
                        name_at: name_span.start,
                        op,
                        raw,
                    }
                }
            },
        };
        Ok(Node::Term(term))
    }

    /// `attr.x` → attribute x, `param.x` → param x, `x` → attribute x.
    fn attr_name(&self, name: &str, span: Span) -> Result<(Scope, String)> {
        let (scope, bare) = if let Some(rest) = name.strip_prefix("param.") {
            (Scope::Param, rest)
        } else if let Some(rest) = name.strip_prefix("attr.") {
            (Scope::Attr, rest)
        } else {
            (Scope::Attr, name)
        };
        validate_name(bare).map_err(|_| {
            self.err(
                span,
                format!("'{name}' is not a field or attribute name (letters, digits, _ - . /)"),
            )
        })?;
        Ok((scope, bare.to_string()))
    }

    fn col_term(&self, col: Col, op: Op, raw: &Raw) -> Result<Term> {
        let name = col.name();
        let bad = |expected: &str| {
            self.err(
                raw.span,
                format!("{name} is {expected}, got '{}'", raw.text),
            )
        };
        let text = raw.text.as_str();
        let op = if op == Op::Colon { Op::Eq } else { op };
        if matches!(op, Op::Match | Op::NotMatch) {
            if col.kind() != ColKind::Text && col.kind() != ColKind::Hex {
                return Err(self.err(
                    raw.span,
                    format!(
                        "{name} is not text: '~' works on uri, label, filename, note, key, sha256"
                    ),
                ));
            }
            let val = ColVal::Like(self.search(text, raw.span)?);
            return Ok(Term::Col { col, op, val });
        }
        let val = match col.kind() {
            ColKind::Int => ColVal::Int(text.parse().map_err(|_| bad("a whole number"))?),
            ColKind::Size => {
                ColVal::Int(parse_size(text).ok_or_else(|| bad("a size like 512, 10MB or 2GiB"))?)
            }
            ColKind::Text => ColVal::Text(text.to_string()),
            ColKind::Hex => {
                let lower = text.to_ascii_lowercase();
                if lower.is_empty() || !lower.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad("a hex prefix"));
                }
                if !matches!(op, Op::Eq | Op::Ne) {
                    return Err(self.err(raw.span, format!("{name} takes : = or != (a prefix)")));
                }
                ColVal::Prefix(lower)
            }
            ColKind::TimeMs => {
                let t = parse_time(text).ok_or_else(|| bad(TIME_EXPECTED))?;
                if matches!(t, TimeVal::Age(_)) && matches!(op, Op::Eq | Op::Ne) {
                    return Err(self.err(raw.span, AGE_NEEDS_ORDER));
                }
                ColVal::Time(t)
            }
            ColKind::Bool => ColVal::Int(i64::from(
                parse_bool(text).ok_or_else(|| bad("true or false"))?,
            )),
            // `status` is handled before columns are looked up.
            ColKind::Status => return Err(bad("a status")),
        };
        Ok(Term::Col { col, op, val })
    }
}

pub(crate) const TIME_EXPECTED: &str =
    "an age like 7d, 12h, 30m or a date like 2026-01-01 or 2026-01-01T12:00:00Z";

pub(crate) const AGE_NEEDS_ORDER: &str =
    "an age compares with < <= > >= (created<7d: less than 7 days ago)";

fn negate(neg: bool, node: Node) -> Node {
    if neg { Node::Not(Box::new(node)) } else { node }
}
