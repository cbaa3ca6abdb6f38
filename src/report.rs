//! What a job reports that the forge keeps: annotations (`::error::`,
//! `::warning::`, `::notice::`) and test reports (`uses: hearth/test-report`:
//! JUnit XML files read with junit-parser into totals and failures). Plain
//! values and pure reading, below the database that stores them and the
//! job contract that carries them. Bounded: JUnit files are read up to
//! `MAX_FILE_BYTES`, failures kept up to `MAX_FAILURES` with their text cut
//! at `MAX_TEXT_BYTES`; a job keeps `MAX_ANNOTATIONS` of each level.

use serde::Serialize;

/// An annotation: a message about the run, shown on its page, maybe
/// about a line of a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    /// `error`, `warning` or `notice`.
    pub level: &'static str,
    pub message: String,
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub end_line: Option<u32>,
    pub col: Option<u32>,
    pub end_col: Option<u32>,
}

/// Annotations a job may make; more are dropped, as GitHub does (10 errors,
/// 10 warnings per step there; here per job, of each level).
pub const MAX_ANNOTATIONS: usize = 50;

/// A JUnit file larger than this is not read.
pub const MAX_FILE_BYTES: u64 = 10 << 20;
/// Failures kept per report (the totals count them all).
pub const MAX_FAILURES: usize = 200;
/// Bytes kept of a failure's message and of its output.
pub const MAX_TEXT_BYTES: usize = 4 << 10;

/// What kind of tests a report holds.
pub const KINDS: [&str; 3] = ["unit", "functional", "security"];

/// A test that failed or erred.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Failed {
    pub name: String,
    pub classname: String,
    pub message: String,
    pub output: String,
    /// An error (the test could not run), not a failed assertion.
    pub error: bool,
}

/// Totals over one or more JUnit files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub duration_ms: u64,
    pub failed: Vec<Failed>,
}

impl Summary {
    /// Adds the test cases of JUnit XML `bytes`; a file that is not JUnit
    /// XML is an error saying why, and changes nothing.
    pub fn add(&mut self, bytes: &[u8]) -> Result<(), String> {
        let suites = junit_parser::from_reader(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
        let mut more = Summary::default();
        let mut stack: Vec<&junit_parser::TestSuite> = suites.suites.iter().collect();
        while let Some(suite) = stack.pop() {
            stack.extend(suite.suites.iter());
            for case in &suite.cases {
                more.tests += 1;
                more.duration_ms += (case.time.max(0.0) * 1000.0) as u64;
                let (error, message, text) = match &case.status {
                    junit_parser::TestStatus::Success => continue,
                    junit_parser::TestStatus::Skipped(_) => {
                        more.skipped += 1;
                        continue;
                    }
                    junit_parser::TestStatus::Failure(f) => (false, &f.message, &f.text),
                    junit_parser::TestStatus::Error(e) => (true, &e.message, &e.text),
                };
                if error {
                    more.errors += 1;
                } else {
                    more.failures += 1;
                }
                if self.failed.len() + more.failed.len() < MAX_FAILURES {
                    let output = if text.trim().is_empty() {
                        case.system_out.clone().unwrap_or_default()
                    } else {
                        text.clone()
                    };
                    more.failed.push(Failed {
                        name: cut(&case.original_name),
                        classname: cut(case.classname.as_deref().unwrap_or("")),
                        message: cut(message),
                        output: cut(&output),
                        error,
                    });
                }
            }
        }
        self.tests += more.tests;
        self.failures += more.failures;
        self.errors += more.errors;
        self.skipped += more.skipped;
        self.duration_ms += more.duration_ms;
        self.failed.extend(more.failed);
        Ok(())
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT_BYTES {
        return text.to_string();
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTEST: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="4" time="0.5">
<testcase classname="tests.test_login" name="test_ok" time="0.1"/>
<testcase classname="tests.test_login" name="test_button_colour" time="0.2"><failure message="assert 'blue' == 'green'">AssertionError: blue is not green</failure></testcase>
<testcase classname="tests.test_login" name="test_later" time="0"><skipped message="not yet"/></testcase>
<testsuite name="nested"><testcase classname="n" name="test_boom" time="0.1"><error message="boom"/></testcase></testsuite>
</testsuite></testsuites>"#;

    #[test]
    fn totals_and_failures_of_nested_suites() {
        let mut s = Summary::default();
        s.add(PYTEST.as_bytes()).unwrap();
        assert_eq!((s.tests, s.failures, s.errors, s.skipped), (4, 1, 1, 1));
        assert_eq!(s.duration_ms, 400);
        assert_eq!(s.failed.len(), 2);
        let f = s.failed.iter().find(|f| !f.error).unwrap();
        assert_eq!(f.name, "test_button_colour");
        assert_eq!(f.message, "assert 'blue' == 'green'");
        assert!(f.output.contains("blue is not green"));
        s.add(PYTEST.as_bytes()).unwrap();
        assert_eq!(s.tests, 8, "files add up");
    }

    #[test]
    fn not_junit_is_an_error_and_changes_nothing() {
        let mut s = Summary::default();
        assert!(s.add(b"<testsuite><testcase name=").is_err());
        assert_eq!(s, Summary::default());
        let long = "x".repeat(MAX_TEXT_BYTES * 3);
        assert!(cut(&long).len() <= MAX_TEXT_BYTES + 3);
    }
}
