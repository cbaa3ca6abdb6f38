//! The smart-HTTP request handling Hearth does itself: the `Git-Protocol`
//! header check and the reading of a push's command pkt-lines, which
//! must give back exactly the bytes it read for git.
#![no_main]

use tokio::io::AsyncReadExt;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data) {
        let _ = hearth::git::protocol::valid_protocol_header(header);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        if let Ok((names, mut rest)) =
            hearth::git::protocol::pushed_refs(std::io::Cursor::new(data.to_vec()), 1 << 16).await
        {
            let mut again = Vec::new();
            rest.read_to_end(&mut again).await.unwrap();
            assert_eq!(again, data, "the request reaches git unchanged");
            for n in names {
                let _ = hearth::git::protocol::refused_ref_name(&n);
            }
        }
    });
});
