//! The Markdown renderer: any text renders, and what comes out has no
//! script element and no `javascript:` link or source.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let links = hearth::markup::Links {
        blob_dir: "/alice/demo/blob/main/docs".into(),
        raw_dir: "/alice/demo/raw/main/docs".into(),
    };
    let html = hearth::markup::markdown(text, Some(&links));
    // Text has every `<` escaped, so each `<` that is left opens a tag.
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("").to_ascii_lowercase();
        assert!(!tag.starts_with("script"), "a script element in {html:?}");
        for attr in ["href=\"javascript:", "src=\"javascript:"] {
            assert!(!tag.contains(attr), "a javascript: URL in {html:?}");
        }
    }
});
