//! GitHub's filter patterns, for branches, tags and paths alike: in
//! workflow triggers, environments' branch policies, protected branches
//! and the files a step names. Pure.

/// GitHub's filter patterns: `*` matches within a path segment, `**` across.
/// Matched in one pass over the pattern (time pattern × text, no recursion),
/// so a hostile pattern costs no more than its length.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    // can[j]: the pattern read so far matches the first j bytes of the text.
    let mut can = vec![false; t.len() + 1];
    can[0] = true;
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'*' && p.get(i + 1) == Some(&b'*') {
            // `**`: anything at all after a place that matched.
            let mut any = false;
            for c in can.iter_mut() {
                any |= *c;
                *c = any;
            }
            i += 2;
        } else if p[i] == b'*' {
            // `*`: anything without a `/`.
            for j in 1..=t.len() {
                can[j] = can[j] || (can[j - 1] && t[j - 1] != b'/');
            }
            i += 1;
        } else {
            for j in (1..=t.len()).rev() {
                can[j] = can[j - 1] && t[j - 1] == p[i];
            }
            can[0] = false;
            i += 1;
        }
        if !can.contains(&true) {
            return false;
        }
    }
    can[t.len()]
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_match_within_a_segment_and_across() {
        assert!(matches("main", "main"));
        assert!(matches("release/*", "release/2.x"));
        assert!(!matches("release/*", "release/2.x/rc"));
        assert!(matches("release/**", "release/2.x/rc"));
        assert!(matches("v*", "v1.0"));
        assert!(!matches("main", "main2"));
    }

    #[test]
    fn a_hostile_pattern_costs_no_more_than_its_length() {
        // A long pattern neither recurses nor backtracks for ever.
        assert!(!matches(&"*a".repeat(50_000), &"a".repeat(200)));
        assert!(matches(&"a".repeat(5_000), &"a".repeat(5_000)));
    }
}
