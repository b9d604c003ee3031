//! A filter's text as words, for editing it: what stands between spaces, a quoted value
//! with its spaces and escapes (`label="a b \"c\""`) as one. Read as the lexer reads
//! quotes (see [`super::lex`]), also where the text does not parse yet (a quote still
//! open runs to the end), so that an editor and the parser never disagree on what is
//! quoted.

use super::lex::ends_word;

/// One word of a filter's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Where it starts and ends, in characters.
    pub start: usize,
    pub end: usize,
    /// Whether it holds a `|` outside quotes (an `or`).
    pub bar: bool,
}

/// The words of `text`: a space, a `|` or a term inside quotes is the value's, not the
/// filter's.
pub fn words(text: &str) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
    let (mut quote, mut escaped, mut after_space) = (None, false, true);
    let mut prev: Option<char> = None;
    for (i, c) in text.chars().enumerate() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
        } else if c.is_whitespace() {
            after_space = true;
            prev = Some(c);
            continue;
        } else {
            if after_space {
                words.push(Word {
                    start: i,
                    end: i,
                    bar: false,
                });
                after_space = false;
            }
            // A quote opens where a token starts: at the start, or after what ends a
            // word (an operator, a parenthesis). Inside a word (`uri~it's`) it is text.
            if (c == '"' || c == '\'') && prev.is_none_or(ends_word) {
                quote = Some(c);
            }
        }
        if let Some(w) = words.last_mut() {
            w.end = i + 1;
            w.bar |= c == '|' && quote.is_none();
        }
        prev = Some(c);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of each word.
    fn texts(text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        (words(text).iter())
            .map(|w| chars[w.start..w.end].iter().collect())
            .collect()
    }

    #[test]
    fn quoted_values_are_one_word_as_the_lexer_reads_them() {
        assert_eq!(texts("status:ready  size>1"), ["status:ready", "size>1"]);
        assert_eq!(
            texts(r#"label="a status:ready b" x"#),
            [r#"label="a status:ready b""#, "x"]
        );
        assert_eq!(texts(r#"label='x \' y' z"#), [r#"label='x \' y'"#, "z"]);
        // An apostrophe inside a word is no quote.
        assert_eq!(texts("uri~it's | id=2"), ["uri~it's", "|", "id=2"]);
        // After a parenthesis a quote opens, as the lexer opens one there.
        assert_eq!(texts(r#"(a)"b c" d"#), [r#"(a)"b c""#, "d"]);
        // One still open runs to the end.
        assert_eq!(texts(r#"x label="a b"#), ["x", r#"label="a b"#]);
        let bars: Vec<bool> = words(r#"a|b 'c|d'"#).iter().map(|w| w.bar).collect();
        assert_eq!(bars, [true, false]);
        assert!(words("").is_empty());
    }
}
